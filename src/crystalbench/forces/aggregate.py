"""Force-study tables: one row per (dataset, model, graph) over its test folds.

Metrics come from each run's ``metrics.json`` (path ``.../{dataset}/{model}/{graph}/fold{k}/``).
Means over folds with the spread, the rotated-copy error next to the plain one (their ratio
shows how far a model is from equivariance), and speed: training seconds per step and
inference structures per second, measured in each run on its own device.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from crystalbench.io import write_text

COLUMNS = {  # metric -> (header, format)
    "forces_mae": ("forces MAE (eV/Å)", "{:.4f}"),
    "forces_l2mae": ("forces L2MAE (eV/Å)", "{:.4f}"),
    "forces_cos": ("forces cos", "{:.3f}"),
    "forces_magnitude": ("|F| error (eV/Å)", "{:.4f}"),
    "rotated_forces_l2mae": ("rotated L2MAE (eV/Å)", "{:.4f}"),
    "rotated_forces_cos": ("rotated cos", "{:.3f}"),
    "energy_mae": ("energy MAE (eV)", "{:.4f}"),
    "efwt": ("EFwT", "{:.3f}"),
    "seconds_per_step": ("train s/step", "{:.4f}"),
    "inference_structures_per_s": ("inference structures/s", "{:.1f}"),
}


def load_force_runs(metric_paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """One row per run with dataset, model, graph taken from the run folder."""
    rows = []
    for path in metric_paths:
        p = Path(path)
        fold_dir, graph_dir = p.parent, p.parent.parent
        rows.append({"dataset": graph_dir.parent.parent.name, "model": graph_dir.parent.name,
                     "graph": graph_dir.name, "run_dir": str(fold_dir),
                     **json.loads(p.read_text())})
    if not rows:
        raise ValueError("no runs to aggregate")
    return pd.DataFrame(rows)


def summarise_force_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over folds of every metric, per (dataset, model, graph)."""
    keys = ["dataset", "model", "graph"]
    metrics = [m for m in COLUMNS if m in runs]
    grouped = runs.groupby(keys, sort=False)
    summary = grouped[metrics].mean()
    spread = grouped[metrics].std(ddof=0).add_suffix("_std")
    first = grouped[["architecture", "augment", "parameters", "device"]].first()
    folds = grouped.size().rename("folds")
    out = pd.concat([first, summary, spread, folds], axis=1).reset_index()
    if "rotated_forces_l2mae" in out:
        out["rotated_over_plain"] = out["rotated_forces_l2mae"] / out["forces_l2mae"]
    return out


def _cell(row: pd.Series, metric: str) -> str:
    value = row.get(metric, float("nan"))
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"  # not measured (e.g. energy not trained)
    text = COLUMNS[metric][1].format(value)
    std = row.get(f"{metric}_std")
    if row["folds"] > 1 and std is not None and not math.isnan(std):
        text += " ± " + COLUMNS[metric][1].format(std)
    return text


def force_table_markdown(summary: pd.DataFrame, title: str) -> str:
    """Markdown table of a force study, with what each column means below it."""
    metrics = [m for m in COLUMNS if m in summary]
    header = ["dataset", "model", "architecture", "augment", "params", "folds"]
    header += [COLUMNS[m][0] for m in metrics]
    if "rotated_over_plain" in summary:
        header.append("rotated / plain")
    lines = [f"# {title}", "", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    for _, row in summary.iterrows():
        cells = [row["dataset"], row["model"], row["architecture"],
                 "on" if row["augment"] else "off", f"{int(row['parameters']):,}",
                 str(int(row["folds"]))]
        cells += [_cell(row, m) for m in metrics]
        if "rotated_over_plain" in summary:
            cells.append(f"{row['rotated_over_plain']:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    devices = ", ".join(sorted(set(summary["device"])))
    lines += ["", f"Mean ± standard deviation over test folds (split by system). Device: "
              f"{devices}. Forces are scored on free atoms; \"rotated\" scores every test "
              "frame under Haar-random rotations; rotated / plain is the ratio of the L2MAEs, "
              "which is 1 for an equivariant model (the component MAE is not rotation "
              "invariant, so it is not compared). Energy MAE and EFwT (|ΔE| < 0.02 eV and "
              "max |ΔF| < 0.03 eV/Å) only when the energy was trained (–: not trained).", ""]
    return "\n".join(lines)


def write_force_study_table(
    metric_paths: Sequence[str | os.PathLike], md_path: str | os.PathLike,
    csv_path: str | os.PathLike, title: str,
) -> pd.DataFrame:
    """Write the study's Markdown summary and the per-run CSV; returns the summary."""
    runs = load_force_runs(metric_paths)
    summary = summarise_force_runs(runs)
    write_text(md_path, force_table_markdown(summary, title))
    write_text(csv_path, runs.drop(columns=["run_dir"]).to_csv(index=False))
    return summary
