"""The force trainer on real EMT frames: outputs, system split, energy/EFwT, resume."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pandas as pd
import pytest
import torch

from crystalbench.core import resume as resume_module
from crystalbench.core.device_batches import DeviceGraphs
from crystalbench.core.numerics import DEFAULT_NUMERICS, Numerics
from crystalbench.forces import train as force_train
from crystalbench.forces.emt_demo import generate_emt_frames
from crystalbench.forces.graphs import ForceGraphSpec, force_graph_metadata, write_force_graph_table
from crystalbench.forces.metrics import force_metrics
from crystalbench.forces.splits import write_system_splits
from crystalbench.forces.train import ForceTrainConfig, train_force_fold

FORCENET = {"hidden": 16, "interactions": 1, "decoder_hidden": 16, "n_freqs": 4}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("force_train")
    frames = list(generate_emt_frames(0, n_systems=4))
    write_force_graph_table(frames, ForceGraphSpec(), folder / "g.parquet",
                            force_graph_metadata(ForceGraphSpec(), "t", "radius6", ""))
    write_system_splits([f.id for f in frames], [f.system for f in frames],
                        folder / "s.parquet", 2, 0)
    return folder / "g.parquet", folder / "s.parquet"


def train(inputs, out, train_systems=None, numerics=DEFAULT_NUMERICS, **cfg):
    cfg = ForceTrainConfig(**{"epochs": 2, "batch_size": 8, "checkpoint_every": 1,
                              "rotated_copies": 1, **cfg})
    return train_force_fold(*inputs, 0, "forcenet", FORCENET, cfg, out,
                            train_systems=train_systems, numerics=numerics)


def test_outputs_split_by_system_and_metrics_match_predictions(inputs, tmp_path):
    metrics = train(inputs, tmp_path)
    assert metrics["n_train_systems"] == metrics["n_test_systems"] == 2
    pred = pd.read_parquet(tmp_path / "predictions.parquet")
    splits = pd.read_parquet(inputs[1]).set_index("id")
    assert (splits.loc[pred["id"], "fold"] == 0).all()
    fp, ft = np.concatenate(pred["forces_pred"].map(np.stack)), np.concatenate(
        pred["forces"].map(np.stack))
    fixed = np.concatenate(pred["fixed"].to_numpy())
    again = force_metrics(fp, ft, fixed)
    assert again["forces_mae"] == pytest.approx(metrics["forces_mae"], rel=1e-5)
    assert "energy_mae" not in metrics and "efwt" not in metrics  # energy not trained
    assert metrics["inference_structures_per_s"] > 0
    history = pd.read_csv(tmp_path / "history.csv")
    assert list(history["epoch"]) == [1, 2] and history["val_forces_mae"].notna().all()
    assert not (tmp_path / "resume.pt").exists()
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert json.loads(checkpoint["model_params"]) == FORCENET == metrics["model_params"]


def test_energy_training_reports_energy_mae_and_efwt(inputs, tmp_path):
    metrics = train(inputs, tmp_path, energy_weight=1.0)
    pred = pd.read_parquet(tmp_path / "predictions.parquet")
    assert metrics["energy_trained"]
    assert metrics["energy_mae"] == pytest.approx(
        float(np.abs(pred["energy_pred"] - pred["energy"]).mean()), rel=1e-9)
    # EFwT recomputed from the predictions by the definition, frame by frame
    within = []
    for _, row in pred.iterrows():
        free = ~np.asarray(row["fixed"], bool)
        df = np.abs(np.stack(row["forces_pred"]) - np.stack(row["forces"]))[free]
        within.append(abs(row["energy_pred"] - row["energy"]) < 0.02
                      and (df.max() if len(df) else 0.0) < 0.03)
    assert metrics["efwt"] == pytest.approx(np.mean(within))


def test_interrupted_training_resumes_to_identical_weights(inputs, tmp_path, monkeypatch):
    train(inputs, tmp_path / "straight", epochs=3)
    real_save = resume_module.save_resume

    def save_then_stop(path, fingerprint, epoch, *args):
        real_save(path, fingerprint, epoch, *args)
        if epoch == 2:
            raise KeyboardInterrupt("simulated kill after epoch 2")

    monkeypatch.setattr(resume_module, "save_resume", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        train(inputs, tmp_path / "resumed", epochs=3)
    assert (tmp_path / "resumed/resume.pt").exists()
    assert not (tmp_path / "resumed/metrics.json").exists()
    monkeypatch.setattr(resume_module, "save_resume", real_save)
    train(inputs, tmp_path / "resumed", epochs=3)
    a = torch.load(tmp_path / "straight/checkpoint.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "resumed/checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    history = pd.read_csv(tmp_path / "resumed/history.csv")
    assert list(history["epoch"]) == [1, 2, 3]


@pytest.mark.parametrize("augment", [True, False], ids=["augmented", "plain"])
def test_stop_signal_mid_epoch_resumes_to_identical_weights(inputs, tmp_path, monkeypatch,
                                                             augment):
    """SIGUSR1 delivered to this process as epoch 2 cuts its third batch: the job saves
    resume.pt at that step boundary (two steps done) and exits with 128 + 10; the rerun
    replays the epoch's remaining steps, with the same rotations, to the uninterrupted run's
    weights and losses."""
    straight = tmp_path / "straight"
    train(inputs, straight, epochs=3, augment=augment, checkpoint_every=100)
    original = DeviceGraphs.batches
    epochs_started = {"n": 0}

    def signalled(graphs, indices, batch_size, rng):
        if rng is None:  # an evaluation pass
            yield from original(graphs, indices, batch_size, rng)
            return
        epochs_started["n"] += 1
        for step, batch in enumerate(original(graphs, indices, batch_size, rng)):
            if epochs_started["n"] == 2 and step == 2:
                os.kill(os.getpid(), signal.SIGUSR1)  # a real signal, handled by the job
            yield batch

    monkeypatch.setattr(DeviceGraphs, "batches", signalled)
    resumed = tmp_path / "resumed"
    with pytest.raises(SystemExit) as stopped:
        train(inputs, resumed, epochs=3, augment=augment, checkpoint_every=100)
    assert stopped.value.code == 128 + signal.SIGUSR1
    state = torch.load(resumed / "resume.pt", weights_only=True)
    assert int(state["epoch"]) == 1 and int(state["progress"]["steps"]) == 2
    assert not (resumed / "metrics.json").exists()
    monkeypatch.setattr(DeviceGraphs, "batches", original)
    train(inputs, resumed, epochs=3, augment=augment, checkpoint_every=100)
    a = torch.load(straight / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(resumed / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    ha, hb = pd.read_csv(straight / "history.csv"), pd.read_csv(resumed / "history.csv")
    assert ha["train_loss"].tolist() == hb["train_loss"].tolist()
    assert not (resumed / "resume.pt").exists()


def test_bfloat16_and_fused_adamw_train_force_models_on_cpu(inputs, tmp_path):
    """The execution settings reach the force trainer: bfloat16 autocast (the loss in float32)
    and fused AdamW learn about as far as float32 with the loop AdamW."""
    reference = train(inputs, tmp_path / "fp32", augment=False)
    fast = train(inputs, tmp_path / "fast", augment=False,
                 numerics=Numerics("bfloat16", fused_adam=True))
    assert reference["numerics"]["precision"] == "float32"
    assert fast["numerics"] == {"precision": "bfloat16", "tf32": False, "fused_adam": True,
                                "deterministic": False}
    assert fast["forces_l2mae"] == pytest.approx(reference["forces_l2mae"], rel=0.1)
    assert fast["forces_l2mae"] != reference["forces_l2mae"]


def test_augmentation_rotates_training_batches(inputs, tmp_path):
    on = train(inputs, tmp_path / "on", augment=True)
    off = train(inputs, tmp_path / "off", augment=False)
    assert on["forces_mae"] != off["forces_mae"]  # rotated batches trained a different model
    h_on = pd.read_csv(tmp_path / "on/history.csv")
    h_off = pd.read_csv(tmp_path / "off/history.csv")
    assert not np.allclose(h_on["train_loss"], h_off["train_loss"])


def test_training_subset_trains_on_fewer_systems(inputs, tmp_path):
    metrics = train(inputs, tmp_path, train_systems=1)
    assert metrics["n_train_systems"] == 1 and metrics["train_systems_requested"] == 1
    assert metrics["n_train"] == 25  # one system's frames
    with pytest.raises(ValueError, match="train_systems 3 outside 1..2"):
        train(inputs, tmp_path / "too_many", train_systems=3)


def test_equal_steps_stretches_a_subset_to_the_full_sets_steps(inputs, tmp_path):
    """One of two training systems with equal_steps: twice the epochs, the same steps (batch
    5 divides both sets of 25 and 50 frames)."""
    full = train(inputs, tmp_path / "full", batch_size=5)
    half = train(inputs, tmp_path / "half", train_systems=1, equal_steps=True, batch_size=5)
    assert full["n_train"] == 2 * half["n_train"]
    assert (half["epochs"], half["steps"]) == (2 * full["epochs"], full["steps"])
    plain = train(inputs, tmp_path / "plain", train_systems=1, batch_size=5)
    assert (plain["epochs"], plain["steps"]) == (full["epochs"], full["steps"] // 2)
    # on all systems it changes nothing: the same run as without it
    same = train(inputs, tmp_path / "all", equal_steps=True, batch_size=5)
    assert same["forces_l2mae"] == full["forces_l2mae"] and same["steps"] == full["steps"]


def test_zero_force_baseline_and_plateau_are_measured(inputs, tmp_path):
    metrics = train(inputs, tmp_path, epochs=3)
    pred = pd.read_parquet(tmp_path / "predictions.parquet")
    ft = np.concatenate(pred["forces"].map(np.stack))
    fixed = np.concatenate(pred["fixed"].to_numpy())
    zero = force_metrics(np.zeros_like(ft), ft, fixed)["forces_l2mae"]
    assert metrics["zero_force_l2mae"] == pytest.approx(zero, rel=1e-6)
    history = pd.read_csv(tmp_path / "history.csv")
    steps_per_epoch = -(-metrics["n_train"] // 8)
    assert list(history["step"]) == [steps_per_epoch * e for e in (1, 2, 3)]
    below = history["train_loss"] < force_train.PLATEAU_FRACTION * metrics[
        "zero_force_train_loss"]
    expected = int(history["step"][below].iloc[0]) if below.any() else None
    assert metrics["plateau_steps"] == expected


def test_plateau_steps_is_the_first_epoch_below_the_threshold():
    history = [{"step": 10, "train_loss": 1.0}, {"step": 20, "train_loss": 0.95},
               {"step": 30, "train_loss": 0.85}, {"step": 40, "train_loss": 0.95}]
    assert force_train.plateau_steps(history, 1.0) == 30
    assert force_train.plateau_steps(history[:2], 1.0) is None


def test_warmup_step_schedule_follows_ocp_fractions():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = force_train.warmup_step_decay(optimizer, 1000)
    factors = []
    for _ in range(1000):
        factors.append(schedule.get_last_lr()[0])
        optimizer.step()
        schedule.step()
    assert factors[0] == pytest.approx(0.2)
    assert factors[75] == pytest.approx(0.2 + 0.8 * 75 / 150)  # warm-up: 15 % of training
    assert factors[150] == factors[249] == 1.0
    assert factors[250] == pytest.approx(0.1) and factors[399] == pytest.approx(0.1)
    assert factors[400] == pytest.approx(0.01) and factors[500] == pytest.approx(0.001)
    assert factors[999] == pytest.approx(0.001)


def test_unknown_schedule_is_refused(inputs, tmp_path):
    with pytest.raises(ValueError, match="lr_schedule: unknown schedule 'cosine'"):
        train(inputs, tmp_path, lr_schedule="cosine")


def test_rotated_copies_leave_an_equivariant_model_unchanged(inputs, tmp_path):
    """SchNet's direct force head is equivariant: the rotated-copy L2MAE equals the plain one,
    while ForceNet's (not equivariant) differs."""
    cfg = ForceTrainConfig(epochs=1, batch_size=8, rotated_copies=2, augment=False)
    schnet = train_force_fold(*inputs, 0, "schnet_forces", {"width": 8, "filters": 8,
                                                            "interactions": 1}, cfg,
                              tmp_path / "schnet")
    assert schnet["rotated_forces_l2mae"] == pytest.approx(schnet["forces_l2mae"], rel=1e-5)
    forcenet = train(inputs, tmp_path / "forcenet", augment=False, rotated_copies=2)
    assert forcenet["rotated_forces_l2mae"] != pytest.approx(forcenet["forces_l2mae"],
                                                             rel=1e-3)


def test_unseen_elements_are_the_test_elements_no_training_frame_has():
    from torch_geometric.data import Data

    data = [Data(z=torch.tensor([1, 29])), Data(z=torch.tensor([1, 79, 8])),
            Data(z=torch.tensor([29, 1]))]
    assert force_train.unseen_elements(data, np.array([0]), np.array([1, 2])) == ["O", "Au"]
    assert force_train.unseen_elements(data, np.array([0, 1]), np.array([2])) == []


def test_a_test_fold_with_elements_absent_from_training_is_logged_and_recorded(
        inputs, tmp_path, caplog):
    """The 4 demo systems here share no metal or adsorbate, so fold 0's are all unseen."""
    frames = list(generate_emt_frames(0, n_systems=4))
    fold = pd.read_parquet(inputs[1]).set_index("id")["fold"]
    elements = {k: set() for k in (0, 1)}
    for f in frames:
        elements[int(fold[f.id] == 0)] |= set(f.atomic_numbers.tolist())
    expected = sorted(elements[1] - elements[0])
    with caplog.at_level("WARNING", logger="crystalbench.forces.train"):
        metrics = train(inputs, tmp_path)
    from pymatgen.core import Element
    symbols = [Element.from_Z(z).symbol for z in expected]
    assert len(symbols) == 4 and metrics["unseen_test_elements"] == ",".join(symbols)
    assert f"elements no training frame has: {', '.join(symbols)}" in caplog.text
