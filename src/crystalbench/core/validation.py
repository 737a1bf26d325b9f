"""Checks every intake (crystals and S2EF frames) applies to its rows, and the split of a
stream of rows into kept ones and rejects with their reasons."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

import numpy as np
import pyarrow as pa
from pymatgen.optimization.neighbors import find_points_in_spheres

from crystalbench import __version__
from crystalbench.core.io import write_parquet

DEFAULT_MIN_DISTANCE = 0.5  # Å; real crystals have no two nuclei closer than ~0.7 Å (H2)


def lattice_problem(lattice: np.ndarray) -> str | None:
    """Why a (3, 3) cell cannot be used (non-finite or singular), or None."""
    if not np.isfinite(lattice).all():
        return "lattice has NaN or infinite entries"
    lengths = np.linalg.norm(lattice, axis=1)
    volume = abs(np.linalg.det(lattice))
    if lengths.min() <= 0 or volume <= 1e-6 * lengths.prod():
        return (f"singular lattice (volume {volume:.3g} Å^3 for cell vector lengths "
                f"{np.round(lengths, 4).tolist()})")
    return None


def atomic_number_problem(numbers: np.ndarray) -> str | None:
    """Which atomic numbers lie outside 1..118, or None."""
    if numbers.min() < 1 or numbers.max() > 118:
        bad_z = sorted(set(numbers[(numbers < 1) | (numbers > 118)].tolist()))
        return f"atomic numbers outside 1..118: {bad_z}"
    return None


def close_pair_problem(lattice: np.ndarray, frac: np.ndarray, min_distance: float) -> str | None:
    """The closest periodic pair nearer than ``min_distance``, as a reason, or None."""
    pair = close_pairs(lattice, frac, min_distance)
    if pair is None:
        return None
    i, j, d = pair
    what = f"atom {i} and its own periodic image" if i == j else f"atoms {i} and {j}"
    return f"{what} are {d:.4f} Å apart (minimum {min_distance} Å)"


class HasId(Protocol):
    id: str


T = TypeVar("T", bound=HasId)


def split_valid(
    items: Iterable[T], reason_of: Callable[[T], str | None], kind: str,
    error: type[ValueError],
) -> tuple[list[T], list[tuple[T, str]]]:
    """Items that pass ``reason_of`` and (item, reason) for the rest; every item lands in one
    of the two. A repeated ``id`` raises ``error`` naming it: ids key every later table."""
    kept: list[T] = []
    rejected: list[tuple[T, str]] = []
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise error(f"{kind} {item.id!r}: duplicate id")
        seen.add(item.id)
        reason = reason_of(item)
        if reason is None:
            kept.append(item)
        else:
            rejected.append((item, reason))
    return kept, rejected


def close_pairs(
    lattice: np.ndarray, frac: np.ndarray, min_distance: float
) -> tuple[int, int, float] | None:
    """Return the closest periodic pair (i, j, d) with d < min_distance, else None."""
    lattice = np.ascontiguousarray(lattice, dtype=np.float64)
    cart = np.ascontiguousarray(frac, dtype=np.float64) @ lattice
    i, j, shift, d = find_points_in_spheres(cart, cart, float(min_distance),
                                            np.ones(3, dtype=np.int64), lattice, tol=0.0)
    # each pair once (i < j), and an atom with its own periodic images; not with itself
    pair = (i < j) | ((i == j) & np.any(shift != 0, axis=1))
    i, j, d = i[pair], j[pair], d[pair]
    if len(d) == 0:
        return None
    k = int(np.argmin(d))
    return int(i[k]), int(j[k]), float(d[k])


def write_checked_table(
    items: Iterable[T], reason_of: Callable[[T], str | None], kind: str,
    error: type[ValueError], to_table: Callable[[list[T]], pa.Table],
    reject_schema: pa.Schema, reject_row: Callable[[T], dict[str, Any]],
    path: str | os.PathLike, rejects_path: str | os.PathLike, metadata: dict[str, Any],
    summarise: Callable[[list[T]], dict[str, Any]] = lambda kept: {},
) -> tuple[list[T], int]:
    """Validate ``items``, write the kept ones with ``to_table`` and the rejects (their
    ``reject_row`` plus the reason) beside them; the counts (and ``summarise`` of the kept
    items) go into the footers.

    Returns (kept items, number rejected); kept + rejected = items read.
    """
    kept, rejected = split_valid(items, reason_of, kind, error)
    n_in = len(kept) + len(rejected)
    counts = {"n_input": n_in, "n_kept": len(kept), "n_rejected": len(rejected)}
    write_parquet(to_table(kept), path, {**metadata, "crystalbench": __version__, **counts,
                                         **summarise(kept)})
    rows = [{**reject_row(item), "reason": reason} for item, reason in rejected]
    write_parquet(pa.Table.from_pylist(rows, schema=reject_schema), rejects_path,
                  {"n_input": n_in, "n_rejected": len(rejected)})
    return kept, len(rejected)
