"""The paper's MatBench table side by side with ours.

Per task: our score (mean ± std over the official folds) next to the paper's coGN and coNGN
submissions and the leaderboard's best entry (a data file in the repo naming its source), and
per fold against the paper's own coNGN per-fold scores from its submitted results file.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from crystalbench.core.io import write_text
from crystalbench.crystal.aggregate import load_runs

OFFICIAL_FOLDS = 5  # every MatBench v0.1 task


def recorded_fold_scores(path: str | os.PathLike) -> dict[str, dict[int, dict[str, float]]]:
    """Per-task, per-fold scores recorded in a MatBench results file (e.g. the paper's).

    Official files are gzipped; matbench 0.6's ``to_file`` writes plain JSON: read both.
    """
    with open(path, "rb") as handle:
        gzipped = handle.read(2) == b"\x1f\x8b"
    with (gzip.open if gzipped else open)(path, "rt") as handle:
        data = json.load(handle)
    return {
        task: {int(k.split("_")[1]): v["scores"] for k, v in info["results"].items()}
        for task, info in data["tasks"].items()
    }


def partial_folds(folds: list[int], paper_folds: dict[int, dict[str, float]],
                  metric: str) -> str:
    """Nothing for all official folds; else which folds the mean covers and the paper's coNGN
    mean over the same folds, the only fair comparison for a partial run."""
    if len(folds) == OFFICIAL_FOLDS:
        return ""
    note = f" ({len(folds)} of {OFFICIAL_FOLDS} folds: {', '.join(map(str, folds))}"
    paper = [paper_folds[f][metric] for f in folds if metric in paper_folds.get(f, {})]
    if len(paper) == len(folds):
        note += f"; paper coNGN on them {np.mean(paper):.4g}"
    return note + ")"


def _fmt(pair: Sequence[float] | None) -> str:
    return "–" if pair is None else f"{pair[0]:.4g} ± {pair[1]:.2g}"


def write_matbench_table(
    metric_paths: Sequence[str | os.PathLike], reference_scores: str | os.PathLike,
    reference_results: str | os.PathLike | None, md_path: str | os.PathLike,
    csv_path: str | os.PathLike,
) -> pd.DataFrame:
    """Write the side-by-side Markdown table and the per-fold CSV; return the per-fold frame."""
    refs: dict[str, Any] = yaml.safe_load(Path(reference_scores).read_text())
    runs = load_runs(metric_paths)
    folds_ref = recorded_fold_scores(reference_results) if reference_results else {}
    rows, lines = [], []
    header = ["task", "model", "graph", "metric", "ours (mean ± std)", "paper coGN",
              "paper coNGN", "leaderboard best"]
    lines += ["# MatBench v0.1: ours next to the paper", "",
              "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    unverified = set()
    for (task, model, graph), group in runs.groupby(["dataset", "model", "graph"], sort=True):
        ref = refs["tasks"][task]
        metric = ref["metric"]
        values = group.sort_values("fold")
        ours = (values[metric].mean(), float(np.std(values[metric])))
        if not values["data_verified"].all():
            unverified.add(task)
        best = ref["best"]
        flag = " (unverified data)" if task in unverified else ""
        lines.append("| " + " | ".join([
            task + flag, model, graph, metric,
            _fmt(ours) + partial_folds(values["fold"].tolist(), folds_ref.get(task, {}),
                                       metric), _fmt(ref["coGN"]),
            _fmt(ref["coNGN"]), f"{_fmt(best['score'])} ({best['model']})"]) + " |")
        if metric == "rocauc":
            prob = values["rocauc_probability"]
            lines.append(f"| {task}{flag} | {model} | {graph} | ROC-AUC of probabilities | "
                         f"{_fmt((prob.mean(), float(np.std(prob))))} | – | – | – |")
        for r in values.itertuples():
            paper = folds_ref.get(task, {}).get(int(r.fold), {}).get(metric, np.nan)
            rows.append({"task": task, "model": model, "graph": graph, "fold": int(r.fold),
                         "metric": metric, "ours": getattr(r, metric), "paper_coNGN": paper,
                         "data_verified": bool(r.data_verified)})
    per_fold = pd.DataFrame(rows)
    lines += ["", f"Reference scores: {refs['source']}. Std over folds with ddof=0."]
    if (runs["metric"] == "rocauc").any():
        lines.append("mp_is_metal `rocauc` is the leaderboard's (matbench 0.6 scores 0/1 "
                     "labels: balanced accuracy); the row below it is the true ROC-AUC of "
                     "probabilities.")
    if unverified:
        lines.append(f"**Unverified data** (sha256 differs from the published file, used "
                     f"because the config allows it): {', '.join(sorted(unverified))}.")
    if folds_ref:
        lines += ["", "## Per fold against the paper's coNGN submission", "",
                  "| task | model | graph | fold | metric | ours | paper coNGN |",
                  "|---|---|---|---|---|---|---|"]
        for r in per_fold.itertuples():
            lines.append(f"| {r.task} | {r.model} | {r.graph} | {r.fold} | {r.metric} | "
                         f"{r.ours:.4g} | {r.paper_coNGN:.4g} |")
    else:
        lines += ["", "No reference results file configured: per-fold comparison skipped."]
    write_text(md_path, "\n".join(lines) + "\n")
    write_text(csv_path, per_fold.to_csv(index=False))
    return per_fold
