"""Benchmark (not a test): what rotation augmentation teaches ForceNet, on EMT demo frames.

At demo scale ForceNet does not generalise across systems (see the README), so this
benchmark looks at one system where it does learn: one EMT trajectory, even frames for
training and odd frames held out (a within-system split, stated in the output). ForceNet is
trained the same number of full-batch steps with and without Haar-random rotations, then
scored (L2MAE on free atoms, eV/Å) on the held-out frames and on Haar-rotated copies of
them. An equivariant model scores the same on both; the ratio shows how far from it a
model is, next to the zero-force predictor as the floor to beat.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch_geometric.data import Batch

from crystalbench.forces.augment import haar_rotations, rotate_batch
from crystalbench.forces.emt_demo import generate_emt_frames
from crystalbench.forces.graphs import FORCE_GRAPHS, ForceGraphSpec, build_force_graph
from crystalbench.models import build_force_model

DEMO_FORCENET = {"hidden": 64, "interactions": 3, "decoder_hidden": 64}  # reference basis


def _l2mae(model: torch.nn.Module, batch: Batch, scale: float) -> float:
    model.eval()
    with torch.no_grad():
        forces, _ = model(batch)
    free = ~batch.fixed
    return float(torch.linalg.vector_norm(forces[free] * scale - batch.forces[free],
                                          dim=-1).mean())


def bench_augmentation(steps: int = 400, copies: int = 8, seed: int = 0,
                       threads: int = 2) -> list[dict[str, float]]:
    """Train ForceNet with and without augmentation; print and return the scores."""
    torch.set_num_threads(threads)
    frames = list(generate_emt_frames(seed, n_systems=1))
    data = [FORCE_GRAPHS.to_data(build_force_graph(f, ForceGraphSpec())) for f in frames]
    train, test = Batch.from_data_list(data[0::2]), Batch.from_data_list(data[1::2])
    free = ~train.fixed
    scale = float(train.forces[free].std())
    rotations = [torch.from_numpy(haar_rotations(test.num_graphs,
                                                 np.random.default_rng([seed, 1, k]))).float()
                 for k in range(copies)]
    zero = float(torch.linalg.vector_norm(test.forces[~test.fixed], dim=-1).mean())
    print(f"system {frames[0].system}: {train.num_graphs} training frames (even), "
          f"{test.num_graphs} held-out frames (odd), ForceNet {DEMO_FORCENET}, {steps} "
          f"full-batch steps; zero-force L2MAE on held-out frames {zero:.4f} eV/Å")
    print(f"{'augmentation':>12}  {'held-out L2MAE':>14}  {'rotated copies':>14}  "
          f"{'rotated/plain':>13}  {'train s':>7}")
    rows = []
    for augment in (False, True):
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        model = build_force_model("forcenet", DEMO_FORCENET)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        tic = time.perf_counter()
        for _ in range(steps):
            model.train()
            batch = train
            if augment:
                rot = torch.from_numpy(haar_rotations(train.num_graphs, rng)).float()
                batch = rotate_batch(train, rot)
            optimizer.zero_grad()
            forces, _ = model(batch)
            loss = torch.linalg.vector_norm(forces[free] - batch.forces[free] / scale,
                                            dim=-1).mean()
            loss.backward()
            optimizer.step()
        seconds = time.perf_counter() - tic
        plain = _l2mae(model, test, scale)
        rotated = float(np.mean([_l2mae(model, rotate_batch(test, r), scale)
                                 for r in rotations]))
        rows.append({"augment": augment, "l2mae": plain, "rotated_l2mae": rotated,
                     "ratio": rotated / plain, "seconds": seconds, "zero_l2mae": zero})
        print(f"{'on' if augment else 'off':>12}  {plain:14.4f}  {rotated:14.4f}  "
              f"{rotated / plain:13.2f}  {seconds:7.1f}", flush=True)
    return rows
