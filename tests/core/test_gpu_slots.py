"""GPU slots: jobs spread over devices before sharing one; a slot frees when its holder ends."""

import subprocess
import sys
import textwrap

import pytest

from crystalbench.core import gpu_slots
from crystalbench.core.gpu_slots import claim_device, job_device, release_all


@pytest.fixture(autouse=True)
def _release():
    yield
    release_all()


def test_slots_go_device_by_device_then_second_slot(tmp_path):
    claims = [claim_device(3, 2, tmp_path) for _ in range(6)]
    assert claims == [0, 1, 2, 0, 1, 2]


def test_too_many_jobs_share_device_zero_with_a_warning(tmp_path, caplog):
    assert [claim_device(2, 1, tmp_path) for _ in range(2)] == [0, 1]
    assert claim_device(2, 1, tmp_path) == 0
    assert "all 2 GPU slots" in caplog.text and "--resources gpu=2" in caplog.text


def test_a_slot_is_free_again_when_its_process_ends(tmp_path):
    holder = textwrap.dedent(f"""
        from pathlib import Path
        from crystalbench.core.gpu_slots import claim_device
        print(claim_device(2, 1, Path({str(tmp_path)!r})), flush=True)
        input()  # hold the slot until stdin closes
    """)
    other = subprocess.Popen([sys.executable, "-c", holder], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert other.stdout.readline().strip() == "0"
    assert claim_device(2, 1, tmp_path) == 1  # device 0 is held by the other process
    release_all()
    other.communicate("")  # the other process ends: its lock goes with it
    assert claim_device(2, 1, tmp_path) == 0


def test_one_device_needs_no_lock(tmp_path):
    assert [claim_device(1, 1, tmp_path) for _ in range(3)] == [0, 0, 0]
    assert list(tmp_path.iterdir()) == []


def test_job_device_keeps_explicit_and_cpu_devices(monkeypatch):
    assert job_device("cpu", 4) == "cpu"
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr("torch.cuda.device_count", lambda: 2)
    monkeypatch.setattr(gpu_slots, "claim_device", lambda n, k: 1)
    assert job_device("cuda:0", 4) == "cuda:0"
    assert job_device("auto", 4) == job_device("cuda", 4) == "cuda:1"
