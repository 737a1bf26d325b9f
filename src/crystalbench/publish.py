"""Copy a finished reproduction into a small tracked folder, with where it came from.

What is copied: the studies' tables and figures, the MatBench table and submission files, and
of every training run its ``metrics.json``, ``predictions.parquet`` and ``history.csv`` (not
the weights: a few MB in all instead of tens). ``provenance.json`` records the code commit,
the config (path and text), the machine, the date, each run's wall time, device and commit,
and which expected files were missing, so a partial copy says that it is partial.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crystalbench.io import atomic_path, write_json
from crystalbench.provenance import provenance

log = logging.getLogger(__name__)

RUN_FILES = ("metrics.json", "predictions.parquet", "history.csv")


def published_path(path: Path, out: Path) -> Path:
    """Where ``results/...`` goes under ``out`` (the part after ``results/``)."""
    parts = path.parts
    relative = Path(*parts[parts.index("results") + 1:]) if "results" in parts else Path(
        path.name)
    return out / relative


def copy_file(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


def run_record(run_dir: Path) -> dict[str, Any]:
    """A run's wall time and where it ran, from its metrics.json."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    keys = ("epochs", "train_seconds", "seconds_per_epoch", "predict_seconds", "device",
            "threads", "parameters", "torch", "provenance")
    return {k: metrics[k] for k in keys if k in metrics}


def publish(out: str | os.PathLike, config_path: str | os.PathLike,
            files: Sequence[str | os.PathLike], run_dirs: Sequence[str | os.PathLike],
            ) -> dict[str, Any]:
    """Copy ``files`` and the runs' small files under ``out``; write ``provenance.json``.

    Files that do not exist yet are listed as missing instead of failing, so the runs of a
    reproduction that spans several sessions can be published as they finish.
    """
    out_dir = Path(out)
    copied, missing = [], []
    for source in map(Path, files):
        if source.exists():
            copy_file(source, published_path(source, out_dir))
            copied.append(str(source))
        else:
            missing.append(str(source))
    runs = {}
    for run_dir in map(Path, run_dirs):
        if not (run_dir / "metrics.json").exists():
            missing.append(str(run_dir))
            continue
        for name in RUN_FILES:
            copy_file(run_dir / name, published_path(run_dir / name, out_dir))
        runs[str(run_dir)] = run_record(run_dir)
    total = sum(r.get("train_seconds", 0.0) + r.get("predict_seconds", 0.0)
                for r in runs.values())
    record = provenance() | {
        "config": {"path": str(config_path), "text": Path(config_path).read_text()},
        "complete": not missing, "missing": missing, "files": copied,
        "runs": runs, "train_and_predict_seconds": total,
    }
    write_json(out_dir / "provenance.json", record)
    log.info("published %d files and %d runs to %s (%d missing)", len(copied), len(runs),
             out_dir, len(missing))
    return record
