"""Publish a reproduction into a small tracked folder: its runs, tables, figures, provenance.

Of every training run, ``metrics.json``, ``predictions.parquet`` and ``history.csv`` are
copied (not the weights: a few MB in all instead of tens). The tables, figures, MatBench
table and submission files are then rebuilt, with the pipeline's own functions, from *all*
runs in the folder, those copied now and those published before. So a reproduction too long
for one sitting can be published fold by fold: each call adds its runs, the tables cover
what is there, and ``provenance.json`` lists the expected runs still missing. A MatBench
submission is written for the tasks whose five folds are all there.

``provenance.json`` records the code commit, config (path and text), machine and date of the
publication, and of each run its wall time, device and its own commit, machine and date.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crystalbench.core.io import atomic_path, write_json
from crystalbench.core.provenance import provenance
from crystalbench.core.run_paths import study_run_dirs
from crystalbench.core.schema import load_config

log = logging.getLogger(__name__)

RUN_FILES = ("metrics.json", "predictions.parquet", "history.csv")


def run_folder(run_dir: Path) -> Path:
    """``runs/{dataset}/{model}/{graph}/fold{k}`` of a run folder, wherever it lies."""
    parts = run_dir.parts
    if len(parts) < 5 or parts[-5] != "runs" or not parts[-1].startswith("fold"):
        raise ValueError(f"{run_dir}: not a run folder runs/<dataset>/<model>/<graph>/fold<k>")
    return Path(*parts[-5:])


def copy_run(run_dir: Path, out: Path) -> None:
    """Copy a finished run's small files (metrics.json must exist: the run ended)."""
    if not (run_dir / "metrics.json").exists():
        raise FileNotFoundError(f"{run_dir}: no metrics.json, the run has not finished")
    target = out / run_folder(run_dir)
    target.mkdir(parents=True, exist_ok=True)
    for name in RUN_FILES:
        with atomic_path(target / name) as tmp:
            shutil.copyfile(run_dir / name, tmp)


def run_record(run_dir: Path) -> dict[str, Any]:
    """A run's wall time and where it ran, from its metrics.json."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    keys = ("epochs", "train_seconds", "seconds_per_epoch", "predict_seconds", "device",
            "threads", "parameters", "torch", "provenance")
    return {k: metrics[k] for k in keys if k in metrics}


def write_study(config: dict[str, Any], study: str, runs: list[Path], out: Path) -> None:
    """A study's table and figures from the runs present (the aggregate rule's functions)."""
    from crystalbench.crystal.aggregate import write_study_table
    from crystalbench.crystal.plots import bar_chart, parity_plot

    s = config["studies"][study]
    title = s.get("title", study)
    units = {d: c["unit"] for d, c in config["datasets"].items()}
    quantities = {d: c["quantity"] for d, c in config["datasets"].items()}
    summary = write_study_table([r / "metrics.json" for r in runs],
                                out / "tables" / f"{study}.md", out / "tables" / f"{study}.csv",
                                title, s.get("baseline"), units)
    parity_plot([r / "predictions.parquet" for r in runs],
                [out / "figures" / f"{study}_parity.png"], title, quantities)
    bar_chart(summary, [out / "figures" / f"{study}_bars.png"], title, units)


def write_matbench(config: dict[str, Any], runs: list[Path], out: Path,
                   reference_scores: Path, data_dir: Path | None) -> list[str]:
    """MatBench table of the runs present, and a submission per (model, graph) for the tasks
    with all folds (needs the dataset files in ``data_dir``); returns the tasks submitted."""
    from crystalbench import __version__
    from crystalbench.crystal.matbench_table import write_matbench_table
    from crystalbench.crystal.submission import write_submission

    write_matbench_table([r / "metrics.json" for r in runs], reference_scores,
                         config.get("matbench", {}).get("reference_results"),
                         out / "tables" / "matbench.md", out / "tables" / "matbench.csv")
    submitted = []
    folds = config.get("folds", 5)
    by_pair: dict[tuple[str, str], dict[str, list[Path]]] = {}
    for r in runs:
        dataset, model, graph = r.parts[-4:-1]
        by_pair.setdefault((model, graph), {}).setdefault(dataset, []).append(r)
    for (model, graph), tasks in sorted(by_pair.items()):
        complete = {t: rs for t, rs in tasks.items() if len(rs) == folds}
        if not complete or data_dir is None:
            continue
        folder = out / "matbench" / f"{model}-{graph}"
        write_submission([r / "predictions.parquet" for rs in complete.values() for r in rs],
                         data_dir, folder / "results.json.gz", folder / "scores.json",
                         {"algorithm": f"crystalbench {model} on {graph}",
                          "crystalbench_version": __version__, "model": model,
                          "graph": graph})
        submitted += [f"{t} ({model}-{graph})" for t in sorted(complete)]
    return submitted


def publish(out: str | os.PathLike, config_path: str | os.PathLike,
            run_dirs: Sequence[str | os.PathLike], reference_scores: str | os.PathLike,
            data_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Add ``run_dirs`` to the folder ``out`` and rebuild everything from its runs.

    ``reference_scores``: the published scores file of the MatBench table; ``data_dir``: the
    verified dataset files, needed for submission files (none are written without it).
    """
    out_dir = Path(out)
    config = load_config(config_path)
    for run_dir in map(Path, run_dirs):
        copy_run(run_dir, out_dir)
    expected, missing = {}, []
    for study in config["studies"]:
        runs = [Path(r) for r in study_run_dirs(config, study)]
        present = [out_dir / r for r in runs if (out_dir / r / "metrics.json").exists()]
        missing += [str(r) for r in runs if not (out_dir / r / "metrics.json").exists()]
        expected[study] = {"expected": len(runs), "present": len(present)}
        if present:
            write_study(config, study, present, out_dir)
    submitted: list[str] = []
    study = config.get("matbench", {}).get("study")
    if study:
        present = [out_dir / r for r in map(Path, study_run_dirs(config, study))
                   if (out_dir / r / "metrics.json").exists()]
        if present:
            submitted = write_matbench(config, present, out_dir, Path(reference_scores),
                                       Path(data_dir) if data_dir else None)
    runs = {str(p.parent.relative_to(out_dir)): run_record(p.parent)
            for p in sorted(out_dir.glob("runs/*/*/*/fold*/metrics.json"))}
    record = provenance() | {
        "config": {"path": str(config_path), "text": Path(config_path).read_text()},
        "complete": not missing, "missing": sorted(set(missing)), "studies": expected,
        "matbench_submissions": submitted, "runs": runs,
        "train_and_predict_seconds": sum(r.get("train_seconds", 0.0)
                                         + r.get("predict_seconds", 0.0)
                                         for r in runs.values()),
    }
    write_json(out_dir / "provenance.json", record)
    log.info("%s: %d runs published, %d expected runs missing", out_dir, len(runs),
             len(record["missing"]))
    return record
