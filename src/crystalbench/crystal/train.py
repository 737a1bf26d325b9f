"""Train one model on one fold of one graph table; write predictions, metrics and checkpoints.

Protocol: train on every fold but ``fold``, test on ``fold``. Regression: targets standardised
with the training ids' mean and standard deviation, MAE loss, predictions transformed back.
Classification: binary cross-entropy on logits, probabilities as predictions. Adam with a
learning rate decaying linearly per step; no early stopping (last-epoch weights), as in the
reference MatBench runs. Progress is saved to ``resume.pt`` after every ``checkpoint_every``
epochs and at the next step after a stop signal (``core.preemption``), so an interrupted job
continues where it stopped and ends with the same weights.

Optional: gradient-norm clipping. How the job computes (precision, TF32, fused Adam,
deterministic CUDA kernels) is an execution setting, ``core.numerics.Numerics``. The final
``checkpoint.pt`` carries everything ``crystalbench predict`` needs to rebuild the model and
the graphs of new structures (architecture, parameters, graph spec, symprec, target scaling).
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
from torch_geometric.data import Batch

from crystalbench import __version__
from crystalbench.core.device_batches import DeviceGraphs
from crystalbench.core.io import read_metadata, write_json, write_parquet, write_text
from crystalbench.core.live_status import report_progress
from crystalbench.core.numerics import DEFAULT_NUMERICS, Numerics
from crystalbench.core.preemption import (
    EpochProgress,
    Preempted,
    StopRequest,
    stop_signals,
)
from crystalbench.core.provenance import provenance
from crystalbench.core.resume import ResumableRun, save_torch
from crystalbench.core.speed import load_per_cpu, median_load
from crystalbench.core.training import (
    fold_indices,
    linear_decay,
    optimizer_step,
    prepare_torch,
)
from crystalbench.crystal.domain import training_domain
from crystalbench.crystal.graphs import CRYSTAL_GRAPHS
from crystalbench.crystal.scoring import score
from crystalbench.models import build_model, count_parameters

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Optimisation settings; defaults are the reference coGN budget."""

    epochs: int = 800
    batch_size: int = 64
    lr: float = 5e-4
    lr_end: float = 1e-5
    seed: int = 0
    checkpoint_every: int = 10
    clip_grad_norm: float | None = None  # max global gradient norm; None: no clipping


def train_epoch(
    model: torch.nn.Module, epoch_batches: Iterable[Batch], optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler, loss_fn: Callable, dev: torch.device,
    clip_grad_norm: float | None = None, numerics: Numerics = DEFAULT_NUMERICS,
    scaler: torch.amp.GradScaler | None = None, start: EpochProgress | None = None,
    stop: StopRequest | None = None,
) -> tuple[float, float]:
    """One pass over an epoch's batches (cutting them included in the time).

    The loss is summed on the device in float64 and read once, at the end: no host sync per
    step. The forward pass runs under ``numerics``' autocast; with ``scaler`` (float16) the loss
    is scaled and gradients are unscaled before clipping, so ``clip_grad_norm`` always bounds
    the true norm. ``start`` continues an interrupted epoch (its first steps are skipped);
    after a ``stop`` signal the epoch ends at the next step boundary with :class:`Preempted`.
    Returns (mean loss, wall seconds).
    """
    model.train()
    start = start or EpochProgress()
    tic = time.perf_counter()
    loss_sum = torch.tensor(start.loss_sum, dtype=torch.float64, device=dev)
    n_seen = start.count
    parameters = list(model.parameters())
    for step, batch in enumerate(epoch_batches):
        if step < start.steps:  # taken before the interruption
            continue
        if stop:  # a stop signal arrived: leave at this step boundary
            raise Preempted(stop.signum, EpochProgress(
                step, float(loss_sum), n_seen, start.seconds + time.perf_counter() - tic))
        batch = batch.to(dev, non_blocking=True)
        optimizer.zero_grad()
        with numerics.autocast(dev):
            out = model(batch).squeeze(-1)
        loss = loss_fn(out.float(), batch.y)  # the loss itself in float32
        optimizer_step(loss, optimizer, parameters, clip_grad_norm, scaler)
        scheduler.step()
        loss_sum += loss.detach().double() * batch.num_graphs
        n_seen += batch.num_graphs
    mean_loss = float(loss_sum) / n_seen  # the epoch's one sync
    return mean_loss, start.seconds + time.perf_counter() - tic


def train_fold(
    graphs_path: str | os.PathLike, splits_path: str | os.PathLike, fold: int,
    architecture: str, model_params: dict[str, Any], train_cfg: TrainConfig,
    out_dir: str | os.PathLike, device: str = "auto", threads: int = 1,
    numerics: Numerics = DEFAULT_NUMERICS,
) -> dict[str, Any]:
    """Run one training job and write its outputs into ``out_dir``; returns the metrics."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev, numerics = prepare_torch(device, threads, train_cfg.seed, numerics)

    table = CRYSTAL_GRAPHS.read(graphs_path)
    graph_meta = read_metadata(graphs_path)
    missing_meta = [k for k in ("spec", "symprec", "dataset") if k not in graph_meta]
    if missing_meta:
        raise ValueError(f"{graphs_path}: graph metadata lacks {missing_meta}; "
                         "rebuild the graph table with `crystalbench graphs`")
    info = graph_meta.get("dataset_info", {})
    task_type = info.get("task_type", "regression")
    classification = task_type == "classification"
    train_idx, test_idx = fold_indices(table.ids, splits_path, fold)
    if classification:
        mean, std = 0.0, 1.0
        loss_fn = torch.nn.functional.binary_cross_entropy_with_logits
    else:
        mean = float(table.column("target")[train_idx].mean())
        std = float(table.column("target")[train_idx].std()) or 1.0
        loss_fn = torch.nn.functional.l1_loss
    graphs = DeviceGraphs(table, dev)
    graphs.fields["y"] = (graphs.fields["y"] - mean) / std

    model = build_model(architecture, model_params).to(dev)
    optimizer = numerics.adam(list(model.parameters()), lr=train_cfg.lr)
    scaler = numerics.grad_scaler(dev)
    steps_per_epoch = -(-len(train_idx) // train_cfg.batch_size)
    scheduler = linear_decay(optimizer, train_cfg.lr, train_cfg.lr_end,
                             train_cfg.epochs * steps_per_epoch)
    resume_path = out / "resume.pt"
    # a resume state only continues the very same job: same data, fold, model and budget
    fingerprint = json.dumps([str(graphs_path), str(splits_path), fold, architecture,
                              model_params, asdict(train_cfg)], sort_keys=True)
    run = ResumableRun(resume_path, fingerprint, model, optimizer, scheduler, scaler,
                       train_cfg.epochs, train_cfg.checkpoint_every)
    history = run.resume(dev)

    log.info("training %s on %s fold %d: %d train, %d test graphs, %d parameters, device %s",
             architecture, graphs_path, fold, len(train_idx), len(test_idx),
             count_parameters(model), dev)
    with stop_signals() as stop:
        for epoch in range(run.start_epoch, train_cfg.epochs):
            rng = np.random.default_rng([train_cfg.seed, epoch])
            try:
                train_loss, seconds = train_epoch(
                    model, graphs.batches(train_idx, train_cfg.batch_size, rng), optimizer,
                    scheduler, loss_fn, dev, train_cfg.clip_grad_norm, numerics, scaler,
                    run.epoch_progress(epoch), stop)
            except Preempted as preempted:
                run.stopped(epoch, history, preempted)
            history.append({"epoch": epoch + 1, "train_loss": train_loss,
                            "lr": scheduler.get_last_lr()[0], "seconds": seconds,
                            "load_per_cpu": load_per_cpu()})
            if (epoch + 1) % max(1, train_cfg.epochs // 10) == 0 or epoch == 0:
                log.info("epoch %d/%d: train loss %.4f, %.2f s",
                         epoch + 1, train_cfg.epochs, history[-1]["train_loss"], seconds)
            run.after_epoch(epoch, history)
            report_progress(out, history, train_cfg.epochs)

    model.eval()
    preds = []
    tic = time.perf_counter()
    with torch.no_grad(), numerics.autocast(dev):
        for batch in graphs.batches(test_idx, train_cfg.batch_size, None):
            raw = model(batch).squeeze(-1).double()
            preds.append(torch.sigmoid(raw) if classification else raw)
    pred = torch.cat(preds).cpu().numpy() * std + mean  # one read after the last batch
    predict_seconds = time.perf_counter() - tic
    y = table.column("target")[test_idx]
    metrics = score(task_type, y, pred) | {
        "task_type": task_type, "data_verified": bool(info.get("verified", True)),
        "epochs": train_cfg.epochs, "clip_grad_norm": train_cfg.clip_grad_norm,
        "numerics": asdict(numerics),
        "seconds_per_epoch": statistics.median(h["seconds"] for h in history),
        "train_seconds": sum(h["seconds"] for h in history),
        "load_per_cpu": median_load(h.get("load_per_cpu") for h in history),
        "predict_seconds": predict_seconds,
        "parameters": count_parameters(model),
        "device": str(dev), "threads": threads, "fold": fold,
        "n_train": len(train_idx), "n_test": len(test_idx),
        "mean_nodes": float(table.n_nodes.mean()), "mean_edges": float(table.n_edges.mean()),
        "target_mean": mean, "target_std": std, "torch": torch.__version__,
        "crystalbench": __version__, "provenance": provenance(),
    }
    ids = [table.ids[i] for i in test_idx]
    write_parquet(pa.Table.from_pandas(pd.DataFrame(
        {"id": ids, "fold": fold, "target": y, "prediction": pred}), preserve_index=False),
        out / "predictions.parquet", {"fold": fold})
    write_text(out / "history.csv", pd.DataFrame(history).to_csv(index=False))
    # plain str/float only, so that torch.load(..., weights_only=True) reads it
    save_torch({"model": model.state_dict(), "architecture": architecture,
                 "model_params": json.dumps(model_params), "target_mean": mean,
                 "target_std": std, "task_type": task_type,
                 "graph_spec": json.dumps(graph_meta["spec"], sort_keys=True),
                 "symprec": float(graph_meta["symprec"]),
                 "dataset": str(graph_meta["dataset"]), "graph": str(graph_meta.get("graph", "")),
                 "unit": str(info.get("unit", "")),
                 "training_domain": json.dumps(training_domain(table, train_idx)),
                 "crystalbench": __version__}, out / "checkpoint.pt")
    write_json(out / "metrics.json", metrics)
    run.finish()
    log.info("fold %d test scores: %s", fold, score(task_type, y, pred))
    return metrics
