"""Study tables: per (dataset, model, graph), accuracy over folds next to cost and graph size."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from crystalbench.core.io import write_text
from crystalbench.core.run_paths import parse_run_path
from crystalbench.core.speed import OVERSUBSCRIBED
from crystalbench.core.table_format import number


def run_key(path: str | os.PathLike) -> tuple[str, str, str]:
    """(dataset, model, graph) of a file in ``.../runs/{dataset}/{model}/{graph}/fold{k}/``."""
    key = parse_run_path(path)
    return key.dataset, key.model, key.graph


def load_runs(metric_paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """One row per training run, from ``results/runs/{dataset}/{model}/{graph}/fold{k}/``."""
    rows = []
    for path in metric_paths:
        path = Path(path)
        dataset, model, graph = run_key(path)
        metrics = json.loads(path.read_text())
        metric = "rocauc" if metrics.get("task_type") == "classification" else "mae"
        rows.append({"dataset": dataset, "model": model, "graph": graph, "data_verified": True,
                     "load_per_cpu": math.nan}  # runs from before the load was recorded
                    | metrics | {"metric": metric, "score": metrics[metric]})
    return pd.DataFrame(rows)


def summarise(runs: pd.DataFrame, baseline_graph: str | None) -> pd.DataFrame:
    """Mean and std over folds (numpy std, ddof=0, as MatBench reports) and the speed-up.

    The score is MAE for regression and the leaderboard's ROC-AUC for classification.

    ``speedup`` is the baseline graph's seconds per epoch divided by this graph's, for the
    same dataset and model.
    """
    keys = ["dataset", "model", "graph"]
    grouped = runs.groupby(keys, sort=False)
    summary = grouped.agg(
        folds=("fold", "count"), metric=("metric", "first"),
        score_mean=("score", "mean"), score_std=("score", lambda x: float(np.std(x))),
        seconds_per_epoch=("seconds_per_epoch", "mean"),
        load_per_cpu=("load_per_cpu", "mean"),
        mean_nodes=("mean_nodes", "mean"), mean_edges=("mean_edges", "mean"),
        parameters=("parameters", "first"), device=("device", "first"),
        data_verified=("data_verified", "all"),
    ).reset_index()
    if baseline_graph is not None:
        base = summary[summary["graph"] == baseline_graph].set_index(["dataset", "model"])
        ref = summary.set_index(["dataset", "model"]).index.map(
            lambda key: base["seconds_per_epoch"].get(key, np.nan))
        summary["speedup"] = np.asarray(ref, dtype=float) / summary["seconds_per_epoch"]
        ref_edges = summary.set_index(["dataset", "model"]).index.map(
            lambda key: base["mean_edges"].get(key, np.nan))
        summary["edge_reduction"] = np.asarray(ref_edges, dtype=float) / summary["mean_edges"]
    return summary


def to_markdown(summary: pd.DataFrame, title: str, unit: dict[str, str]) -> str:
    """A readable Markdown table (no extra dependency)."""
    several = (summary["folds"] > 1).any()
    header = ["dataset", "model", "graph", "metric",
              "score (mean ± std)" if several else "score", "s/epoch", "load / CPU",
              "nodes/graph", "edges/graph", "parameters"]
    has_speedup = "speedup" in summary
    if has_speedup:
        header += ["edge reduction", "speed-up"]
    lines = [f"# {title}", "", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    for row in summary.itertuples():
        shown_unit = unit.get(row.dataset, "") if row.metric == "mae" else ""
        score = f"{row.score_mean:.4g}" + (f" ± {row.score_std:.2g}" if row.folds > 1 else "")
        flag = " †" if row.load_per_cpu > OVERSUBSCRIBED else ""
        cells = [row.dataset, row.model, row.graph, row.metric,
                 f"{score} {shown_unit}".strip(), f"{row.seconds_per_epoch:.3f}{flag}",
                 "–" if math.isnan(row.load_per_cpu) else f"{row.load_per_cpu:.2f}",
                 number(row.mean_nodes), number(row.mean_edges), f"{row.parameters:,}"]
        if has_speedup:
            cells += [f"{row.edge_reduction:.2f}x", f"{row.speedup:.2f}x"]
        lines.append("| " + " | ".join(cells) + " |")
    folds = ", ".join(sorted({str(f) for f in summary["folds"]}))
    devices = ", ".join(sorted(set(summary["device"])))
    lines += ["", f"Folds per row: {folds}" + (". Std over folds with ddof=0" if several else "")
              + f". Device: {devices}.",
              "s/epoch: mean over folds of each run's median training-epoch time. Load / CPU: "
              "the machine's 1-min load average per CPU while the runs trained (median over "
              "epochs, mean over folds; – where not recorded); † marks times from runs above "
              f"{OVERSUBSCRIBED}, where jobs queued for a core: compare times between rows of "
              "similar load only.",
              "Score: test MAE (regression) or the leaderboard's ROC-AUC (classification)."]
    if has_speedup:
        lines.append("Speed-up and edge reduction are relative to the baseline graph of the "
                     "same dataset and model.")
    unverified = sorted(set(summary.loc[~summary["data_verified"], "dataset"]))
    if unverified:
        lines.append(f"**Unverified data** (sha256 differs from the published file, used "
                     f"because the config allows it): {', '.join(unverified)}.")
    return "\n".join(lines) + "\n"


def write_study_table(
    metric_paths: Sequence[str | os.PathLike], md_path: str | os.PathLike,
    csv_path: str | os.PathLike, title: str, baseline_graph: str | None,
    unit: dict[str, str],
) -> pd.DataFrame:
    """Aggregate the runs of one study into Markdown and CSV."""
    summary = summarise(load_runs(metric_paths), baseline_graph)
    write_text(md_path, to_markdown(summary, title, unit))
    write_text(csv_path, summary.to_csv(index=False))
    return summary
