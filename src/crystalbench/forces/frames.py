"""The S2EF frame table: one row per labelled snapshot (positions, energy, per-atom forces).

Every S2EF source (OC20 extxyz/traj/LMDB, the EMT demo) goes through ``write_frame_table``.
Like the structure table, a frame that cannot be used goes to a rejects table with its
reason, and kept + rejected always equals the input count. Forces need every atom, so frames
keep the full cell (no asymmetric unit).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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

log = logging.getLogger(__name__)

VALID_TAGS = (-1, 0, 1, 2)  # -1 unknown; 0 subsurface/fixed, 1 surface, 2 adsorbate (OC20)


@dataclass
class Frame:
    """One S2EF snapshot; rows of ``lattice`` are the cell vectors in Å."""

    id: str  # f"{system}/{frame:04d}", unique per dataset
    system: str  # splits are by system: frames of one trajectory are near-duplicates
    frame: int  # index of the frame within its system's trajectory
    lattice: np.ndarray  # (3, 3) float64
    positions: np.ndarray  # (n, 3) float64, Cartesian Å
    atomic_numbers: np.ndarray  # (n,) int
    tags: np.ndarray  # (n,) int8, see VALID_TAGS
    fixed: np.ndarray  # (n,) bool, True = constrained (FixAtoms)
    energy: float  # eV, NaN when the source has none
    forces: np.ndarray  # (n, 3) float64, eV/Å
    problem: str = ""  # set by a reader that could not convert the input faithfully

    @property
    def n_atoms(self) -> int:
        return len(self.atomic_numbers)


def frame_id(system: str, frame: int) -> str:
    """The id convention of the frame table."""
    return f"{system}/{frame:04d}"


def rejected_frame(system: str, frame: int, reason: str) -> Frame:
    """A placeholder frame that validation turns into a reject with ``reason``."""
    return Frame(id=frame_id(system, frame), system=system, frame=frame, lattice=np.eye(3),
                 positions=np.zeros((0, 3)), atomic_numbers=np.zeros(0, dtype=np.int64),
                 tags=np.zeros(0, dtype=np.int8), fixed=np.zeros(0, dtype=bool),
                 energy=float("nan"), forces=np.zeros((0, 3)), problem=reason)


class InvalidFrameError(ValueError):
    """Raised for frames that cannot be written; the message names the frame."""


def frame_rejection_reason(f: Frame, min_distance: float = DEFAULT_MIN_DISTANCE) -> str | None:
    """Return why ``f`` cannot be used for S2EF training or scoring, or None when it is fine."""
    if f.problem:
        return f.problem
    numbers = np.asarray(f.atomic_numbers)
    n = numbers.size
    if n == 0:
        return "no atoms"
    shapes = {
        "lattice": (np.asarray(f.lattice), (3, 3)),
        "positions": (np.asarray(f.positions), (n, 3)),
        "tags": (np.asarray(f.tags), (n,)),
        "fixed": (np.asarray(f.fixed), (n,)),
        "forces": (np.asarray(f.forces), (n, 3)),
    }
    for name, (arr, shape) in shapes.items():
        if arr.shape != shape:
            return f"{name} has shape {arr.shape}, expected {shape} for {n} atoms"
    lattice = np.asarray(f.lattice, dtype=float)
    positions = np.asarray(f.positions, dtype=float)
    forces = np.asarray(f.forces, dtype=float)
    problem = lattice_problem(lattice)
    if problem:
        return problem
    for name, arr in (("positions", positions), ("forces", forces)):
        bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))
        if bad.size:
            return f"atom {int(bad[0])} has NaN or infinite {name}"
    if np.isinf(f.energy):
        return "energy is infinite"
    problem = atomic_number_problem(numbers)
    if problem:
        return problem
    tags = np.asarray(f.tags)
    bad_tags = ~np.isin(tags, VALID_TAGS)
    if bad_tags.any():
        i = int(np.flatnonzero(bad_tags)[0])
        return f"atom {i} has tag {int(tags[i])}, expected one of {list(VALID_TAGS)}"
    frac = np.linalg.solve(lattice.T, positions.T).T
    return close_pair_problem(lattice, frac, min_distance)


def frames_to_table(frames: Sequence[Frame]) -> pa.Table:
    """Convert frames to the Arrow layout of the frame table."""
    n_atoms = np.array([f.n_atoms for f in frames], dtype=np.int64)
    offsets = np.zeros(len(frames) + 1, dtype=np.int64)
    np.cumsum(n_atoms, out=offsets[1:])

    def cat(name: str, dtype: Any, width: int) -> np.ndarray:
        parts = [np.asarray(getattr(f, name), dtype=dtype).reshape(-1, width) for f in frames]
        return np.concatenate(parts) if parts else np.zeros((0, width), dtype=dtype)

    return pa.table({
        "id": pa.array([f.id for f in frames], pa.string()),
        "system": pa.array([f.system for f in frames], pa.string()),
        "frame": pa.array(np.array([f.frame for f in frames], dtype=np.int32)),
        "n_atoms": pa.array(n_atoms.astype(np.int32)),
        "lattice": fixed_array(cat("lattice", np.float64, 9), 3, 3),
        "positions": list_array(cat("positions", np.float64, 3), offsets, 3),
        "atomic_numbers": list_array(cat("atomic_numbers", np.int8, 1), offsets),
        "tags": list_array(cat("tags", np.int8, 1), offsets),
        "fixed": list_array(cat("fixed", np.bool_, 1), offsets),
        "energy": pa.array(np.array([f.energy for f in frames], dtype=np.float64)),
        "forces": list_array(cat("forces", np.float64, 3), offsets, 3),
    })


REJECT_SCHEMA = pa.schema([("id", pa.string()), ("system", pa.string()), ("frame", pa.int32()),
                           ("reason", pa.string())])


def write_frame_table(
    frames: Iterable[Frame],
    out: str | os.PathLike,
    rejects: str | os.PathLike,
    metadata: dict[str, Any],
    min_distance: float = DEFAULT_MIN_DISTANCE,
) -> tuple[int, int]:
    """Validate and write frames; rejects go to ``rejects`` with their reasons.

    Returns (kept, rejected). Duplicate ids are an error: ids key every later table.
    """
    kept, rejected = write_checked_table(
        frames, lambda f: frame_rejection_reason(f, min_distance), "frame", InvalidFrameError,
        frames_to_table, REJECT_SCHEMA,
        lambda f: {"id": f.id, "system": f.system, "frame": f.frame}, out, rejects,
        {**metadata, "min_distance": min_distance},
        lambda kept: {"n_systems": len({f.system for f in kept})})
    log.info("%s: kept %d of %d frames, rejected %d (%s)", out, len(kept),
             len(kept) + rejected, rejected, rejects)
    return len(kept), rejected


def read_frame_table(path: str | os.PathLike) -> list[Frame]:
    """Read a frame table back into Frame objects (exact float64 round trip)."""
    table = pq.read_table(path)
    lattices = fixed_column(table["lattice"], 3, 3)
    positions, offsets = flatten_list_column(table["positions"])
    positions = positions.reshape(-1, 3)
    forces, _ = flatten_list_column(table["forces"])
    forces = forces.reshape(-1, 3)
    numbers, _ = flatten_list_column(table["atomic_numbers"])
    tags, _ = flatten_list_column(table["tags"])
    fixed, _ = flatten_list_column(table["fixed"])
    numbers = numbers.astype(np.int64)
    tags = tags.astype(np.int8)
    fixed = fixed.astype(bool)
    ids = table["id"].to_pylist()
    systems = table["system"].to_pylist()
    frame_index = table["frame"].to_numpy()
    energies = table["energy"].to_numpy()
    out = []
    for r in range(len(ids)):
        a, b = offsets[r], offsets[r + 1]
        out.append(Frame(
            id=ids[r], system=systems[r], frame=int(frame_index[r]), lattice=lattices[r],
            positions=positions[a:b], atomic_numbers=numbers[a:b], tags=tags[a:b],
            fixed=fixed[a:b], energy=float(energies[r]), forces=forces[a:b],
        ))
    return out
