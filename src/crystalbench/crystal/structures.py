"""The structure table: one row per crystal, validated on the way in.

Every data source (the demo generator, MatBench, OC20) goes through ``write_structure_table``.
A structure that cannot be processed is not dropped: it goes to a rejects table with its
reason, and kept + rejected always equals the input count.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from crystalbench.core.io import (
    fixed_array,
    fixed_column,
    flatten_list_column,
    list_array,
)
from crystalbench.core.validation import (
    DEFAULT_MIN_DISTANCE,
    atomic_number_problem,
    close_pair_problem,
    lattice_problem,
    write_checked_table,
)


@dataclass
class Structure:
    """A periodic crystal: rows of ``lattice`` are the cell vectors in Å."""

    id: str
    lattice: np.ndarray  # (3, 3) float64, rows a, b, c
    frac_coords: np.ndarray  # (n, 3) float64
    atomic_numbers: np.ndarray  # (n,) int
    target: float = float("nan")
    extra: dict[str, Any] = field(default_factory=dict)
    problem: str = ""  # set by a reader that could not convert the input faithfully

    @property
    def n_atoms(self) -> int:
        return len(self.atomic_numbers)


class InvalidStructureError(ValueError):
    """Raised for a structure that cannot be processed; the message names it and the reason."""


def rejection_reason(s: Structure, min_distance: float = DEFAULT_MIN_DISTANCE) -> str | None:
    """Return why ``s`` cannot be processed, or None when it is fine."""
    if s.problem:
        return s.problem
    lattice = np.asarray(s.lattice, dtype=float)
    frac = np.asarray(s.frac_coords, dtype=float)
    numbers = np.asarray(s.atomic_numbers)
    if numbers.size == 0:
        return "no atoms"
    if lattice.shape != (3, 3):
        return f"lattice has shape {lattice.shape}, expected (3, 3)"
    if frac.shape != (numbers.size, 3):
        return f"frac_coords has shape {frac.shape} for {numbers.size} atoms"
    problem = lattice_problem(lattice)
    if problem:
        return problem
    if not np.isfinite(frac).all():
        bad = int(np.flatnonzero(~np.isfinite(frac).all(axis=1))[0])
        return f"atom {bad} has NaN or infinite coordinates"
    problem = atomic_number_problem(numbers)
    if problem:
        return problem
    if not np.isfinite(s.target):
        return "target is NaN or infinite"
    return close_pair_problem(lattice, frac, min_distance)


def validate(s: Structure, min_distance: float = DEFAULT_MIN_DISTANCE) -> None:
    """Raise InvalidStructureError naming the structure and the reason, if any."""
    reason = rejection_reason(s, min_distance)
    if reason is not None:
        raise InvalidStructureError(f"structure {s.id!r}: {reason}")


def structures_to_table(structures: Sequence[Structure], target_name: str = "target") -> pa.Table:
    """Convert structures to the Arrow layout of the structure table."""
    n_atoms = np.array([s.n_atoms for s in structures], dtype=np.int64)
    offsets = np.zeros(len(structures) + 1, dtype=np.int64)
    np.cumsum(n_atoms, out=offsets[1:])

    def cat(arrays: Iterable[np.ndarray], dtype: Any, width: int) -> np.ndarray:
        parts = [np.asarray(a, dtype=dtype).reshape(-1, width) for a in arrays]
        return np.concatenate(parts) if parts else np.zeros((0, width), dtype=dtype)

    columns = {
        "id": pa.array([s.id for s in structures], pa.string()),
        "lattice": fixed_array(cat((s.lattice for s in structures), np.float64, 9), 3, 3),
        "frac_coords": list_array(
            cat((s.frac_coords for s in structures), np.float64, 3), offsets, 3),
        "atomic_numbers": list_array(
            cat((s.atomic_numbers for s in structures), np.int8, 1), offsets),
        target_name: pa.array([float(s.target) for s in structures], pa.float64()),
    }
    extra_keys = sorted({k for s in structures for k in s.extra})
    for key in extra_keys:
        columns[key] = pa.array([s.extra.get(key) for s in structures])
    return pa.table(columns)


REJECT_SCHEMA = pa.schema([("id", pa.string()), ("reason", pa.string())])


def write_structure_table(
    structures: Iterable[Structure],
    path: str | os.PathLike,
    rejects_path: str | os.PathLike,
    metadata: dict[str, Any],
    min_distance: float = DEFAULT_MIN_DISTANCE,
) -> tuple[int, int]:
    """Validate and write structures; rejects go to ``rejects_path`` with their reasons.

    Returns (kept, rejected). Duplicate ids are an error: ids key every later table.
    """
    kept, rejected = write_checked_table(
        structures, lambda s: rejection_reason(s, min_distance), "structure",
        InvalidStructureError, structures_to_table, REJECT_SCHEMA, lambda s: {"id": s.id},
        path, rejects_path, {**metadata, "min_distance": min_distance})
    return len(kept), rejected


def read_structure_table(
    path: str | os.PathLike, target_name: str = "target"
) -> list[Structure]:
    """Read a structure table back into Structure objects (exact float64 round trip)."""
    table = pq.read_table(path)
    lattices = fixed_column(table["lattice"], 3, 3)
    frac, offsets = flatten_list_column(table["frac_coords"])
    frac = frac.reshape(-1, 3)
    numbers, _ = flatten_list_column(table["atomic_numbers"])
    ids = table["id"].to_pylist()
    targets = table[target_name].to_numpy()
    extra_names = [
        n for n in table.column_names
        if n not in {"id", "lattice", "frac_coords", "atomic_numbers", target_name}
    ]
    extras = {n: table[n].to_pylist() for n in extra_names}
    return [
        Structure(
            id=ids[r],
            lattice=lattices[r],
            frac_coords=frac[offsets[r]:offsets[r + 1]],
            atomic_numbers=numbers[offsets[r]:offsets[r + 1]].astype(np.int64),
            target=float(targets[r]),
            extra={n: extras[n][r] for n in extra_names},
        )
        for r in range(len(ids))
    ]
