"""Study figures: a parity plot of test predictions and bars of MAE and epoch time."""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from crystalbench.core.figures import figure_title, save_figure  # noqa: E402
from crystalbench.crystal.aggregate import run_key  # noqa: E402


def load_predictions(paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """All test predictions with their dataset, model and graph from the run path."""
    frames = []
    for path in paths:
        dataset, model, graph = run_key(path)
        frame = pq.read_table(path).to_pandas()
        frames.append(frame.assign(dataset=dataset, model=model, graph=graph))
    return pd.concat(frames, ignore_index=True)


def parity_plot(
    prediction_paths: Sequence[str | os.PathLike], out_paths: Sequence[str | os.PathLike],
    title: str, quantity: dict[str, str],
) -> None:
    """Predicted vs true on the test folds, one panel per (dataset, model, graph)."""
    df = load_predictions(prediction_paths)
    groups = list(df.groupby(["dataset", "model", "graph"], sort=False))
    fig, axes = plt.subplots(1, len(groups), figsize=(4.4 * len(groups), 4.8), squeeze=False,
                             layout="constrained")
    for ax, ((dataset, model, graph), g) in zip(axes[0], groups, strict=True):
        lo = min(g["target"].min(), g["prediction"].min())
        hi = max(g["target"].max(), g["prediction"].max())
        ax.plot([lo, hi], [lo, hi], color="grey", lw=1, label="y = x")
        for fold, gf in g.groupby("fold"):
            ax.scatter(gf["target"], gf["prediction"], s=8, alpha=0.6, label=f"fold {fold}")
        mae = (g["prediction"] - g["target"]).abs().mean()
        label = quantity.get(dataset, "target")
        ax.set(xlabel=f"true {label}", ylabel=f"predicted {label}",
               title=f"{dataset} · {model} · {graph}\npooled test MAE {mae:.4g}")
        ax.set_aspect("equal", adjustable="datalim")
        ax.legend(fontsize=7, loc="upper left")
    figure_title(fig, title)
    save_figure(fig, out_paths)


def bar_chart(
    summary: pd.DataFrame, out_paths: Sequence[str | os.PathLike], title: str,
    unit: dict[str, str],
) -> None:
    """Score (± std over folds) and seconds per epoch for every row of a study summary."""
    labels = [f"{r.dataset}\n{r.model}\n{r.graph}" if summary["dataset"].nunique() > 1
              else f"{r.model}\n{r.graph}" for r in summary.itertuples()]
    fig, (ax_mae, ax_time) = plt.subplots(1, 2, figsize=(max(6, 1.6 * len(labels) * 2), 4),
                                          layout="constrained")
    colors = [f"C{i}" for i in range(len(labels))]
    ax_mae.bar(labels, summary["score_mean"], yerr=summary["score_std"], color=colors,
               capsize=4)
    metrics = sorted(set(summary["metric"]))
    units = sorted({unit.get(d, "") for d in summary["dataset"]} - {""})
    ylabel = f"test {', '.join(m.upper() for m in metrics)}"
    if metrics == ["mae"] and units:
        ylabel += f" ({', '.join(units)})"
    ax_mae.set(ylabel=ylabel, title="accuracy (mean ± std over folds)")
    ax_time.bar(labels, summary["seconds_per_epoch"], color=colors)
    ax_time.set(ylabel="seconds per training epoch", title="training cost (label: speed-up)")
    if "speedup" in summary:
        for x, r in enumerate(summary.itertuples()):
            if pd.isna(r.speedup):  # no baseline graph for this dataset and model
                continue
            ax_time.annotate(f"{r.speedup:.2f}x", (x, r.seconds_per_epoch), ha="center",
                             va="bottom")
    figure_title(fig, title)
    save_figure(fig, out_paths)
