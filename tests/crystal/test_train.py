import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

import crystalbench
from crystalbench.core.device_batches import DeviceGraphs
from crystalbench.core.io import read_metadata
from crystalbench.core.numerics import DEFAULT_NUMERICS, Numerics
from crystalbench.core.training import batches
from crystalbench.crystal import train as train_module
from crystalbench.crystal.graphs import (
    CRYSTAL_GRAPHS,
    GraphSpec,
    build_graph,
    graph_metadata,
)
from crystalbench.crystal.splits import write_splits
from crystalbench.crystal.symmetry import analyse_symmetry
from crystalbench.crystal.train import TrainConfig, train_epoch, train_fold
from crystalbench.models import build_model

PARAMS = {"width": 16, "blocks": 2, "edge_mlp_depth": 2, "node_mlp_depth": 1}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, demo_structures):
    folder = tmp_path_factory.mktemp("train")
    structures = demo_structures[::3]
    spec = GraphSpec("asu")
    graphs = [build_graph(s, analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers), spec)
              for s in structures]
    CRYSTAL_GRAPHS.write(iter(graphs), folder / "g.parquet",
                         graph_metadata(spec, 1e-4, "demo", "asu"), len(graphs))
    write_splits([s.id for s in structures], folder / "s.parquet")
    return folder / "g.parquet", folder / "s.parquet"


def run(inputs, out, epochs=4, every=1, numerics=DEFAULT_NUMERICS, **options):
    cfg = TrainConfig(epochs=epochs, batch_size=16, lr=1e-3, seed=3, checkpoint_every=every,
                      **options)
    return train_fold(*inputs, 1, "cogn", PARAMS, cfg, out, numerics=numerics)


def interrupted_run(inputs, out, monkeypatch, **options):
    """A 6-epoch run (checkpoints every 2) killed during its 4th epoch."""
    original = DeviceGraphs.batches
    calls = {"n": 0}

    def dying(graphs, indices, batch_size, rng):
        if rng is not None:  # a training epoch
            calls["n"] += 1
            if calls["n"] == 4:
                raise KeyboardInterrupt
        return original(graphs, indices, batch_size, rng)

    with monkeypatch.context() as patch:
        patch.setattr(DeviceGraphs, "batches", dying)
        with pytest.raises(KeyboardInterrupt):
            run(inputs, out, epochs=6, every=2, **options)


def train_process(graphs, splits, out, train_cfg):
    """Command line and environment of a real ``crystalbench train`` of fold 1 on CPU, with
    the code under test first on the path."""
    src = str(Path(crystalbench.__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [src, os.environ.get("PYTHONPATH")])))
    command = [sys.executable, "-m", "crystalbench", "train", "--graphs", graphs,
               "--splits", splits, "--fold", "1", "--out-dir", str(out), "--device", "cpu",
               "--threads", "1", "--model", json.dumps(
                   {"architecture": "cogn", "params": PARAMS, "train": train_cfg})]
    return command, env


def weights(out):
    return torch.load(out / "checkpoint.pt", weights_only=True)["model"]


def test_outputs_and_metrics(inputs, tmp_path):
    metrics = run(inputs, tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {
        "predictions.parquet", "metrics.json", "history.csv", "checkpoint.pt", "progress.json"}
    progress = json.loads((tmp_path / "progress.json").read_text())
    assert progress["epoch"] == progress["epochs"] == 4 and progress["eta_seconds"] == 0
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    preds = pq.read_table(tmp_path / "predictions.parquet").to_pandas()
    folds = pq.read_table(inputs[1]).to_pandas()
    assert sorted(preds["id"]) == sorted(folds.loc[folds["fold"] == 1, "id"])
    assert metrics["mae"] == pytest.approx(np.mean(np.abs(preds["prediction"] - preds["target"])))
    history = pd.read_csv(tmp_path / "history.csv")
    assert len(history) == 4  # the tables read the load from metrics.json: its epochs' median
    assert metrics["load_per_cpu"] == pytest.approx(history["load_per_cpu"].median())
    for key in ("rmse", "r2", "epochs", "seconds_per_epoch", "parameters", "device"):
        assert key in metrics
    assert metrics["clip_grad_norm"] is None and metrics["numerics"] == asdict(Numerics())


def test_checkpoint_carries_what_prediction_needs(inputs, tmp_path):
    run(inputs, tmp_path, epochs=1)
    ckpt = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    meta = read_metadata(inputs[0])
    assert json.loads(ckpt["graph_spec"]) == asdict(GraphSpec("asu")) == meta["spec"]
    assert ckpt["symprec"] == meta["symprec"] == 1e-4
    assert (ckpt["task_type"], ckpt["dataset"], ckpt["architecture"]) == (
        "regression", "demo", "cogn")
    assert json.loads(ckpt["model_params"]) == PARAMS
    targets = CRYSTAL_GRAPHS.read(inputs[0]).column("target")
    folds = pq.read_table(inputs[1]).to_pandas()["fold"].to_numpy()
    assert ckpt["target_mean"] == pytest.approx(targets[folds != 1].mean())


def test_clipping_bounds_the_gradient_norm(demo_structures):
    """Plain SGD with lr 1 on one batch: the step equals the (clipped) gradient."""
    data = [CRYSTAL_GRAPHS.to_data(build_graph(s, analyse_symmetry(s.lattice, s.frac_coords,
                                                    s.atomic_numbers), GraphSpec("asu")))
            for s in demo_structures[:12]]
    idx = np.arange(len(data))

    def step_norm(clip, scaler=None):
        torch.manual_seed(0)
        model = build_model("cogn", PARAMS)
        before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
        train_epoch(model, batches(data, idx, len(data), np.random.default_rng(0)), optimizer,
                    scheduler, torch.nn.functional.l1_loss, torch.device("cpu"), clip,
                    Numerics("float16" if scaler else "float32"), scaler)
        after = torch.cat([p.detach().flatten() for p in model.parameters()])
        return float(torch.linalg.vector_norm(after - before))

    free = step_norm(None)
    assert free > 0.1
    assert step_norm(free / 10) == pytest.approx(free / 10, rel=1e-4)
    assert step_norm(free * 10) == pytest.approx(free, rel=1e-6)
    # mixed precision (float16 autocast on CPU): gradients are unscaled before clipping
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
    assert step_norm(free / 10, scaler) == pytest.approx(free / 10, rel=1e-3)


def test_float16_request_on_cpu_warns_and_trains_in_float32(inputs, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="crystalbench.core.numerics"):
        metrics = run(inputs, tmp_path / "fp16", epochs=2, numerics=Numerics("float16"),
                      clip_grad_norm=0.5)
    assert "train.precision float16 is CUDA-only" in caplog.text
    assert metrics["numerics"]["precision"] == "float32" and metrics["clip_grad_norm"] == 0.5
    saved = json.loads((tmp_path / "fp16" / "metrics.json").read_text())
    assert saved["numerics"] == asdict(Numerics()) and saved["clip_grad_norm"] == 0.5
    run(inputs, tmp_path / "fp32", epochs=2, clip_grad_norm=0.5)
    a, b = weights(tmp_path / "fp16"), weights(tmp_path / "fp32")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_float16_path_scales_and_resumes_with_its_scaler(inputs, tmp_path, monkeypatch):
    """The CUDA float16 code path (autocast, GradScaler, unscale before clipping, scaler state
    in resume.pt) run for real on CPU float16 autocast; only the CUDA-only gate is lifted."""
    monkeypatch.setattr(Numerics, "on", lambda self, dev: self)
    options = {"numerics": Numerics("float16"), "clip_grad_norm": 1.0}
    metrics = run(inputs, tmp_path / "straight", epochs=6, every=2, **options)
    assert metrics["numerics"]["precision"] == "float16" and np.isfinite(metrics["mae"])
    interrupted_run(inputs, tmp_path / "resumed", monkeypatch, **options)
    state = torch.load(tmp_path / "resumed" / "resume.pt", weights_only=True)
    assert state["scaler"]["scale"] > 0
    run(inputs, tmp_path / "resumed", epochs=6, every=2, **options)
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "resumed")
    assert all(torch.equal(a[k], b[k]) for k in a)
    run(inputs, tmp_path / "fp32", epochs=6, every=2, clip_grad_norm=1.0)
    c = weights(tmp_path / "fp32")
    assert not all(torch.equal(a[k], c[k]) for k in a)  # float16 autocast did take effect


@pytest.mark.parametrize("numerics", [Numerics("bfloat16"), Numerics(fused_adam=True)],
                         ids=["bfloat16", "fused_adam"])
def test_speed_options_train_on_cpu_and_resume_exactly(inputs, tmp_path, monkeypatch, numerics):
    """bfloat16 autocast and fused Adam run on CPU: they learn, stay near float32 with the loop
    Adam, and an interrupted run resumes to the same weights."""
    metrics = run(inputs, tmp_path / "straight", epochs=6, every=2, numerics=numerics)
    assert metrics["numerics"] == asdict(numerics) and np.isfinite(metrics["mae"])
    interrupted_run(inputs, tmp_path / "resumed", monkeypatch, numerics=numerics)
    run(inputs, tmp_path / "resumed", epochs=6, every=2, numerics=numerics)
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "resumed")
    assert all(torch.equal(a[k], b[k]) for k in a)
    reference = run(inputs, tmp_path / "fp32", epochs=6, every=2)
    c = weights(tmp_path / "fp32")
    assert not all(torch.equal(a[k], c[k]) for k in a)  # the option did take effect
    assert metrics["mae"] == pytest.approx(reference["mae"], rel=0.2)


def test_cpu_runs_are_bit_reproducible(inputs, tmp_path):
    run(inputs, tmp_path / "a")
    run(inputs, tmp_path / "b")
    a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_interrupted_run_resumes_to_the_same_weights(inputs, tmp_path, monkeypatch):
    run(inputs, tmp_path / "straight", epochs=6, every=2)
    interrupted_run(inputs, tmp_path / "resumed", monkeypatch)
    assert not (tmp_path / "resumed" / "metrics.json").exists()
    assert (tmp_path / "resumed" / "resume.pt").exists()
    run(inputs, tmp_path / "resumed", epochs=6, every=2)
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "resumed")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not (tmp_path / "resumed" / "resume.pt").exists()
    history = pd.read_csv(tmp_path / "resumed" / "history.csv")
    assert history["epoch"].tolist() == [1, 2, 3, 4, 5, 6]


def test_killed_process_leaves_no_outputs_and_resumes_to_the_same_weights(
        inputs, tmp_path, caplog):
    """A real ``crystalbench train`` process, SIGKILLed mid-run, then rerun to completion."""
    epochs = 40
    train_cfg = {"epochs": epochs, "batch_size": 16, "lr": 1e-3, "seed": 3,
                 "checkpoint_every": 1}
    graphs, splits = (str(p) for p in inputs)
    out = tmp_path / "killed"
    command, env = train_process(graphs, splits, out, train_cfg)
    with open(tmp_path / "child.log", "w") as child_log:
        child = subprocess.Popen(command, env=env, stdout=child_log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not (out / "resume.pt").exists():
                assert child.poll() is None, (tmp_path / "child.log").read_text()
                assert time.monotonic() < deadline, "no resume.pt within 60 s"
                time.sleep(0.005)
            time.sleep(0.2)  # let it checkpoint a few more epochs, then kill mid-epoch
            assert child.poll() is None, "the job ended before the kill: raise epochs"
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    visible = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    assert visible == {"resume.pt", "progress.json"}  # no metrics, checkpoint, predictions, history
    stopped_at = int(torch.load(out / "resume.pt", weights_only=True)["epoch"])
    assert 1 <= stopped_at < epochs

    with caplog.at_level(logging.INFO, logger="crystalbench"):
        train_fold(graphs, splits, 1, "cogn", PARAMS, TrainConfig(**train_cfg), out, "cpu")
    assert f"from epoch {stopped_at}" in caplog.text
    train_fold(graphs, splits, 1, "cogn", PARAMS, TrainConfig(**train_cfg),
               tmp_path / "straight", "cpu")
    a, b = weights(tmp_path / "straight"), weights(out)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert pd.read_csv(out / "history.csv")["epoch"].tolist() == list(range(1, epochs + 1))
    assert not (out / "resume.pt").exists()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGUSR1],
                         ids=["SIGTERM", "SIGUSR1"])
def test_stop_signal_saves_inside_the_epoch_and_resumes_to_the_same_weights(
        inputs, tmp_path, stop_signal):
    """A real ``crystalbench train`` process gets SLURM's stop signal (time limit, or the
    warning of ``--signal=USR1@...``): it writes resume.pt at the next step boundary, mid-epoch,
    and exits with 128 + the signal; the rerun ends with the uninterrupted run's weights."""
    epochs = 30
    train_cfg = {"epochs": epochs, "batch_size": 4, "lr": 1e-3, "seed": 3,
                 "checkpoint_every": 10_000}  # no epoch checkpoint: what is saved is the stop's
    graphs, splits = (str(p) for p in inputs)
    out = tmp_path / "stopped"
    command, env = train_process(graphs, splits, out, train_cfg)
    child_log = tmp_path / "child.log"
    with open(child_log, "w") as log_file:
        child = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while f"epoch 1/{epochs}" not in child_log.read_text():  # training has started
                assert child.poll() is None, child_log.read_text()
                assert time.monotonic() < deadline, "no first epoch within 120 s"
                time.sleep(0.005)
            child.send_signal(stop_signal)  # during epoch 2 or so: seconds before the end
            child.wait(timeout=60)
        finally:
            child.kill()
            child.wait()
    assert child.returncode == 128 + stop_signal, child_log.read_text()
    assert "resume.pt written" in child_log.read_text()
    visible = {p.name for p in out.iterdir() if not p.name.startswith(".")}
    assert visible == {"resume.pt", "progress.json"}  # no metrics, checkpoint, predictions, history
    state = torch.load(out / "resume.pt", weights_only=True)
    stopped_at, steps = int(state["epoch"]), int(state["progress"]["steps"])
    assert 1 <= stopped_at < epochs and steps >= 0

    train_fold(graphs, splits, 1, "cogn", PARAMS, TrainConfig(**train_cfg), out, "cpu")
    train_fold(graphs, splits, 1, "cogn", PARAMS, TrainConfig(**train_cfg),
               tmp_path / "straight", "cpu")
    a, b = weights(tmp_path / "straight"), weights(out)
    assert all(torch.equal(a[k], b[k]) for k in a)
    resumed = pd.read_csv(out / "history.csv")
    straight = pd.read_csv(tmp_path / "straight" / "history.csv")
    assert resumed["epoch"].tolist() == list(range(1, epochs + 1))
    assert resumed["train_loss"].tolist() == straight["train_loss"].tolist()


def test_resume_state_of_another_configuration_is_ignored(inputs, tmp_path, monkeypatch):
    interrupted_run(inputs, tmp_path / "run", monkeypatch)
    run(inputs, tmp_path / "run", epochs=5, every=2)  # a different budget: no resume
    run(inputs, tmp_path / "fresh", epochs=5, every=2)
    a, b = weights(tmp_path / "run"), weights(tmp_path / "fresh")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert len(pd.read_csv(tmp_path / "run" / "history.csv")) == 5


def test_classification_trains_on_logits_and_predicts_probabilities(tmp_path, demo_structures):
    structures = demo_structures[::3]
    median = np.median([s.target for s in structures])
    spec = GraphSpec("asu")
    graphs = []
    for s in structures:
        g = build_graph(s, analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers), spec)
        g.target = float(s.target > median)
        graphs.append(g)
    meta = graph_metadata(spec, 1e-4, "demo", "asu") | {
        "dataset_info": {"task_type": "classification", "verified": False}}
    CRYSTAL_GRAPHS.write(iter(graphs), tmp_path / "g.parquet", meta, len(graphs))
    write_splits([s.id for s in structures], tmp_path / "s.parquet")
    metrics = train_fold(tmp_path / "g.parquet", tmp_path / "s.parquet", 0, "cogn", PARAMS,
                         TrainConfig(epochs=3, batch_size=16, lr=1e-3), tmp_path / "run")
    preds = pq.read_table(tmp_path / "run" / "predictions.parquet").to_pandas()
    assert preds["prediction"].between(0, 1).all() and set(preds["target"]) <= {0.0, 1.0}
    assert {"rocauc", "rocauc_probability", "accuracy", "f1"} <= set(metrics)
    assert metrics["task_type"] == "classification" and metrics["data_verified"] is False


def test_fold_indices_name_missing_ids_and_empty_folds(tmp_path):
    write_splits(["a", "b", "c", "d"], tmp_path / "s.parquet", 2, 0)
    train_idx, test_idx = train_module.fold_indices(["a", "b", "c", "d"], tmp_path / "s.parquet", 0)
    assert sorted([*train_idx, *test_idx]) == [0, 1, 2, 3] and len(test_idx) == 2
    with pytest.raises(ValueError, match=r"1 ids have no fold .*'zz'"):
        train_module.fold_indices(["a", "zz"], tmp_path / "s.parquet", 0)
    with pytest.raises(ValueError, match="fold 5 leaves 4 train and 0 test ids"):
        train_module.fold_indices(["a", "b", "c", "d"], tmp_path / "s.parquet", 5)


def test_device_path_trains_to_bit_identical_weights(inputs):
    """Three epochs on the graph file: PyG collation of Data objects against DeviceGraphs."""
    table = CRYSTAL_GRAPHS.read(inputs[0])
    idx = np.arange(len(table))
    data = table.to_data()
    graphs = DeviceGraphs(table)

    def trained(epoch_batches):
        torch.manual_seed(0)
        model = build_model("cogn", PARAMS)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
        losses = [train_epoch(model, epoch_batches(np.random.default_rng([3, e])), optimizer,
                              scheduler, torch.nn.functional.l1_loss, torch.device("cpu"))[0]
                  for e in range(3)]
        return model.state_dict(), losses

    old, old_losses = trained(lambda rng: batches(data, idx, 16, rng))
    new, new_losses = trained(lambda rng: graphs.batches(idx, 16, rng))
    assert new_losses == old_losses
    assert old.keys() == new.keys() and all(torch.equal(old[k], new[k]) for k in old)
