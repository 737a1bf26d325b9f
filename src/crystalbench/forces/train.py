"""Train one force model on one fold of an S2EF graph table; score it, also on rotated copies.

Protocol: folds are assigned per system (a trajectory never straddles train and test); train
on every other fold, test on ``fold``. Forces are learned directly (no energy gradient) with
the tag-weighted L2MAE on free atoms; the energy joins the loss only with ``energy_weight``
> 0 (ForceNet's reference config is force-only). Labels are scaled by the training set's
force standard deviation (one scalar, so rotations commute with it) and, for the energy, by a
per-atom mean and the spread around it (E ~ n_atoms * mu). AdamW as in ocp, learning rate
decaying linearly per step, or (``lr_schedule: warmup_step``) the schedule of ocp's ForceNet
config: linear warm-up from 0.2x, then x0.1 steps, at the same fractions of training.

With ``augment`` every training batch is turned by Haar-random rotations, one per structure
(``augment.rotate_batch``); evaluation is never augmented. The held-out fold is scored every
``eval_every`` epochs with the cumulative training seconds, for the force-MAE-versus-time
curves, and at the end also on ``rotated_copies`` Haar-rotated copies of every test frame:
the error an equivariant model would not change. Precision, TF32, fused AdamW and
deterministic CUDA kernels are execution settings (``core.numerics.Numerics``); the forward
passes run under its autocast, the loss in float32.
"""

from __future__ import annotations

import json
import logging
import math
import os
import statistics
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
from torch_geometric.data import Batch, Data

from crystalbench import __version__
from crystalbench.core.device_batches import DeviceGraphs
from crystalbench.core.io import list_array, read_metadata, write_json, write_parquet, write_text
from crystalbench.core.live_status import report_progress
from crystalbench.core.numerics import DEFAULT_NUMERICS, Numerics
from crystalbench.core.preemption import (
    EpochProgress,
    Preempted,
    StopRequest,
    stop_signals,
)
from crystalbench.core.resume import ResumableRun, save_torch
from crystalbench.core.speed import load_per_cpu, median_load
from crystalbench.core.training import (
    fold_indices,
    linear_decay,
    optimizer_step,
    prepare_torch,
)
from crystalbench.forces.augment import haar_rotations, rotate_batch
from crystalbench.forces.graphs import FORCE_GRAPHS
from crystalbench.forces.metrics import (
    DEFAULT_TAG_WEIGHTS,
    atom_weights,
    energy_metrics,
    force_loss,
    force_metrics,
    max_force_error,
)
from crystalbench.forces.splits import read_system_strata, training_subset
from crystalbench.models import build_force_model, count_parameters

log = logging.getLogger(__name__)


@dataclass
class ForceTrainConfig:
    """Optimisation and protocol settings of a force model."""

    epochs: int = 20
    batch_size: int = 8
    lr: float = 5e-4
    lr_end: float = 1e-5
    weight_decay: float = 0.01  # AdamW's default, which ocp's config leaves in place
    seed: int = 0
    checkpoint_every: int = 5
    clip_grad_norm: float | None = None
    augment: bool = True  # Haar-random rotations of training batches
    energy_weight: float = 0.0  # 0: force-only, as ocp's ForceNet config
    tag_weights: list[float] = field(default_factory=lambda: list(DEFAULT_TAG_WEIGHTS))
    eval_every: int = 1  # epochs between held-out evaluations (learning curves)
    rotated_copies: int = 4  # Haar-rotated copies of the test set scored at the end
    lr_schedule: str = "linear"  # or "warmup_step" (ocp's ForceNet schedule, see below)
    # with a training subset: stretch ``epochs`` so that the run takes as many optimiser
    # steps as on the fold's full training set, rounded up to whole epochs (a data-size
    # point not starved of steps)
    equal_steps: bool = False


# ocp's fn_forceonly.yml over its 62,500 steps (20 epochs of 3,125): warm-up from 0.2x over
# 9,375 steps, then x0.1 at steps 15,625, 25,000 and 31,250; kept as fractions of training
WARMUP_FRACTION = 9_375 / 62_500
WARMUP_FACTOR = 0.2
MILESTONE_FRACTIONS = (15_625 / 62_500, 25_000 / 62_500, 31_250 / 62_500)
MILESTONE_GAMMA = 0.1
# a run has left the zero-force plateau once an epoch's training loss is below this fraction
# of the loss of predicting zero forces on the training frames
PLATEAU_FRACTION = 0.9


def warmup_step_decay(
    optimizer: torch.optim.Optimizer, total_steps: int,
) -> torch.optim.lr_scheduler.LambdaLR:
    """ocp's ForceNet schedule scaled to ``total_steps``: linear warm-up, then step decay."""
    warmup = max(1, round(WARMUP_FRACTION * total_steps))
    milestones = [round(f * total_steps) for f in MILESTONE_FRACTIONS]

    def factor(step: int) -> float:
        if step < warmup:
            return WARMUP_FACTOR + (1 - WARMUP_FACTOR) * step / warmup
        return MILESTONE_GAMMA ** sum(step >= m for m in milestones)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def make_schedule(
    optimizer: torch.optim.Optimizer, cfg: ForceTrainConfig, total_steps: int,
) -> torch.optim.lr_scheduler.LambdaLR:
    """The learning-rate schedule that ``cfg.lr_schedule`` names."""
    if cfg.lr_schedule == "linear":
        return linear_decay(optimizer, cfg.lr, cfg.lr_end, total_steps)
    if cfg.lr_schedule == "warmup_step":
        return warmup_step_decay(optimizer, total_steps)
    raise ValueError(f"train.lr_schedule: unknown schedule {cfg.lr_schedule!r} "
                     "(linear or warmup_step)")


def plateau_steps(history: list[dict[str, Any]], zero_force_loss: float) -> int | None:
    """Steps until the first epoch whose training loss is below ``PLATEAU_FRACTION`` of the
    zero-force loss; None when no epoch got there."""
    for row in history:
        if row["train_loss"] < PLATEAU_FRACTION * zero_force_loss:
            return int(row["step"])
    return None


@dataclass
class Scales:
    """Label scaling from the training frames: F / force_std; (E - n mu) / energy_std."""

    force_std: float
    energy_per_atom: float
    energy_std: float


def unseen_elements(data: list[Data], train_idx: np.ndarray, test_idx: np.ndarray) -> list[str]:
    """Elements of the test frames that no training frame has, e.g. ``['Na', 'Tl']``.

    Their element embeddings never receive a gradient, so the held-out error on such frames
    measures the untrained initial values, not transfer to new systems.
    """
    from pymatgen.core import Element

    seen = set(torch.cat([data[i].z for i in train_idx]).tolist())
    tested = set(torch.cat([data[i].z for i in test_idx]).tolist())
    return [Element.from_Z(int(z)).symbol for z in sorted(tested - seen)]


def fit_scales(data: list[Data], idx: np.ndarray) -> Scales:
    """Scales from the training frames' free atoms and energies (NaN energies ignored)."""
    forces = torch.cat([data[i].forces[~data[i].fixed] for i in idx])
    force_std = float(forces.double().std()) or 1.0
    energy = np.array([float(data[i].energy) for i in idx])
    n = np.array([data[i].num_nodes for i in idx], float)
    ok = np.isfinite(energy)
    if not ok.any():
        return Scales(force_std, 0.0, 1.0)
    mu = float((energy[ok] / n[ok]).mean())
    spread = float((energy[ok] - n[ok] * mu).std()) or 1.0
    return Scales(force_std, mu, spread)


def _step_loss(
    model: torch.nn.Module, batch: Batch, scales: Scales, cfg: ForceTrainConfig,
    numerics: Numerics, dev: torch.device,
) -> torch.Tensor:
    with numerics.autocast(dev):
        forces, energy = model(batch)
    weights = atom_weights(batch.tags, batch.fixed, tuple(cfg.tag_weights))
    loss = force_loss(forces.float(), batch.forces / scales.force_std, weights)
    if cfg.energy_weight > 0:
        n = torch.bincount(batch.batch, minlength=batch.num_graphs).to(torch.float64)
        target = ((batch.energy - n * scales.energy_per_atom) / scales.energy_std).float()
        loss = loss + cfg.energy_weight * (energy.float() - target).abs().mean()
    return loss


def _train_epoch(
    model: torch.nn.Module, epoch_batches: Iterable[Batch], rng: np.random.Generator,
    optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
    scales: Scales, cfg: ForceTrainConfig, numerics: Numerics, dev: torch.device,
    scaler: torch.amp.GradScaler | None, start: EpochProgress, stop: StopRequest,
) -> tuple[float, float]:
    """One epoch (each batch rotated with ``rng`` under augmentation); (mean loss, seconds).

    The loss is summed on the device and read once. ``start`` continues an interrupted epoch:
    its first steps are skipped, their rotations still drawn so that ``rng`` is where it was;
    after a ``stop`` signal the epoch ends at the next step boundary with :class:`Preempted`.
    """
    model.train()
    parameters = list(model.parameters())
    tic = time.perf_counter()
    loss_sum = torch.tensor(start.loss_sum, dtype=torch.float64, device=dev)
    steps = start.count
    for step, batch in enumerate(epoch_batches):
        rot = haar_rotations(batch.num_graphs, rng) if cfg.augment else None
        if step < start.steps:  # taken before the interruption
            continue
        if stop:  # a stop signal arrived: leave at this step boundary
            raise Preempted(stop.signum, EpochProgress(
                step, float(loss_sum), steps, start.seconds + time.perf_counter() - tic))
        if rot is not None:
            batch = rotate_batch(batch, torch.from_numpy(rot).to(dev))
        optimizer.zero_grad()
        loss = _step_loss(model, batch, scales, cfg, numerics, dev)
        optimizer_step(loss, optimizer, parameters, cfg.clip_grad_norm, scaler)
        scheduler.step()
        loss_sum += loss.detach().double()
        steps += 1
    return float(loss_sum) / steps, start.seconds + time.perf_counter() - tic


def zero_force_loss(
    data: list[Data], idx: np.ndarray, scales: Scales, cfg: ForceTrainConfig,
) -> float:
    """The training loss of a model that predicts zero forces everywhere: the weighted mean
    force norm, summed frame by frame (no batch of the whole training set)."""
    total = weight = 0.0
    for i in idx:
        w = atom_weights(data[i].tags, data[i].fixed, tuple(cfg.tag_weights)).double()
        norms = torch.linalg.vector_norm(data[i].forces.double() / scales.force_std, dim=-1)
        total += float((norms * w).sum())
        weight += float(w.sum())
    if weight <= 0:
        raise ValueError("every training atom has loss weight 0 (all fixed?)")
    return total / weight


def predict(
    model: torch.nn.Module, graphs: DeviceGraphs, idx: np.ndarray, batch_size: int,
    dev: torch.device, scales: Scales, rotations: np.ndarray | None = None,
    numerics: Numerics = DEFAULT_NUMERICS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Forces and energies in eV units for frames ``idx`` (optionally rotated, one R each),
    the model run under ``numerics``' autocast as in training.

    Returns predicted forces, true forces, fixed flags, graph index per atom, predicted and
    true energies, and the wall seconds of the model passes.
    """
    model.eval()
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("fp", "ft", "fix", "g", "ep", "et")}
    seconds, offset = 0.0, 0
    with torch.no_grad():
        for start, batch in zip(range(0, len(idx), batch_size),
                                graphs.batches(idx, batch_size, None), strict=True):
            if rotations is not None:
                rot = torch.from_numpy(rotations[start:start + batch.num_graphs]).to(dev)
                batch = rotate_batch(batch, rot)
            tic = time.perf_counter()
            with numerics.autocast(dev):
                forces, energy = model(batch)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            seconds += time.perf_counter() - tic
            n = torch.bincount(batch.batch, minlength=batch.num_graphs).double()
            out["fp"].append((forces.double() * scales.force_std).cpu().numpy())
            out["ft"].append(batch.forces.double().cpu().numpy())
            out["fix"].append(batch.fixed.cpu().numpy())
            out["g"].append((batch.batch + offset).cpu().numpy())
            out["ep"].append((energy.double() * scales.energy_std
                              + n * scales.energy_per_atom).cpu().numpy())
            out["et"].append(batch.energy.double().cpu().numpy())
            offset += batch.num_graphs
    cat = {k: np.concatenate(v) for k, v in out.items()}
    return cat["fp"], cat["ft"], cat["fix"], cat["g"], cat["ep"], cat["et"], seconds


def score(
    fp: np.ndarray, ft: np.ndarray, fixed: np.ndarray, graph: np.ndarray, ep: np.ndarray,
    et: np.ndarray, with_energy: bool,
) -> dict[str, float]:
    """Force metrics always; energy MAE and EFwT when the energy was trained (the trainer
    refuses to train it on frames without energies)."""
    metrics = force_metrics(fp, ft, fixed)
    if with_energy:
        metrics |= energy_metrics(ep, et, max_force_error(fp, ft, fixed, graph, len(et)))
    return metrics


def train_force_fold(
    graphs_path: str | os.PathLike, splits_path: str | os.PathLike, fold: int,
    architecture: str, model_params: dict[str, Any], cfg: ForceTrainConfig,
    out_dir: str | os.PathLike, device: str = "auto", threads: int = 1,
    train_systems: int | None = None, numerics: Numerics = DEFAULT_NUMERICS,
) -> dict[str, Any]:
    """Run one force-training job and write its outputs into ``out_dir``; returns metrics.

    ``train_systems`` trains on the first that many training systems of the fold
    (``splits.training_subset``: nested, balanced over slab compositions) instead of all.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev, numerics = prepare_torch(device, threads, cfg.seed, numerics)

    table = FORCE_GRAPHS.read(graphs_path)
    graph_meta = read_metadata(graphs_path)
    systems = table.column("system")
    train_idx, test_idx = fold_indices(table.ids, splits_path, fold)
    if train_systems is not None:
        strata, ranks = read_system_strata(splits_path, table.ids)
        full_steps = cfg.epochs * math.ceil(len(train_idx) / cfg.batch_size)
        train_idx = training_subset(train_idx, systems, strata, ranks, train_systems)
        if cfg.equal_steps:
            subset_steps_per_epoch = math.ceil(len(train_idx) / cfg.batch_size)
            cfg = replace(cfg, epochs=math.ceil(full_steps / subset_steps_per_epoch))
    data = table.to_data()  # host copy for the label statistics below
    unseen = unseen_elements(data, train_idx, test_idx)
    if unseen:
        log.warning("%s fold %d: the test systems contain elements no training frame has: "
                    "%s; their embeddings stay untrained, so the held-out error on them is "
                    "not transfer", graphs_path, fold, ", ".join(unseen))
    graphs = DeviceGraphs(table, dev)
    scales = fit_scales(data, train_idx)
    with_energy = cfg.energy_weight > 0
    if with_energy and not np.isfinite(table.column("energy")).all():
        raise ValueError(f"{graphs_path}: energy_weight > 0 but some frames have no energy")

    model = build_force_model(architecture, model_params).to(dev)
    optimizer = numerics.adam(list(model.parameters()), cfg.lr, cfg.weight_decay)
    scaler = numerics.grad_scaler(dev)
    steps_per_epoch = -(-len(train_idx) // cfg.batch_size)
    scheduler = make_schedule(optimizer, cfg, cfg.epochs * steps_per_epoch)
    baseline_loss = zero_force_loss(data, train_idx, scales, cfg)
    resume_path = out / "resume.pt"
    fingerprint = json.dumps([str(graphs_path), str(splits_path), fold, architecture,
                              model_params, asdict(cfg), train_systems], sort_keys=True)
    run = ResumableRun(resume_path, fingerprint, model, optimizer, scheduler, scaler,
                       cfg.epochs, cfg.checkpoint_every)
    history = run.resume(dev)
    log.info("training %s on %s fold %d: %d train, %d test frames, %d parameters, device %s, "
             "augmentation %s", architecture, graphs_path, fold, len(train_idx), len(test_idx),
             count_parameters(model), dev, "on" if cfg.augment else "off")
    elapsed = history[-1]["train_seconds"] if history else 0.0
    with stop_signals() as stop:
        for epoch in range(run.start_epoch, cfg.epochs):
            rng = np.random.default_rng([cfg.seed, epoch])
            try:
                train_loss, seconds = _train_epoch(
                    model, graphs.batches(train_idx, cfg.batch_size, rng), rng, optimizer,
                    scheduler, scales, cfg, numerics, dev, scaler, run.epoch_progress(epoch), stop)
            except Preempted as preempted:
                run.stopped(epoch, history, preempted)
            elapsed += seconds
            row = {"epoch": epoch + 1, "step": (epoch + 1) * steps_per_epoch,
                   "train_loss": train_loss, "seconds": seconds,
                   "train_seconds": elapsed, "lr": scheduler.get_last_lr()[0],
                   "load_per_cpu": load_per_cpu(),
                   "val_forces_mae": float("nan"), "val_forces_l2mae": float("nan"),
                   "val_forces_cos": float("nan")}
            evaluated = (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs
            if evaluated:
                fp, ft, fix, *_ = predict(model, graphs, test_idx, cfg.batch_size, dev, scales,
                                          numerics=numerics)
                m = force_metrics(fp, ft, fix)
                for key in ("forces_mae", "forces_l2mae", "forces_cos"):
                    row[f"val_{key}"] = m[key]
            history.append(row)
            log.info("epoch %d/%d: loss %.4f (zero forces: %.4f), %.2f s%s", epoch + 1,
                     cfg.epochs, row["train_loss"], baseline_loss, seconds,
                     f", held-out forces L2MAE {row['val_forces_l2mae']:.4f} eV/Å"
                     if evaluated else "")
            run.after_epoch(epoch, history)
            report_progress(out, history, cfg.epochs)

    fp, ft, fix, graph, ep, et, seconds = predict(model, graphs, test_idx, cfg.batch_size, dev,
                                                  scales, numerics=numerics)
    metrics = score(fp, ft, fix, graph, ep, et, with_energy)
    rotated = []
    rotation_rng = np.random.default_rng([cfg.seed, 2**31 - 1])  # same copies for every model
    for _ in range(cfg.rotated_copies):
        rot = haar_rotations(len(test_idx), rotation_rng)
        rotated.append(force_metrics(*predict(model, graphs, test_idx, cfg.batch_size, dev,
                                              scales, rot, numerics)[:3]))
    if rotated:
        for key in ("forces_mae", "forces_l2mae", "forces_cos"):
            metrics[f"rotated_{key}"] = float(np.mean([r[key] for r in rotated]))
    n_steps = len(history) * steps_per_epoch
    train_seconds = sum(h["seconds"] for h in history)
    zero = force_metrics(np.zeros_like(ft), ft, fix)
    metrics |= {
        "zero_force_l2mae": zero["forces_l2mae"], "zero_force_train_loss": baseline_loss,
        "plateau_steps": plateau_steps(history, baseline_loss), "seed": cfg.seed,
        "lr_schedule": cfg.lr_schedule, "train_systems_requested": train_systems,
        "architecture": architecture, "augment": cfg.augment, "energy_trained": with_energy,
        "epochs": cfg.epochs, "steps": n_steps, "train_seconds": train_seconds,
        "seconds_per_step": statistics.median(h["seconds"] for h in history) / steps_per_epoch,
        "load_per_cpu": median_load(h.get("load_per_cpu") for h in history),
        "inference_seconds": seconds, "inference_structures_per_s": len(test_idx) / seconds,
        "parameters": count_parameters(model), "device": str(dev), "threads": threads,
        "fold": fold, "n_train": len(train_idx), "n_test": len(test_idx),
        "n_train_systems": len({systems[i] for i in train_idx}),
        "n_test_systems": len({systems[i] for i in test_idx}),
        "unseen_test_elements": ",".join(unseen),
        "mean_atoms": float(np.mean([data[i].num_nodes for i in test_idx])),
        "mean_edges": float(np.mean([data[i].edge_index.shape[1] for i in test_idx])),
        "force_std": scales.force_std, "numerics": asdict(numerics), "torch": torch.__version__,
        "crystalbench": __version__, "model_params": model_params,
    }
    write_predictions(out / "predictions.parquet", [table.ids[i] for i in test_idx],
                      [systems[i] for i in test_idx], fp, ft, fix, graph, ep, et, fold)
    write_text(out / "history.csv", pd.DataFrame(history).to_csv(index=False))
    save_torch({"model": model.state_dict(), "architecture": architecture,
                "model_params": json.dumps(model_params), "scales": json.dumps(asdict(scales)),
                "graph_spec": json.dumps(graph_meta.get("spec", {}), sort_keys=True),
                "dataset": str(graph_meta.get("dataset", "")), "crystalbench": __version__},
               out / "checkpoint.pt")
    write_json(out / "metrics.json", metrics)
    run.finish()
    log.info("fold %d test: %s", fold, {k: v for k, v in metrics.items()
                                        if k.startswith(("forces", "rotated", "energy", "efwt"))})
    return metrics


def write_predictions(
    path: Path, ids: list[str], systems: list[str], fp: np.ndarray, ft: np.ndarray,
    fixed: np.ndarray, graph: np.ndarray, ep: np.ndarray, et: np.ndarray, fold: int,
) -> None:
    """One row per test frame: energies and per-atom forces (true, predicted), fixed flags."""
    counts = np.bincount(graph, minlength=len(ids))
    off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    table = pa.table({
        "id": ids, "system": systems, "fold": pa.array([fold] * len(ids), pa.int32()),
        "energy": et, "energy_pred": ep,
        "forces": list_array(ft.astype(np.float32), off, 3),
        "forces_pred": list_array(fp.astype(np.float32), off, 3),
        "fixed": list_array(fixed.astype(bool), off),
    })
    write_parquet(table, path, {"fold": fold})
