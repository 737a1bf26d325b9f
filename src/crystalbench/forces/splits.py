"""System-level cross-validation folds for S2EF frames, stratified by slab composition.

Frames of one trajectory are near-duplicates, so a frame-level split would leak: every
frame gets the fold of its system, and no system straddles folds. Systems are dealt to folds
stratum by stratum (a stratum is a slab composition, e.g. all Cu slabs), so a test fold holds
a composition absent from training only when the composition has fewer systems than there
are folds. The same dealing order ranks the systems for nested training subsets (the
data-size curve): the first ``n`` training systems take one system of each composition before
a second of any.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from crystalbench.core.io import write_parquet


def _dealing_order(
    unique: np.ndarray, strata: np.ndarray, seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Order of the unique systems for dealing, and each system's rank inside its stratum.

    Strata are visited in a seeded random order and their systems in a seeded random order,
    so the order depends on the seed and not on how the input was sorted.
    """
    rng = np.random.default_rng(seed)
    names = np.unique(strata)
    order, rank = [], np.empty(len(unique), dtype=np.int64)
    for s in names[rng.permutation(len(names))]:
        members = np.flatnonzero(strata == s)
        members = members[rng.permutation(len(members))]
        rank[members] = np.arange(len(members))
        order.append(members)
    return np.concatenate(order), rank


def _unique_systems(
    systems: Sequence[str], strata: Sequence[str] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted unique systems, the index of each entry's system, and each system's stratum."""
    unique, first, inverse = np.unique(np.asarray(systems, dtype=str), return_index=True,
                                       return_inverse=True)
    if strata is None:
        return unique, inverse.reshape(-1), unique
    strata_arr = np.asarray(strata, dtype=str)
    if len(strata_arr) != len(systems):
        raise ValueError(f"{len(systems)} systems but {len(strata_arr)} strata")
    per_system = strata_arr[first]
    clash = strata_arr != per_system[inverse.reshape(-1)]
    if clash.any():
        k = int(np.flatnonzero(clash)[0])
        raise ValueError(f"system {systems[k]!r} has frames in strata "
                         f"{str(per_system[inverse.reshape(-1)[k]])!r} and "
                         f"{str(strata_arr[k])!r}")
    return unique, inverse.reshape(-1), per_system


def system_folds(
    systems: Sequence[str], folds: int, seed: int, strata: Sequence[str] | None = None,
) -> np.ndarray:
    """Fold of each entry of ``systems``: systems are dealt round-robin in stratum order.

    ``strata`` (one per entry, constant within a system) groups systems, e.g. by slab
    composition; without it every system is its own stratum. Fold sizes in systems differ by
    at most one, and so do the counts of one stratum in different folds. The result does not
    depend on the order of ``systems``.
    """
    if folds < 2:
        raise ValueError(f"need at least 2 folds, got {folds}")
    unique, inverse, per_system = _unique_systems(systems, strata)
    if len(unique) < folds:
        raise ValueError(f"{len(unique)} systems cannot fill {folds} folds "
                         "(every fold needs at least one system)")
    order, _ = _dealing_order(unique, per_system, seed)
    fold_of_system = np.empty(len(unique), dtype=np.int64)
    fold_of_system[order] = np.arange(len(unique)) % folds
    return fold_of_system[inverse]


def stratum_ranks(
    systems: Sequence[str], seed: int, strata: Sequence[str] | None = None,
) -> np.ndarray:
    """Rank of each entry's system inside its stratum, in the order ``system_folds`` deals."""
    unique, inverse, per_system = _unique_systems(systems, strata)
    return _dealing_order(unique, per_system, seed)[1][inverse]


def training_subset(
    train_idx: np.ndarray, systems: Sequence[str], strata: Sequence[str],
    ranks: Sequence[int], n_systems: int,
) -> np.ndarray:
    """The entries of ``train_idx`` that belong to the first ``n_systems`` training systems.

    Training systems are taken by rank inside their stratum, strata in name order: one
    system of every stratum, then a second of every stratum, and so on. The subsets are
    nested (the first 7 systems are among the first 14).
    """
    first: dict[str, tuple[int, str]] = {}
    for i in train_idx:
        first.setdefault(systems[i], (int(ranks[i]), strata[i]))
    if not 1 <= n_systems <= len(first):
        raise ValueError(f"train_systems {n_systems} outside 1..{len(first)} "
                         "(the training systems of this fold)")
    local: dict[str, int] = {}  # rank among the stratum's training systems
    seen: Counter[str] = Counter()
    for s in sorted(first, key=lambda s: (first[s], s)):
        local[s] = seen[first[s][1]]
        seen[first[s][1]] += 1
    chosen = set(sorted(first, key=lambda s: (local[s], first[s][1], s))[:n_systems])
    return np.array([i for i in train_idx if systems[i] in chosen], dtype=np.int64)


def write_system_splits(
    ids: Sequence[str], systems: Sequence[str], out: str | os.PathLike, folds: int, seed: int,
    strata: Sequence[str] | None = None,
) -> None:
    """Write the split table (``id``, ``fold``, ``system``, ``stratum``, ``stratum_rank``)."""
    if len(ids) != len(systems):
        raise ValueError(f"{len(ids)} ids but {len(systems)} systems")
    duplicates = [i for i, n in Counter(ids).items() if n > 1]
    if duplicates:
        raise ValueError(f"duplicate id {duplicates[0]!r} in the split input")
    strata = list(systems) if strata is None else list(strata)
    table = pa.table({
        "id": pa.array(list(ids), pa.string()),
        "fold": pa.array(system_folds(systems, folds, seed, strata), pa.int64()),
        "system": pa.array(list(systems), pa.string()),
        "stratum": pa.array(strata, pa.string()),
        "stratum_rank": pa.array(stratum_ranks(systems, seed, strata), pa.int64()),
    })
    write_parquet(table, out, {"protocol": "system-grouped KFold, stratified by slab "
                               "composition", "n_folds": folds, "random_state": seed,
                               "n_systems": len(set(systems)),
                               "n_strata": len(set(strata))})


def read_system_strata(
    splits_path: str | os.PathLike, ids: Sequence[str],
) -> tuple[list[str], np.ndarray]:
    """Stratum and stratum rank of each id, from a split table."""
    table = pq.read_table(splits_path, columns=["id", "stratum", "stratum_rank"]).to_pandas()
    table = table.set_index("id").loc[list(ids)]
    return table["stratum"].tolist(), table["stratum_rank"].to_numpy()


def slab_composition(atomic_numbers: np.ndarray, tags: np.ndarray) -> str:
    """The elements of the slab (tags 0 and 1: OC20's catalyst atoms), e.g. ``'Cu'``."""
    from pymatgen.core import Element

    slab = np.unique(atomic_numbers[tags < 2])
    return "".join(Element.from_Z(int(z)).symbol for z in slab) or "none"
