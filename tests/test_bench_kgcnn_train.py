"""bench-kgcnn-train's bookkeeping (the training itself needs kgcnn's TensorFlow venv):
per-seed results averaged per row, and kgcnn's row numbers mapped to MatBench ids."""

import json
import statistics

import pytest

from crystalbench.bench_kgcnn_train import (
    Run,
    format_table,
    gap_decomposition,
    summary_rows,
)


def write_run(out, variant, seed, test_mae, predictions):
    path = Run(variant, 0, seed, 200).path(out, "matbench_jdft2d")
    path.parent.mkdir(parents=True, exist_ok=True)
    result = {"test_mae": test_mae, "train_mae": 1.0, "seconds_per_epoch": 2.0,
              "seed": seed, "train_loss": [1.0, 0.5], "test_predictions": predictions}
    if variant == "kgcnn":
        result["test_rows"] = [0, 9]  # rows 0 and 9: mb-jdft2d-001 and mb-jdft2d-010
    else:
        result["test_ids"] = ["mb-jdft2d-001", "mb-jdft2d-010"]
    path.write_text(json.dumps(result))


def test_rows_average_seeds_and_gaps_use_matbench_ids(tmp_path):
    for seed, (theirs, ours) in enumerate([(10.0, 9.0), (12.0, 11.0)]):
        write_run(tmp_path, "kgcnn", seed, theirs, [1.0, 30.0])
        write_run(tmp_path, "ours", seed, ours, [1.0, 20.0])
    rows = {r["variant"]: r for r in summary_rows(tmp_path, "matbench_jdft2d")}
    assert rows["kgcnn"]["test_mae"] == 11.0
    assert rows["ours"]["test_mae_std"] == pytest.approx(statistics.stdev([9.0, 11.0]))
    assert rows["ours"]["seeds"] == [0, 1]
    table = format_table(list(rows.values()), "meV/atom")
    assert "0.909" in table  # ours / kgcnn test MAE: 10 / 11
    targets = {"mb-jdft2d-001": 1.0, "mb-jdft2d-010": 10.0}
    (line,) = gap_decomposition(tmp_path, "matbench_jdft2d", targets, top=1)
    # errors: kgcnn 0 and 20, ours 0 and 10: mean gap 5, all of it from mb-jdft2d-010
    assert "gap kgcnn - ours +5.00" in line and "mb-jdft2d-010" in line


def test_gap_refuses_runs_tested_on_different_crystals(tmp_path):
    write_run(tmp_path, "kgcnn", 0, 10.0, [1.0, 30.0])
    write_run(tmp_path, "ours", 0, 9.0, [1.0, 20.0])
    path = Run("ours", 0, 0, 200).path(tmp_path, "matbench_jdft2d")
    result = json.loads(path.read_text())
    result["test_ids"] = ["mb-jdft2d-001", "mb-jdft2d-011"]
    path.write_text(json.dumps(result))
    with pytest.raises(ValueError, match="different crystals"):
        gap_decomposition(tmp_path, "matbench_jdft2d", {}, top=1)
