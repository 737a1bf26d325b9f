"""MatBench v0.1: dataset files, task metadata and official folds.

Row i of task ``matbench_<name>`` has the id ``mb-<name>-<i+1>``, zero-padded to the number of
digits of the row count, as matbench's own loader assigns it. Task metadata and folds come from
the files that ship inside the ``matbench`` package (installed with ``--no-deps``: matbench 0.6
pins scipy 1.7.3 and matminer 0.7.4, which do not install on Python 3.11).
"""

from __future__ import annotations

import gzip
import importlib.resources
import json
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pymatgen.core import DummySpecies, Element, Species
from pymatgen.core import Structure as PmgStructure

from crystalbench.core.progress import Progress
from crystalbench.crystal.structures import Structure

log = logging.getLogger(__name__)

STRUCTURE_TASKS = (
    "matbench_dielectric", "matbench_jdft2d", "matbench_log_gvrh", "matbench_log_kvrh",
    "matbench_mp_e_form", "matbench_mp_gap", "matbench_mp_is_metal", "matbench_perovskites",
    "matbench_phonons",
)


def matbench_id(task: str, row: int, n_rows: int) -> str:
    """The official MatBench id of 0-based ``row`` in ``task`` (e.g. mb-jdft2d-001)."""
    prefix = task.replace("matbench", "mb").replace("_", "-")
    return f"{prefix}-{row + 1:0{len(str(n_rows))}d}"


def rejected_structure(sid: str, reason: str, target: float = float("nan")) -> Structure:
    """A placeholder row that validation turns into a reject with ``reason``."""
    return Structure(sid, np.eye(3), np.zeros((0, 3)), np.zeros(0, dtype=np.int64),
                     float(target), problem=reason)


def from_pymatgen(sid: str, structure: PmgStructure, target: float) -> Structure:
    """Convert an ordered pymatgen structure; a disordered one, or one with a site that is
    not a chemical element (a dummy or placeholder species), becomes a reject."""
    if not structure.is_ordered:
        return rejected_structure(sid, "disordered sites are not supported", target)
    for k, site in enumerate(structure):
        if isinstance(site.specie, DummySpecies) or not isinstance(site.specie,
                                                                   Element | Species):
            return rejected_structure(
                sid, f"site {k}: {str(site.specie)!r} is not a chemical element", target)
    return Structure(
        id=sid,
        lattice=np.array(structure.lattice.matrix, dtype=np.float64),
        frac_coords=np.array(structure.frac_coords, dtype=np.float64),
        atomic_numbers=np.array([site.specie.Z for site in structure], dtype=np.int64),
        target=float(target),
    )


def target_value(raw: Any) -> tuple[float, str]:
    """A JSON target as a float, or NaN and why it is not one (null, a string, a list)."""
    if raw is None:
        return float("nan"), "target is missing (null)"
    if isinstance(raw, bool | int | float):
        return float(raw), ""
    return float("nan"), f"target {raw!r} is not a number"


def _species_problem(raw: dict[str, Any]) -> str:
    """Why a pymatgen structure dict's sites cannot be read, checked before pymatgen is."""
    sites = raw.get("sites")
    if not isinstance(sites, list) or not sites:
        return "the structure has no sites"
    for k, site in enumerate(sites):
        species = site.get("species") if isinstance(site, dict) else None
        if not isinstance(species, list) or not species:
            return f"site {k} has no species"
        for entry in species:
            element = entry.get("element") if isinstance(entry, dict) else None
            if not isinstance(element, str) or not Element.is_valid_symbol(element):
                return f"site {k}: {element!r} is not a chemical element"
    return ""


def structure_from_row(sid: str, raw_structure: Any, raw_target: Any) -> Structure:
    """One MatBench row as a Structure; whatever makes the row unusable becomes its reject
    reason (validated later), so one bad row never stops the file."""
    target, problem = target_value(raw_target)
    if not problem:
        problem = ("the structure is not a pymatgen dict" if not isinstance(raw_structure, dict)
                   else _species_problem(raw_structure))
    if problem:
        return rejected_structure(sid, problem, target)
    try:
        structure = PmgStructure.from_dict(raw_structure)
    except Exception as exc:  # a broken dict raises KeyError, TypeError, ValueError, ...
        message = " ".join(str(exc).split()) or type(exc).__name__
        return rejected_structure(sid, f"pymatgen cannot read the structure: {message}", target)
    return from_pymatgen(sid, structure, target)


def read_matbench_json(path: str | os.PathLike) -> list[Structure]:
    """Read an official ``matbench_<task>.json.gz`` file into structures, in row order.

    A file that cannot be opened or parsed stops with an error naming it; a bad row becomes
    a structure whose ``problem`` says what is wrong with it.
    """
    path = Path(path)
    task = path.name.split(".")[0]
    try:
        with gzip.open(path, "rt") as handle:
            data = json.load(handle)
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: cannot read a gzipped MatBench JSON file: {exc}") from exc
    columns = data.get("columns", []) if isinstance(data, dict) else []
    if "structure" not in columns or len(columns) != 2 or not isinstance(data.get("data"), list):
        raise ValueError(f"{path}: not a MatBench structure task (columns {columns})")
    s_col = columns.index("structure")
    t_col = 1 - s_col
    n = len(data["data"])
    progress = Progress(f"reading {task}", n, log)
    structures = []
    for i, row in enumerate(data["data"]):
        sid = matbench_id(task, i, n)
        if isinstance(row, list) and len(row) == 2:
            structures.append(structure_from_row(sid, row[s_col], row[t_col]))
        else:
            structures.append(rejected_structure(sid, "the row is not a [structure, target] "
                                                 "pair"))
        progress.step()
    return structures


@lru_cache(maxsize=2)
def _package_json(name: str) -> dict[str, Any]:
    return json.loads((importlib.resources.files("matbench") / name).read_text())


def task_metadata(task: str) -> dict[str, Any]:
    """target, task_type (regression/classification), unit and n_samples of a task."""
    meta = _package_json("matbench_v0.1_dataset_metadata.json")
    if task not in meta:
        raise KeyError(f"{task!r} is not a MatBench v0.1 task")
    return {k: meta[task][k] for k in ("target", "task_type", "unit", "n_samples")}


def official_folds(task: str) -> pd.DataFrame:
    """id -> fold in which the id is a test id, from matbench_v0.1_validation.json."""
    splits = _package_json("matbench_v0.1_validation.json")["splits"][task]
    rows = []
    all_ids: set[str] = set()
    for key in sorted(splits, key=lambda k: int(k.split("_")[1])):
        fold = int(key.split("_")[1])
        test, train = splits[key]["test"], splits[key]["train"]
        if set(test) & set(train):
            raise ValueError(f"{task} {key}: train and test overlap")
        all_ids |= set(test) | set(train)
        rows += [(sid, fold) for sid in test]
    frame = pd.DataFrame(rows, columns=["id", "fold"])
    if frame["id"].duplicated().any() or set(frame["id"]) != all_ids:
        raise ValueError(f"{task}: the test folds do not partition the ids")
    return frame
