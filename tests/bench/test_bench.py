"""crystalbench-bench epochs: both data paths timed side by side on a small real dataset."""

import gzip
import json

from conftest import require_data

from crystalbench_bench.bench import bench_epochs


def test_epochs_prints_old_and_new_path_for_both_representations(tmp_path, capsys):
    full = json.loads(gzip.open(require_data("matbench/matbench_jdft2d.json.gz"), "rt").read())
    small = {"index": full["index"][:12], "columns": full["columns"], "data": full["data"][:12]}
    with gzip.open(tmp_path / "matbench_jdft2d.json.gz", "wt") as handle:
        json.dump(small, handle)
    bench_epochs(str(tmp_path), epochs=1, batch_size=4, threads=1, device="cpu")
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[1]: line.split() for line in lines if line.startswith("matbench_")}
    assert set(rows) == {"cell", "asu"}
    for row in rows.values():
        edges, collate_ms, gather_ms, old_s, new_s = map(float, row[2:7])
        assert edges > 0 and min(collate_ms, gather_ms, old_s, new_s) > 0
        assert row[7].endswith("x") and float(row[7][:-1]) > 0
    assert int(rows["cell"][2]) > int(rows["asu"][2])  # the ASU keeps fewer edges
    assert "cell/asu epoch time on the new path" in lines[-1]
