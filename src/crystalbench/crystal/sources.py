"""Where a crystal dataset's structures come from: the config's ``source:`` names an entry.

Each source says which files the structures step reads (they become the Snakemake rule's
inputs, so a download or copy runs first) and how to read them into structures with the
metadata the table carries. Adding a source is one entry in ``DATASET_SOURCES``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crystalbench.core.validation import DEFAULT_MIN_DISTANCE
from crystalbench.crystal.structures import Structure, write_structure_table

Files = Mapping[str, str]  # role -> path


@dataclass(frozen=True)
class DatasetSource:
    """The files a source reads (by role) and how it reads them."""

    inputs: Callable[[str, Mapping[str, Any]], dict[str, str]]
    read: Callable[[str, Mapping[str, Any], Files],
                   tuple[Iterable[Structure], dict[str, Any]]]


def _read_demo(name: str, entry: Mapping[str, Any], files: Files,
               ) -> tuple[Iterable[Structure], dict[str, Any]]:
    from crystalbench.crystal.demo import generate_demo_alloys

    seed = int(entry["seed"])
    return generate_demo_alloys(seed), {
        "dataset": name, "generator": "crystalbench.crystal.demo", "seed": seed,
        "target": "EMT energy per atom", "unit": "eV/atom", "task_type": "regression",
        "verified": True}


def _matbench_files(name: str, entry: Mapping[str, Any]) -> dict[str, str]:
    return {"data": f"resources/datasets/{name}.json.gz",
            "record": f"resources/datasets/{name}.verification.json"}


def _read_matbench(name: str, entry: Mapping[str, Any], files: Files,
                   ) -> tuple[Iterable[Structure], dict[str, Any]]:
    from crystalbench.crystal.matbench import read_matbench_json, task_metadata

    record = json.loads(Path(files["record"]).read_text())
    meta = task_metadata(name)
    return read_matbench_json(files["data"]), {
        "dataset": name, "target": meta["target"], "unit": meta["unit"],
        "task_type": meta["task_type"], "sha256": record["sha256"],
        "verified": record["verified"]}


# the sources a crystal dataset's `source:` may name; adding one is one entry here
DATASET_SOURCES: dict[str, DatasetSource] = {
    "demo": DatasetSource(lambda name, entry: {}, _read_demo),
    "matbench": DatasetSource(_matbench_files, _read_matbench),
}


def write_dataset(
    name: str, entry: Mapping[str, Any], files: Files, out: str | os.PathLike,
    rejects: str | os.PathLike, min_distance: float = DEFAULT_MIN_DISTANCE,
) -> tuple[int, int]:
    """Read dataset ``name`` from its source and write its structure table and rejects."""
    source = DATASET_SOURCES[entry["source"]]
    missing = set(source.inputs(name, entry)) - set(files)
    if missing:
        raise ValueError(f"dataset {name!r} (source {entry['source']!r}) needs the files "
                         f"{sorted(missing)}")
    structures, metadata = source.read(name, entry, files)
    return write_structure_table(structures, out, rejects, metadata, min_distance)
