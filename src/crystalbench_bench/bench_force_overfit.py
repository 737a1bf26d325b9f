"""Benchmark (not a test): can each model of a force study fit a handful of frames?

The first check when a model does worse than expected: with a few frames of one system as a
single full batch, no augmentation and the model's own learning rate and weight decay, every
model should drive its training error far below the zero-force predictor's. A model that
cannot (a wiring bug, a basis that cannot resolve distances, a broken initialisation) fails
here in minutes instead of after a 100-epoch run. Prints the training L2MAE before and after
and its ratio to zero force, per model, all on the same frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Batch, Data

from crystalbench.core.numerics import DEFAULT_NUMERICS
from crystalbench.core.training import prepare_torch
from crystalbench.forces.graphs import FORCE_GRAPHS
from crystalbench.forces.metrics import DEFAULT_TAG_WEIGHTS, atom_weights, force_loss
from crystalbench.forces.train import ForceTrainConfig
from crystalbench.models import build_force_model, count_parameters
from crystalbench_bench.bench_force_speed import merged_config, study_inputs


def first_frames(graphs: str | Path, frames: int) -> tuple[str, list[Data]]:
    """The first ``frames`` frames of the table's first system, and that system's name."""
    table = FORCE_GRAPHS.read(graphs)
    systems = np.asarray(table.column("system"))
    system = str(systems[0])
    rows = np.flatnonzero(systems == system)[:frames]
    data = table.to_data()
    return system, [data[i] for i in rows]


def fit_frames(
    architecture: str, params: dict[str, Any], batch: Batch, steps: int, lr: float,
    weight_decay: float, seed: int = 0,
) -> tuple[float, float, int]:
    """(L2MAE before, after ``steps`` full-batch AdamW steps, parameters), in eV/Å, on the
    batch's free atoms (tag weights as in training). Both are taken in training mode, with
    the batch's own normalisation statistics: before any step, eval mode would use the
    untouched running statistics and not measure the initial model."""
    torch.manual_seed(seed)
    model = build_force_model(architecture, params)
    weights = atom_weights(batch.tags, batch.fixed, DEFAULT_TAG_WEIGHTS)
    scale = float(batch.forces[~batch.fixed].double().std())
    target = batch.forces / scale

    def error() -> float:
        with torch.no_grad():
            return scale * float(force_loss(model(batch)[0].float(), target, weights))

    model.train()
    before = error()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        optimizer.zero_grad()
        force_loss(model(batch)[0].float(), target, weights).backward()
        optimizer.step()
    return before, error(), count_parameters(model)


def bench_force_overfit(
    configs: Sequence[str], study: str, graphs: str | None = None, frames: int = 8,
    steps: int = 300, threads: int = 1,
) -> list[dict[str, Any]]:
    """Fit every model of force study ``study`` to ``frames`` frames; print and return rows.
    ``graphs`` defaults to the study's own graph table (``study_inputs``)."""
    forces = merged_config(configs)["forces"]
    if graphs is None:
        graphs = study_inputs(forces, study)[0]
    prepare_torch("cpu", threads, 0, DEFAULT_NUMERICS)
    system, data = first_frames(graphs, frames)
    batch = Batch.from_data_list(data)
    weights = atom_weights(batch.tags, batch.fixed, DEFAULT_TAG_WEIGHTS)
    zero = float(force_loss(torch.zeros_like(batch.forces), batch.forces, weights))
    print(f"study {study}: {len(data)} frames of system {system} ({batch.num_nodes} atoms) "
          f"as one batch, {steps} AdamW steps, no augmentation, {threads} thread(s); "
          f"zero-force L2MAE {zero:.4f} eV/Å")
    rows = []
    for name in forces["studies"][study]["models"]:
        model = forces["models"][name]
        train = ForceTrainConfig(**model.get("train", {}))
        before, after, n_params = fit_frames(model["architecture"], model["params"], batch,
                                             steps, train.lr, train.weight_decay)
        rows.append({"model": name, "architecture": model["architecture"],
                     "parameters": n_params, "before": before, "after": after,
                     "zero_force": zero})
    print(f"{'model':<24} {'architecture':<17} {'params':>9} {'before':>8} {'after':>8} "
          f"{'after / zero force':>18}")
    for r in rows:
        print(f"{r['model']:<24} {r['architecture']:<17} {r['parameters']:>9,} "
              f"{r['before']:>8.4f} {r['after']:>8.4f} {r['after'] / zero:>18.3f}")
    print("before/after: training L2MAE (eV/Å) on those frames (training mode: the batch's "
          "normalisation statistics); a model that learns ends far below 1.0 x zero force.")
    return rows
