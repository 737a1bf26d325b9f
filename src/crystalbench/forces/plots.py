"""Force-study figures: Figure 1 of the ForceNet paper (held-out force error against training
time and against inference time, seeds as bands) and the data-size curve."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from crystalbench.core.figures import figure_title, save_figure  # noqa: E402
from crystalbench.forces.aggregate import GROUP, typical_clock  # noqa: E402

L2MAE_LABEL = "held-out forces L2MAE (eV/Å)"


def _label(runs: pd.DataFrame, dataset: str, model: str) -> str:
    return model if runs["dataset"].nunique() == 1 else f"{model} ({dataset})"


def _device(runs: pd.DataFrame) -> str:
    return ", ".join(sorted(set(runs["device"])))


def learning_curve(run_dirs: Sequence[str]) -> pd.DataFrame:
    """Per evaluated epoch: mean training steps, mean cumulative training seconds (epochs ×
    each run's median epoch), mean and std of the held-out L2MAE over the runs (std 0 for one
    run)."""
    curves = pd.concat([typical_clock(pd.read_csv(Path(d) / "history.csv"))
                        for d in run_dirs])
    curves = curves.dropna(subset=["val_forces_l2mae"])
    grouped = curves.groupby("epoch")
    return pd.DataFrame({"step": grouped["step"].mean(),
                         "train_seconds": grouped["train_seconds"].mean(),
                         "l2mae": grouped["val_forces_l2mae"].mean(),
                         "l2mae_std": grouped["val_forces_l2mae"].std(ddof=1).fillna(0.0)})


def _zero_force_line(ax: plt.Axes, runs: pd.DataFrame) -> None:
    ax.axhline(runs["zero_force_l2mae"].mean(), color="0.4", ls="--", lw=1,
               label="zero-force predictor")


def accuracy_vs_time(
    runs: pd.DataFrame, out_paths: Sequence[str | os.PathLike], title: str,
) -> None:
    """Held-out L2MAE against training steps (top left: independent of the machine's load)
    and cumulative training seconds (top right), one curve per model (mean over runs, ± std
    as a band), and final L2MAE against inference milliseconds per structure (bottom left,
    error bars); the legend has the fourth cell. Studies over training-set sizes show their
    largest size."""
    largest = runs.groupby(["dataset", "model", "graph"])["n_train_systems"].transform("max")
    runs = runs[runs["n_train_systems"] == largest]
    fig, axes = plt.subplot_mosaic([["steps", "time"], ["inference", "legend"]],
                                   figsize=(11, 8.2))
    for (dataset, model, _graph, _n), group in runs.groupby(GROUP, sort=False):
        label = _label(runs, dataset, model)
        curve = learning_curve(list(group["run_dir"]))
        for ax, x in ((axes["steps"], curve["step"]), (axes["time"], curve["train_seconds"])):
            line, = ax.plot(x, curve["l2mae"], marker=".", label=label)
            ax.fill_between(x, curve["l2mae"] - curve["l2mae_std"],
                            curve["l2mae"] + curve["l2mae_std"], color=line.get_color(),
                            alpha=0.2, lw=0)
        ms = 1000 / group["inference_structures_per_s"]
        axes["inference"].errorbar(
            ms.mean(), group["forces_l2mae"].mean(),
            xerr=ms.std(ddof=1) if len(group) > 1 else None,
            yerr=group["forces_l2mae"].std(ddof=1) if len(group) > 1 else None,
            fmt="o", color=line.get_color(), capsize=3, label=label)
    for name in ("steps", "time", "inference"):
        _zero_force_line(axes[name], runs)
        axes[name].grid(alpha=0.3)
    device = _device(runs)
    axes["steps"].set(xlabel="training steps", ylabel=L2MAE_LABEL,
                      title="accuracy vs training steps")
    axes["time"].set(xlabel=f"training time (s, {device}; epochs × median epoch)",
                     ylabel=L2MAE_LABEL, title="accuracy vs training time")
    axes["inference"].set(xlabel=f"inference time per structure (ms, {device})",
                          ylabel=L2MAE_LABEL, title="accuracy vs inference time")
    axes["inference"].set_xlim(left=0)
    axes["legend"].axis("off")
    handles, labels = axes["steps"].get_legend_handles_labels()
    axes["legend"].legend(handles, labels, loc="center", title="held-out fold, per model")
    n = runs.groupby(GROUP).size()
    runs_text = str(n.min()) if n.min() == n.max() else f"{n.min()}–{n.max()}"
    figure_title(fig, f"{title}\n(mean over {runs_text} runs per model; band and bars: ± std)"
                 if n.max() > 1 else title)
    fig.tight_layout()
    save_figure(fig, out_paths)


def accuracy_vs_data_size(
    runs: pd.DataFrame, out_paths: Sequence[str | os.PathLike], title: str,
) -> None:
    """Held-out L2MAE against the number of training systems, one line per model, ± std."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for (dataset, model, _graph), group in runs.groupby(["dataset", "model", "graph"],
                                                       sort=False):
        by_size = group.groupby("n_train_systems")["forces_l2mae"]
        mean, std = by_size.mean(), by_size.std(ddof=1).fillna(0.0)
        ax.errorbar(mean.index, mean, yerr=std, marker="o", capsize=3,
                    label=_label(runs, dataset, model))
    _zero_force_line(ax, runs)
    sizes = sorted(runs["n_train_systems"].unique())
    ax.set_xticks(sizes)
    ax.set(xlabel="training systems (trajectories)", ylabel=L2MAE_LABEL)
    figure_title(fig, title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out_paths)
