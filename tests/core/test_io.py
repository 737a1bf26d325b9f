import json
import os
import stat
import subprocess
import sys
import time
from dataclasses import replace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crystalbench.core.io import atomic_path, read_metadata, write_parquet, write_text
from crystalbench.crystal.structures import Structure, read_structure_table, write_structure_table
from crystalbench.crystal.symmetry import write_symmetry_table


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


def test_outputs_get_the_mode_the_umask_gives(tmp_path):
    old = os.umask(0o002)  # a shared group folder on a cluster
    try:
        write_parquet(pa.table({"a": [1]}), tmp_path / "group.parquet")
        write_text(tmp_path / "group.txt", "x")
        os.umask(0o077)
        write_text(tmp_path / "private.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "group.parquet").stat().st_mode) == 0o664
    assert stat.S_IMODE((tmp_path / "group.txt").stat().st_mode) == 0o664
    assert stat.S_IMODE((tmp_path / "private.txt").stat().st_mode) == 0o600


def test_stale_temporaries_of_the_target_only_are_removed(tmp_path):
    target = tmp_path / "g.parquet"
    stale = tmp_path / ".g.parquet.ab12cd_9.tmp.parquet"
    other = tmp_path / ".h.parquet.ab12cd_9.tmp.parquet"  # another target's: left alone
    stale.write_text("half"), other.write_text("half")
    write_text(target, "done")
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, "g.parquet"]


def _copies(structures: list[Structure], n: int) -> list[Structure]:
    return [replace(s, id=f"{s.id}-{k}") for k in range(n) for s in structures]


def test_killed_graph_job_leaves_no_temp_after_rerun(tmp_path):
    """kill -9 during the graph step, rerun it: no temporary file, a complete table."""
    from crystalbench.crystal.demo import generate_demo_alloys

    structures = _copies(list(generate_demo_alloys(seed=0)), 8)
    write_structure_table(structures, tmp_path / "s.parquet", tmp_path / "r.parquet", {})
    write_symmetry_table(read_structure_table(tmp_path / "s.parquet"), tmp_path / "y.parquet")
    out = tmp_path / "g.parquet"
    command = [sys.executable, "-m", "crystalbench", "graphs", "--structures",
               str(tmp_path / "s.parquet"), "--symmetry", str(tmp_path / "y.parquet"),
               "--out", str(out), "--dataset", "d", "--name", "v", "--spec",
               json.dumps({"representation": "cell", "edges": "voronoi", "min_area": 0.0,
                           "line_graph": True})]
    job = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".g.parquet.*")) and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.3)  # mid-write: row groups are being added
    job.kill()
    job.wait()
    assert list(tmp_path.glob(".g.parquet.*")), "the kill came too late to test anything"
    assert not out.exists()
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
    assert not list(tmp_path.glob(".g.parquet.*"))
    assert pq.read_metadata(out).num_rows == len(structures)
