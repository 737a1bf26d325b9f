"""benchmarks/forces_emt/keep_runs.py: a kept run aggregates like the run it came from."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from conftest import load_script

from crystalbench.forces.aggregate import load_force_runs


@pytest.fixture(scope="module")
def keep_runs():
    return load_script("benchmarks/forces_emt/keep_runs.py")


def old_run(root):
    """A run as written before metrics.json carried the model parameters."""
    run = root / "runs/emt/forcenet-x/r6/fold0/systems-7/seed1"
    run.mkdir(parents=True)
    params = {"hidden": 8, "basis": "sphallmul"}
    torch.save({"model_params": json.dumps(params), "model": {}}, run / "checkpoint.pt")
    metrics = {"architecture": "forcenet", "augment": True, "seed": 1, "fold": 0,
               "n_train_systems": 7, "forces_l2mae": 0.2, "forces_cos": 0.5,
               "rotated_forces_l2mae": 0.21, "zero_force_l2mae": 0.5, "epochs": 2,
               "steps": 20, "plateau_steps": 10}
    (run / "metrics.json").write_text(json.dumps(metrics))
    pd.DataFrame({"epoch": [1, 2], "step": [10, 20], "seconds": [0.5, 0.5],
                  "train_seconds": [0.5, 1.0], "load_per_cpu": [1.0, 1.0],
                  "val_forces_l2mae": [0.3, 0.2]}).to_csv(run / "history.csv")
    pd.DataFrame({"system": ["a"], "forces": [[[0.0, 0.0, 1.0]]]}).to_parquet(
        run / "predictions.parquet")
    return run, params


def test_kept_run_has_no_checkpoint_and_aggregates_the_same(keep_runs, tmp_path):
    run, params = old_run(tmp_path / "results")
    kept = keep_runs.keep_run(run, tmp_path / "kept/runs", runs_root=tmp_path / "results/runs")
    assert kept == tmp_path / "kept/runs/emt/forcenet-x/r6/fold0/systems-7/seed1"
    assert sorted(p.name for p in kept.iterdir()) == ["history.csv", "metrics.json",
                                                     "predictions.parquet"]
    assert json.loads((kept / "metrics.json").read_text())["model_params"] == params
    original = load_force_runs([run / "metrics.json"]).drop(columns="run_dir")
    copy = load_force_runs([kept / "metrics.json"]).drop(columns="run_dir")
    pd.testing.assert_frame_equal(original, copy[original.columns])


def test_a_run_outside_the_runs_root_is_refused(keep_runs, tmp_path):
    run, _ = old_run(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="not a run folder under"):
        keep_runs.keep_run(run, tmp_path / "kept/runs", runs_root=tmp_path / "results/runs")
    assert not (tmp_path / "kept").exists()
