"""crystalbench-bench epochs and numerics: data paths and execution settings timed side by
side on a small real dataset, and the GPU check script that runs both."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import require_data

from crystalbench_bench.bench import EPOCH_MODELS, bench_epochs
from crystalbench_bench.bench_numerics import SETTINGS, bench_numerics


def test_epoch_models_are_the_reference_configs():
    config = yaml.safe_load(open("config/config.yaml"))
    graph_of = {"cogn": "asu-knn24", "congn": "asu-voronoi"}
    for name, (params, edges) in EPOCH_MODELS.items():
        assert params == config["models"][name]["params"]
        assert {"representation": "asu"} | edges == config["graphs"][graph_of[name]]


def small_matbench(folder, task, n):
    """The first ``n`` structures of a real MatBench task, in the official format."""
    full = json.loads(gzip.open(require_data(f"matbench/{task}.json.gz"), "rt").read())
    small = {"index": full["index"][:n], "columns": full["columns"], "data": full["data"][:n]}
    with gzip.open(folder / f"{task}.json.gz", "wt") as handle:
        json.dump(small, handle)


def test_epochs_prints_old_and_new_path_for_both_models_and_representations(tmp_path, capsys):
    small_matbench(tmp_path, "matbench_jdft2d", 8)
    bench_epochs(str(tmp_path), epochs=1, batch_size=4, threads=1, device="cpu",
                 models=("cogn", "congn"))
    lines = capsys.readouterr().out.splitlines()
    rows = {tuple(line.split()[1:3]): line.split() for line in lines
            if line.startswith("matbench_")}
    assert set(rows) == {(m, r) for m in ("cogn", "congn") for r in ("cell", "asu")}
    for (model, _), row in rows.items():
        edges, pairs = int(row[3]), int(row[4])
        assert edges > 0 and (pairs > 0) == (model == "congn")  # angle pairs for coNGN only
        collate_ms, gather_ms, old_s, new_s = map(float, row[5:9])
        assert min(collate_ms, gather_ms, old_s, new_s) > 0
        assert row[9].endswith("x") and float(row[10]) > 0  # ratio, steps/s
        assert float(row[11]) > 0 and row[13] == "-"  # bytes per structure; no GPU peak
    for model in ("cogn", "congn"):  # the ASU keeps fewer edges than the cell
        assert int(rows[(model, "cell")][3]) > int(rows[(model, "asu")][3])
    assert sum("cell/asu epoch time on the new path" in line for line in lines) == 2


def test_numerics_times_every_setting_the_cpu_honours_against_float32(tmp_path, capsys):
    small_matbench(tmp_path, "matbench_jdft2d", 8)
    bench_numerics(str(tmp_path), epochs=1, batch_size=4, threads=1, device="cpu",
                   models=("cogn",))
    rows = {line.split()[2]: line.split() for line in capsys.readouterr().out.splitlines()
            if line.startswith("matbench_jdft2d")}
    assert list(rows) == [label for label, _ in SETTINGS]
    for label in ("tf32", "float16", "tf32+bf16+fused", "deterministic"):
        assert rows[label][3:] == ["not", "on", "cpu"]  # CUDA-only (or always on for CPU)
    assert rows["float32"][4:7] == ["1.00x", "0.0e+00", "0.0e+00"]
    for label in ("bfloat16", "fused_adam"):
        seconds, ratio, output_dev, loss_dev = rows[label][3:7]
        assert float(seconds) > 0 and ratio.endswith("x")
        assert float(loss_dev) > 0  # the setting changed the numbers, a little
    assert 1e-4 < float(rows["bfloat16"][5]) < 0.1  # bfloat16 keeps about 3 digits
    assert float(rows["fused_adam"][5]) == 0  # same forward pass before any step


def test_gpu_check_script_runs_end_to_end_on_cpu(tmp_path):
    small_matbench(tmp_path, "matbench_phonons", 6)
    result = subprocess.run(
        ["bash", "benchmarks/gpu_check.sh", "--device", "cpu", "--epochs", "1",
         "--batch-size", "4", "--threads", "1", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, env=os.environ | {
            "CRYSTALBENCH_NO_INSTALL": "1",  # this environment: its python and commands
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()
            if line.startswith("matbench_phonons")]
    assert {(row[1], row[2]) for row in rows if row[2] in ("cell", "asu")} == {
        (m, r) for m in ("cogn", "congn") for r in ("cell", "asu")}
    assert "CUDA available" in result.stdout
    settings = [row[2] for row in rows if len(row) > 3 and row[2] in dict(SETTINGS)]
    assert settings == [label for label, _ in SETTINGS] * 2  # coGN and coNGN
