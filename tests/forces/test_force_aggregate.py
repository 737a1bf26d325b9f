"""Force-study tables and figures from run folders: mean ± std over seeds, data-size curve."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
import torch

from crystalbench.forces.aggregate import (
    load_force_runs,
    varied_settings,
    write_force_study_table,
)
from crystalbench.forces.plots import accuracy_vs_data_size, accuracy_vs_time, learning_curve


def write_run(root, model, systems, seed, l2mae, plateau, params=None,
              params_in_checkpoint=False):
    """A run folder with only what aggregation reads: metrics.json and history.csv (and, as
    runs written before metrics.json carried the model parameters, a checkpoint.pt)."""
    run = root / f"runs/emt/{model}/r6/fold0/systems-{systems}/seed{seed}"
    run.mkdir(parents=True)
    params = params or ({"hidden": 8, "basis": "sphallmul"} if model.startswith("forcenet")
                        else {"width": 8})
    if params_in_checkpoint:
        torch.save({"model_params": json.dumps(params)}, run / "checkpoint.pt")
    n = 21 if systems == "all" else int(systems)
    metrics = {"architecture": model.split("-")[0], "augment": model.startswith("forcenet"),
               "parameters": 1000, "device": "cpu", "seed": seed, "fold": 0,
               "n_train_systems": n, "forces_l2mae": l2mae, "forces_cos": 0.5,
               "rotated_forces_l2mae": 1.1 * l2mae, "zero_force_l2mae": 0.5,
               "epochs": 3, "steps": 30, "inference_structures_per_s": 400.0 + seed,
               "plateau_steps": plateau}
    if not params_in_checkpoint:
        metrics["model_params"] = params
    (run / "metrics.json").write_text(json.dumps(metrics))
    # the third epoch was disturbed (5 s): the median epoch gives 0.5 s / 10 steps
    pd.DataFrame({"epoch": [1, 2, 3], "step": [10, 20, 30], "seconds": [0.5, 0.5, 5.0],
                  "train_seconds": [1.0, 2.0, 3.0 + seed],
                  "load_per_cpu": [1.0, 1.0, 1.0] if model.startswith("forcenet") else
                  [2.0, 2.0, 2.0],
                  "val_forces_l2mae": [0.5, np.nan, l2mae],
                  "val_forces_cos": [0.0, np.nan, 0.5]}).to_csv(run / "history.csv")
    return run / "metrics.json"


@pytest.fixture
def runs(tmp_path):
    paths = [write_run(tmp_path, "forcenet-x", "all", s, v, p)
             for s, v, p in ((0, 0.2, 300), (1, 0.3, None), (2, 0.4, 600))]
    paths += [write_run(tmp_path, "schnet-x", n, s, 0.3 - 0.01 * s + (0.1 if n == "7" else 0),
                        100) for n in ("7", "all") for s in (0, 1)]
    return paths


def test_table_gives_mean_and_sample_std_over_seeds(runs, tmp_path):
    summary = write_force_study_table(runs, tmp_path / "t.md", tmp_path / "t.csv",
                                      tmp_path / "c.csv", "T")
    row = summary.set_index(["model", "n_train_systems"]).loc[("forcenet-x", 21)]
    assert row["forces_l2mae"] == pytest.approx(0.3)
    assert row["forces_l2mae_std"] == pytest.approx(0.1)  # ddof=1 over the 3 seeds
    assert row["rotated_over_plain"] == pytest.approx(1.1)
    assert row["plateau_steps"] == "300, never, 600" and row["seeds"] == 3
    md = (tmp_path / "t.md").read_text()
    assert "| forcenet-x | forcenet | on | 21 | 3 | 30 | 3 × 1 | 0.3000 ± 0.1000 |" in md
    accuracy, cost = md.split("## Accuracy")[1].split("## Cost")
    assert "train s/step" not in accuracy and "forces L2MAE" not in cost
    assert "| forcenet-x | 21 | 1,000 | 0.0500 | 401 ± 1 | 1.00 |" in cost  # median epoch
    assert "| schnet-x | 21 | 1,000 | 0.0500 † | 400 ± 1 † | 2.00 |" in cost  # busy machine
    assert len(pd.read_csv(tmp_path / "t.csv")) == 7


def test_curves_csv_has_every_run_at_every_evaluated_epoch(runs, tmp_path):
    write_force_study_table(runs, tmp_path / "t.md", tmp_path / "t.csv", tmp_path / "c.csv", "T")
    curves = pd.read_csv(tmp_path / "c.csv")
    assert len(curves) == 7 * 2  # 7 runs, epochs 1 and 3 evaluated (2 was not)
    seed1 = curves.query("model == 'forcenet-x' and seed == 1").set_index("epoch")
    assert list(seed1.index) == [1, 3]
    assert seed1.loc[3, "val_forces_l2mae"] == pytest.approx(0.3)
    assert seed1.loc[3, "train_seconds"] == pytest.approx(1.5)  # 3 × the median epoch
    assert seed1.loc[3, "step"] == 30
    assert set(curves.query("model == 'schnet-x'")["n_train_systems"]) == {7, 21}


def test_learning_curve_averages_evaluated_epochs(runs):
    frame = load_force_runs(runs)
    dirs = list(frame[frame["model"] == "forcenet-x"]["run_dir"])
    curve = learning_curve(dirs)
    assert list(curve.index) == [1, 3]  # epoch 2 was not evaluated
    assert curve.loc[3, "train_seconds"] == pytest.approx(1.5)  # 3 × the median epoch, 0.5 s
    assert curve.loc[3, "step"] == 30
    assert curve.loc[3, "l2mae"] == pytest.approx(0.3)
    assert curve.loc[3, "l2mae_std"] == pytest.approx(0.1)
    assert curve.loc[1, "l2mae_std"] == 0.0


def test_figures_are_written_with_their_text_inside_and_apart(runs, tmp_path, caplog):
    frame = load_force_runs(runs)
    title = "ForceNet vs SchNet and DimeNet++ (direct force heads), 28 EMT systems, 100 epochs"
    with caplog.at_level(logging.WARNING, logger="crystalbench.core.figures"):
        accuracy_vs_time(frame, [tmp_path / "time.png"], title)
        accuracy_vs_data_size(frame, [tmp_path / "size.png", tmp_path / "size.svg"], title)
    assert caplog.text == ""  # no text problem (core.figures.text_problems) was logged
    for name in ("time.png", "size.png", "size.svg"):
        assert (tmp_path / name).stat().st_size > 10_000


def test_an_ablation_table_names_what_it_varies(tmp_path):
    """A basis study: the basis is a column, with each row's value; what all rows share
    (hidden width) is not. The parameters come from metrics.json, or from the checkpoint of
    a run written before metrics.json carried them."""
    paths = [write_run(tmp_path, name, "all", 0, 0.2, 100, {"hidden": 8, "basis": basis},
                       params_in_checkpoint=old)
             for name, basis, old in (("forcenet-x", "sphallmul", False),
                                      ("forcenet-gauss", "gauss", True))]
    summary = write_force_study_table(paths, tmp_path / "t.md", tmp_path / "t.csv",
                                      tmp_path / "c.csv", "Basis")
    assert varied_settings(summary) == {"basis": ["sphallmul", "gauss"]}
    lines = (tmp_path / "t.md").read_text().splitlines()
    assert lines[4].startswith("| model | basis | architecture |")
    assert lines[6].startswith("| forcenet-x | sphallmul |")
    assert lines[7].startswith("| forcenet-gauss | gauss |")
