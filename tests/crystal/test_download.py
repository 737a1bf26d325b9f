import json
import shutil

import pytest
from conftest import require_data

from crystalbench.crystal import download
from crystalbench.crystal.download import HashMismatchError, expected_sha256, fetch_dataset, sha256


def test_verified_file_is_copied_with_its_record(tmp_path):
    source = require_data("matbench/matbench_phonons.json.gz")
    result = fetch_dataset("matbench_phonons", tmp_path / "out/p.json.gz", tmp_path / "p.json",
                           source.parent)
    assert result["verified"] and result["sha256"] == expected_sha256("matbench_phonons")
    assert sha256(tmp_path / "out/p.json.gz") == result["sha256"]
    assert json.loads((tmp_path / "p.json").read_text())["verified"] is True


def test_wrong_hash_stops_with_file_expected_and_actual(tmp_path):
    folder = tmp_path / "local"
    folder.mkdir()
    # a real MatBench file under the wrong task name: its hash cannot match
    shutil.copy(require_data("matbench/matbench_phonons.json.gz"),
                folder / "matbench_jdft2d.json.gz")
    with pytest.raises(HashMismatchError) as err:
        fetch_dataset("matbench_jdft2d", tmp_path / "j.json.gz", tmp_path / "j.json", folder)
    message = str(err.value)
    assert "matbench_jdft2d.json.gz" in message
    assert expected_sha256("matbench_jdft2d") in message
    assert sha256(folder / "matbench_jdft2d.json.gz") in message
    assert not (tmp_path / "j.json.gz").exists() and not (tmp_path / "j.json").exists()


def test_allowed_unverified_file_is_flagged(tmp_path):
    source = require_data("matbench/matbench_jdft2d.json.gz")  # rebuilt: hash differs
    result = fetch_dataset("matbench_jdft2d", tmp_path / "j.json.gz", tmp_path / "j.json",
                           source.parent, allow_unverified=True)
    assert result["verified"] is False
    assert result["expected_sha256"] == expected_sha256("matbench_jdft2d")


def test_network_errors_are_retried_and_nothing_else(tmp_path, monkeypatch):
    import matminer.datasets
    import requests

    calls = []

    def flaky(task, data_home, download_if_missing):
        calls.append(task)
        if len(calls) < 3:
            raise requests.ConnectionError("connection reset")
        (tmp_path / f"{task}.json.gz").write_bytes(b"x")

    monkeypatch.setattr(matminer.datasets, "load_dataset", flaky)
    monkeypatch.setattr(download, "RETRY_WAIT", 0.0)
    assert download.download_with_matminer("t", tmp_path) == tmp_path / "t.json.gz"
    assert len(calls) == 3

    def broken(task, data_home, download_if_missing):
        calls.append(task)
        raise ValueError("hash of the downloaded file does not match")

    calls.clear()
    monkeypatch.setattr(matminer.datasets, "load_dataset", broken)
    with pytest.raises(ValueError, match="does not match"):
        download.download_with_matminer("t", tmp_path)
    assert len(calls) == 1  # deterministic: not repeated
