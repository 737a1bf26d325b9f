"""Read MatBench v0.1 dataset files (the official gzipped pandas 'split' JSON) into structures.

Row i of task ``matbench_<name>`` has the id ``mb-<name>-<i+1>``, zero-padded to the number of
digits of the row count: the same ids matbench's own ``MatbenchTask`` uses.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import numpy as np
from pymatgen.core import Structure as PmgStructure

from crystalbench.structures import Structure


def matbench_id(task: str, row: int, n_rows: int) -> str:
    """The official MatBench id of 0-based ``row`` in ``task`` (e.g. mb-jdft2d-001)."""
    short = task.removeprefix("matbench_")
    return f"mb-{short}-{row + 1:0{len(str(n_rows))}d}"


def from_pymatgen(sid: str, structure: PmgStructure, target: float) -> Structure:
    """Convert an ordered pymatgen structure; disordered sites are an error naming ``sid``."""
    if not structure.is_ordered:
        raise ValueError(f"structure {sid!r}: disordered sites are not supported")
    return Structure(
        id=sid,
        lattice=np.array(structure.lattice.matrix, dtype=np.float64),
        frac_coords=np.array(structure.frac_coords, dtype=np.float64),
        atomic_numbers=np.array([site.specie.Z for site in structure], dtype=np.int64),
        target=float(target),
    )


def read_matbench_json(path: str | os.PathLike) -> list[Structure]:
    """Read an official ``matbench_<task>.json.gz`` file into structures, in row order."""
    path = Path(path)
    task = path.name.split(".")[0]
    with gzip.open(path, "rt") as handle:
        data = json.load(handle)
    if "structure" not in data.get("columns", []):
        raise ValueError(f"{path}: not a MatBench structure task (columns {data.get('columns')})")
    s_col = data["columns"].index("structure")
    t_col = 1 - s_col
    n = len(data["data"])
    return [
        from_pymatgen(matbench_id(task, i, n), PmgStructure.from_dict(row[s_col]), row[t_col])
        for i, row in enumerate(data["data"])
    ]
