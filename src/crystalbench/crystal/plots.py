"""Study figures: a parity plot of test predictions and bars of MAE and epoch time."""

from __future__ import annotations

import os
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from crystalbench.core.figures import figure_title, panel_grid, save_figure  # noqa: E402
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
    several = df["dataset"].nunique() > 1
    fig, axes = panel_grid(len(groups))
    for ax, ((dataset, model, graph), g) in zip(axes, groups, strict=True):
        lo = min(g["target"].min(), g["prediction"].min())
        hi = max(g["target"].max(), g["prediction"].max())
        ax.plot([lo, hi], [lo, hi], color="grey", lw=1, label="y = x")
        for fold, gf in g.groupby("fold"):
            ax.scatter(gf["target"], gf["prediction"], s=8, alpha=0.6, label=f"fold {fold}")
        mae = (g["prediction"] - g["target"]).abs().mean()
        label = quantity.get(dataset, "target")
        name = f"{dataset}\n{model} · {graph}" if several else f"{model} · {graph}"
        ax.set(xlabel=f"true {label}", ylabel=f"predicted {label}",
               title=f"{name}\npooled test MAE {mae:.4g}")
        ax.set_aspect("equal", adjustable="datalim")
        ax.legend(fontsize="small", loc="upper left")
    figure_title(fig, title)
    save_figure(fig, out_paths)


def bar_chart(
    summary: pd.DataFrame, out_paths: Sequence[str | os.PathLike], title: str,
    unit: dict[str, str],
) -> None:
    """Score (± std over folds) and seconds per epoch for every row of a study summary, as
    horizontal bars: one row per run group, labels that never collide, any number of rows."""
    several = summary["dataset"].nunique() > 1
    labels = [f"{r.dataset}\n{r.model} · {r.graph}" if several else f"{r.model}\n{r.graph}"
              for r in summary.itertuples()]
    rows = list(range(len(labels)))
    fig, (ax_mae, ax_time) = plt.subplots(1, 2, figsize=(9.0, 1.6 + 0.6 * len(labels)),
                                          sharey=True, layout="constrained")
    colors = [f"C{i}" for i in rows]
    folds = (summary["folds"] > 1).any()
    ax_mae.barh(rows, summary["score_mean"], xerr=summary["score_std"] if folds else None,
                color=colors, capsize=4)
    ax_mae.set_yticks(rows, labels)
    ax_mae.invert_yaxis()
    metrics = sorted(set(summary["metric"]))
    units = sorted({unit.get(d, "") for d in summary["dataset"]} - {""})
    xlabel = f"test {', '.join(m.upper() for m in metrics)}"
    if metrics == ["mae"] and units:
        xlabel += f" ({', '.join(units)})"
    ax_mae.set(xlabel=xlabel, title="accuracy (mean ± std over folds)" if folds else "accuracy")
    ax_time.barh(rows, summary["seconds_per_epoch"], color=colors)
    ax_time.set(xlabel="seconds per training epoch",
                title="training cost (label: speed-up)" if "speedup" in summary
                else "training cost")
    if "speedup" in summary:
        for y, r in zip(rows, summary.itertuples(), strict=True):
            if pd.isna(r.speedup):  # no baseline graph for this dataset and model
                continue
            ax_time.annotate(f"{r.speedup:.2f}x", (r.seconds_per_epoch, y), xytext=(3, 0),
                             textcoords="offset points", va="center")
        ax_time.set_xlim(right=1.25 * summary["seconds_per_epoch"].max())
    figure_title(fig, title)
    save_figure(fig, out_paths)
