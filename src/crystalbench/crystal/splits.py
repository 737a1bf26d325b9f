"""Cross-validation split tables: id -> fold."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.model_selection import KFold

from crystalbench.core.io import write_parquet

MATBENCH_SEED = 18012019  # the KFold random_state MatBench v0.1 uses


def kfold_assignments(
    ids: Sequence[str], n_folds: int = 5, seed: int = MATBENCH_SEED
) -> pd.DataFrame:
    """Assign each id to the fold in which it is a test id (sklearn KFold, shuffled)."""
    folds = np.full(len(ids), -1, dtype=np.int64)
    splitter = KFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for fold, (_, test) in enumerate(splitter.split(np.zeros(len(ids)))):
        folds[test] = fold
    return pd.DataFrame({"id": list(ids), "fold": folds})


def write_matbench_splits(task: str, ids: Sequence[str], path: str | os.PathLike) -> None:
    """Write the official folds of ``task``; every structure id must have one."""
    from crystalbench.crystal.matbench import official_folds

    folds = official_folds(task)
    unknown = sorted(set(ids) - set(folds["id"]))
    if unknown:
        raise ValueError(f"{task}: {len(unknown)} ids are in no official fold, e.g. {unknown[:3]}")
    table = pa.Table.from_pandas(folds, preserve_index=False)
    write_parquet(table, path, {"protocol": "matbench_v0.1", "task": task,
                                "n_folds": int(folds["fold"].nunique())})


def write_splits(
    ids: Sequence[str], path: str | os.PathLike, n_folds: int = 5, seed: int = MATBENCH_SEED
) -> None:
    """Write the split table with its protocol in the metadata."""
    table = pa.Table.from_pandas(kfold_assignments(ids, n_folds, seed), preserve_index=False)
    write_parquet(table, path, {"protocol": "KFold", "n_folds": n_folds, "random_state": seed})
