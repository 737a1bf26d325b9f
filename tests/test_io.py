import pyarrow as pa
import pytest

from crystalbench.io import atomic_path, read_metadata, write_parquet


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_replaces_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_parquet_metadata_round_trip(tmp_path):
    path = tmp_path / "t.parquet"
    write_parquet(pa.table({"a": [1, 2]}), path, {"symprec": 1e-4, "nested": {"k": [1, 2]}})
    assert read_metadata(path) == {"symprec": 1e-4, "nested": {"k": [1, 2]}}
