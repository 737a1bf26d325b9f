"""System-level cross-validation folds for S2EF frames.

Frames of one trajectory are near-duplicates, so a frame-level split would leak: every
frame gets the fold of its system, and no system straddles folds.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from crystalbench.io import write_parquet


def system_folds(systems: Sequence[str], folds: int, seed: int) -> np.ndarray:
    """Fold of each entry of ``systems``: unique systems are shuffled, then dealt round-robin.

    Fold sizes in systems differ by at most one. The result does not depend on the order of
    ``systems``: the unique systems are sorted before the seeded shuffle.
    """
    if folds < 2:
        raise ValueError(f"need at least 2 folds, got {folds}")
    unique, inverse = np.unique(np.asarray(systems, dtype=str), return_inverse=True)
    if len(unique) < folds:
        raise ValueError(f"{len(unique)} systems cannot fill {folds} folds "
                         "(every fold needs at least one system)")
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of_system = np.empty(len(unique), dtype=np.int64)
    fold_of_system[order] = np.arange(len(unique)) % folds
    return fold_of_system[inverse.reshape(-1)]


def write_system_splits(
    ids: Sequence[str], systems: Sequence[str], out: str | os.PathLike, folds: int, seed: int
) -> None:
    """Write the split table (``id``, ``fold``, plus ``system``) with its protocol."""
    if len(ids) != len(systems):
        raise ValueError(f"{len(ids)} ids but {len(systems)} systems")
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    if duplicates:
        raise ValueError(f"duplicate id {duplicates[0]!r} in the split input")
    fold = system_folds(systems, folds, seed)
    table = pa.table({
        "id": pa.array(list(ids), pa.string()),
        "fold": pa.array(fold, pa.int64()),
        "system": pa.array(list(systems), pa.string()),
    })
    write_parquet(table, out, {"protocol": "system-grouped KFold", "n_folds": folds,
                               "random_state": seed, "n_systems": len(set(systems))})
