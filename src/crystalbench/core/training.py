"""Training plumbing shared by the crystal and force fold runners: device and seeds, the
fold's indices, batching, the learning-rate decay and one optimizer step."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pyarrow.parquet as pq
import torch
from torch_geometric.data import Batch, Data

from crystalbench.core.numerics import Numerics


def pick_device(requested: str) -> torch.device:
    """'auto' means CUDA when present, else CPU."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def prepare_torch(
    device: str, threads: int, seed: int, numerics: Numerics,
) -> tuple[torch.device, Numerics]:
    """Threads, device, seed and the numerics the device honours (deterministic kernels on
    CPU always, so CPU runs are bit-reproducible).

    CPU arithmetic flushes subnormal floats (below 1.2e-38) to zero: the tails of narrow
    Gaussian bases (ForceNet's ``gauss``: exp(-1200 (x - mu)^2)) are subnormal, and x86
    matrix kernels slow down severalfold on them; GPUs run them at full speed anyway."""
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    dev = pick_device(device)
    numerics = numerics.on(dev)
    numerics.configure(dev)
    torch.manual_seed(seed)
    return dev, numerics


def fold_indices(
    ids: list[str], splits_path: str | os.PathLike, fold: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the training ids (every other fold) and of the test ids (``fold``)."""
    split = pq.read_table(splits_path).to_pandas().set_index("id")["fold"]
    missing = set(ids) - set(split.index)
    if missing:
        raise ValueError(f"{len(missing)} ids have no fold in {splits_path}, "
                         f"e.g. {sorted(missing)[:3]}")
    folds = split.loc[ids].to_numpy()
    train_idx, test_idx = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
    if len(train_idx) == 0 or len(test_idx) == 0:
        raise ValueError(f"fold {fold} leaves {len(train_idx)} train and {len(test_idx)} test ids")
    return train_idx, test_idx


def linear_decay(
    optimizer: torch.optim.Optimizer, lr: float, lr_end: float, total_steps: int,
) -> torch.optim.lr_scheduler.LambdaLR:
    """Learning rate falling linearly per step from ``lr`` to ``lr_end``."""
    end_factor = lr_end / lr
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 1 - (1 - end_factor) * min(step, total_steps) / total_steps)


def optimizer_step(
    loss: torch.Tensor, optimizer: torch.optim.Optimizer, parameters: list[torch.Tensor],
    clip_grad_norm: float | None, scaler: torch.amp.GradScaler | None,
) -> None:
    """Backward and step; with ``scaler`` (float16) the loss is scaled and gradients are unscaled
    before clipping, so ``clip_grad_norm`` always bounds the true norm."""
    if scaler is not None:
        scaler.scale(loss).backward()
        if clip_grad_norm is not None:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(parameters, clip_grad_norm)
        scaler.step(optimizer)  # skipped when the gradients overflowed
        scaler.update()
    else:
        loss.backward()
        if clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(parameters, clip_grad_norm)
        optimizer.step()


def batches(
    data: list[Data], indices: np.ndarray, batch_size: int, rng: np.random.Generator | None,
) -> Iterator[Batch]:
    """Collate ``indices`` (shuffled with ``rng`` when given) into PyG batches, one at a time.

    The host-side path: each batch is built from ``Data`` objects when it is needed. Training
    uses :class:`crystalbench.core.device_batches.DeviceGraphs`, which cuts equal batches.
    """
    order = rng.permutation(indices) if rng is not None else np.asarray(indices)
    for start in range(0, len(order), batch_size):
        yield Batch.from_data_list([data[i] for i in order[start:start + batch_size]])
