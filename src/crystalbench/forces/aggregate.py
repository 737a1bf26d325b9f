"""Force-study tables: one row per (dataset, model, graph, training systems) over its runs.

A run is one model trained on one test fold with one seed (path
``.../{dataset}/{model}/{graph}/fold{k}/systems-{n}/seed{s}/metrics.json``); its metrics come
from that ``metrics.json``. Each row gives the mean ± sample standard deviation over the runs
(seeds, and folds where a study tests several) of the held-out L2MAE, cosine, the ratio of the
rotated-copy L2MAE to the plain one (1 for an equivariant model), the zero-force predictor's
L2MAE on the same frames, how many steps each run needed to leave the zero-force plateau, and
speed: training seconds per step (median epoch, from ``history.csv``) and inference structures
per second, each measured in its run, next to the machine's load while it trained.
The model parameters (from ``metrics.json``, or ``checkpoint.pt`` for older runs) and
training schedule that differ between the study's models are columns of their own, so an
ablation's table names what it varies. A run needs only its ``metrics.json`` and
``history.csv`` here, so kept runs can be re-aggregated without their checkpoints.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from crystalbench.core.io import write_text
from crystalbench.core.run_paths import parse_run_path
from crystalbench.core.speed import OVERSUBSCRIBED, history_speed

GROUP = ["dataset", "model", "graph", "n_train_systems"]
COLUMNS = {  # metric -> (header, format)
    "forces_l2mae": ("forces L2MAE (eV/Å)", "{:.4f}"),
    "forces_cos": ("forces cos", "{:.3f}"),
    "rotated_over_plain": ("rotated / plain", "{:.2f}"),
    "zero_force_l2mae": ("zero-force L2MAE (eV/Å)", "{:.4f}"),
    "seconds_per_step": ("train s/step", "{:.4f}"),
    "inference_structures_per_s": ("inference structures/s", "{:.0f}"),
    "load_per_cpu": ("load / CPU", "{:.2f}"),
    "energy_mae": ("energy MAE (eV)", "{:.4f}"),
    "efwt": ("EFwT", "{:.3f}"),
}


def read_run_metrics(run_dir: Path) -> dict[str, Any]:
    """A force run's ``metrics.json``, with the model parameters from ``checkpoint.pt`` for
    runs written before ``metrics.json`` carried them."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    if "model_params" not in metrics:
        checkpoint = torch.load(run_dir / "checkpoint.pt", map_location="cpu",
                                weights_only=True)
        metrics["model_params"] = json.loads(checkpoint["model_params"])
    return metrics


def load_force_runs(metric_paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """One row per run: dataset, model and graph from the run folder, then its metrics."""
    rows = []
    for path in metric_paths:
        p = Path(path)
        key = parse_run_path(p)
        if key.seed is None:
            raise ValueError(f"{p}: not a force run (no systems-<n>/seed<s>/ folders)")
        metrics = read_run_metrics(p.parent)
        epoch_seconds, load = history_speed(p.parent / "history.csv")
        metrics["seconds_per_step"] = epoch_seconds * metrics["epochs"] / metrics["steps"]
        rows.append({"dataset": key.dataset, "model": key.model, "graph": key.graph,
                     "run_dir": str(p.parent), **metrics, "load_per_cpu": load})
    if not rows:
        raise ValueError("no runs to aggregate")
    runs = pd.DataFrame(rows)
    if "rotated_forces_l2mae" in runs:
        runs["rotated_over_plain"] = runs["rotated_forces_l2mae"] / runs["forces_l2mae"]
    return runs


def typical_clock(history: pd.DataFrame) -> pd.DataFrame:
    """The run's history with ``train_seconds`` counted as epochs × its median epoch, so that
    an epoch slowed by a pause or a neighbour's burst does not shift the rest of the curve."""
    return history.assign(train_seconds=history["epoch"] * history["seconds"].median())


def held_out_curves(runs: pd.DataFrame) -> pd.DataFrame:
    """Figure 1's data: one row per run and evaluated epoch, with the step, the cumulative
    training seconds (epochs × median epoch) and the held-out force L2MAE and cosine."""
    keys = ["dataset", "model", "graph", "n_train_systems", "seed"]
    curves = []
    for _, run in runs.iterrows():
        history = typical_clock(pd.read_csv(Path(run["run_dir"]) / "history.csv"))
        history = history.dropna(subset=["val_forces_l2mae"]).astype({"epoch": int, "step": int})
        curves.append(history[["epoch", "step", "train_seconds", "val_forces_l2mae",
                               "val_forces_cos"]].assign(**{k: run[k] for k in keys}))
    return pd.concat(curves, ignore_index=True)[keys + ["epoch", "step", "train_seconds",
                                                        "val_forces_l2mae", "val_forces_cos"]]


def _plateau_text(steps: pd.Series) -> str:
    return ", ".join("never" if s is None or (isinstance(s, float) and math.isnan(s))
                     else str(int(s)) for s in steps)


def summarise_force_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample standard deviation over the runs of every metric, per group."""
    metrics = [m for m in COLUMNS if m in runs]
    grouped = runs.groupby(GROUP, sort=False)
    summary = grouped[metrics].mean()
    spread = grouped[metrics].std(ddof=1).add_suffix("_std")
    settings = ["architecture", "augment", "epochs", "steps", "parameters", "device",
                "model_params"]
    settings += ["lr_schedule"] if "lr_schedule" in runs else []
    first = grouped[settings].first()
    extra = pd.DataFrame({
        "runs": grouped.size(),
        "seeds": grouped["seed"].nunique(),
        "folds": grouped["fold"].nunique(),
        "plateau_steps": grouped["plateau_steps"].agg(_plateau_text),
    })
    return pd.concat([first, summary, spread, extra], axis=1).reset_index()


def _cell(row: pd.Series, metric: str) -> str:
    value = row.get(metric, float("nan"))
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"  # not measured (e.g. energy not trained)
    text = COLUMNS[metric][1].format(value)
    std = row.get(f"{metric}_std")
    if row["runs"] > 1 and std is not None and not math.isnan(std) and std > 0:
        text += " ± " + COLUMNS[metric][1].format(std)
    if metric in SPEED and row.get("load_per_cpu", 0.0) > OVERSUBSCRIBED:
        text += " †"
    return text


def varied_settings(summary: pd.DataFrame) -> dict[str, list[str]]:
    """Model parameters every row has (and the learning-rate schedule) whose values differ
    between the rows, each with its value per row. Parameters of one architecture only are
    left out: across architectures the architecture column says it."""
    params = summary["model_params"].tolist()
    keys = sorted(set.intersection(*(set(p) for p in params)))
    values = {k: [json.dumps(p[k]).strip('"') for p in params] for k in keys}
    if "lr_schedule" in summary:
        values["lr schedule"] = summary["lr_schedule"].fillna("linear").tolist()
    return {k: v for k, v in values.items() if len(set(v)) > 1}


SPEED = ("seconds_per_step", "inference_structures_per_s")
COST = (*SPEED, "load_per_cpu")


def force_table_markdown(summary: pd.DataFrame, title: str) -> str:
    """Markdown tables of a force study, accuracy then cost, with what each column means."""
    metrics = [m for m in COLUMNS if m in summary and summary[m].notna().any()]
    accuracy = [m for m in metrics if m not in COST]
    cost = [m for m in metrics if m in COST]
    several = summary["dataset"].nunique() > 1
    varied = varied_settings(summary)

    def table(header: list[str], cells_of) -> list[str]:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for i, row in summary.iterrows():
            name = ([row["dataset"]] if several else []) + [row["model"]] + [
                values[i] for values in varied.values()]
            lines.append("| " + " | ".join(name + cells_of(row)) + " |")
        return lines

    name_header = (["dataset"] if several else []) + ["model", *varied]
    lines = [f"# {title}", "", "## Accuracy", ""]
    lines += table(name_header + ["architecture", "augment", "train systems", "epochs", "steps",
                                  "seeds × folds"]
                   + [COLUMNS[m][0] for m in accuracy] + ["left plateau at step"],
                   lambda row: [row["architecture"], "on" if row["augment"] else "off",
                                str(int(row["n_train_systems"])), str(int(row["epochs"])),
                                f"{int(row['steps']):,}",
                                f"{int(row['seeds'])} × {int(row['folds'])}"]
                   + [_cell(row, m) for m in accuracy] + [row["plateau_steps"]])
    lines += ["", "## Cost", ""]
    lines += table(name_header + ["train systems", "params"] + [COLUMNS[m][0] for m in cost],
                   lambda row: [str(int(row["n_train_systems"])), f"{int(row['parameters']):,}"]
                   + [_cell(row, m) for m in cost])
    devices = ", ".join(sorted(set(summary["device"])))
    datasets = ", ".join(sorted(set(summary["dataset"])))
    lines += ["", f"Dataset {datasets}; held-out systems (folds split by system). Mean ± sample "
              "standard deviation over the runs (seeds × test folds) where a row has several. "
              "Forces are scored on "
              "free atoms. rotated / plain: L2MAE on Haar-random rotations of every test frame "
              "over the plain L2MAE (1 for an equivariant model). Zero-force L2MAE: the error "
              "of predicting no force at all on the same frames, the plateau a model must "
              "leave. Left plateau at step: per run, the first epoch whose training loss fell "
              "below 0.9 × the zero-force loss (never: not within the run). Cost: measured "
              f"in each run on {devices}; train s/step from the run's median epoch. Load / CPU: "
              "the machine's 1-min load average per CPU while the run trained (median over "
              "epochs; – where the run did not record it); † marks speeds from runs above "
              f"{OVERSUBSCRIBED}, where jobs queued for a core: compare speeds between rows of "
              "similar load only. Energy MAE and EFwT appear only when the energy was "
              "trained.", ""]
    return "\n".join(lines)


def write_force_study_table(
    metric_paths: Sequence[str | os.PathLike], md_path: str | os.PathLike,
    csv_path: str | os.PathLike, curves_path: str | os.PathLike, title: str,
) -> pd.DataFrame:
    """Write the study's Markdown summary, the per-run CSV and the held-out curves CSV
    (``held_out_curves``); returns the summary."""
    runs = load_force_runs(metric_paths)
    summary = summarise_force_runs(runs)
    write_text(md_path, force_table_markdown(summary, title))
    write_text(curves_path, held_out_curves(runs).to_csv(index=False))
    runs = runs.assign(model_params=runs["model_params"].map(json.dumps))
    write_text(csv_path, runs.drop(columns=["run_dir"]).to_csv(index=False))
    return summary
