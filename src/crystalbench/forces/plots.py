"""Figure 1 of the ForceNet paper, for any force study: held-out force MAE against training
time (one curve per model) and against inference time (one point per model)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from crystalbench.plots import save_figure  # noqa: E402


def accuracy_vs_time(
    runs: pd.DataFrame, out_paths: Sequence[str | os.PathLike], title: str,
) -> None:
    """Left: held-out forces MAE vs cumulative training seconds, mean over folds per epoch.
    Right: final forces MAE vs inference milliseconds per structure."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for (dataset, model, _graph), group in runs.groupby(["dataset", "model", "graph"],
                                                       sort=False):
        label = model if runs["dataset"].nunique() == 1 else f"{model} ({dataset})"
        curves = [pd.read_csv(Path(d) / "history.csv") for d in group["run_dir"]]
        curve = pd.concat(curves).groupby("epoch")[["train_seconds", "val_forces_mae"]].mean()
        curve = curve.dropna()
        line, = left.plot(curve["train_seconds"], curve["val_forces_mae"], marker=".",
                          label=label)
        ms = 1000 / group["inference_structures_per_s"].mean()
        right.scatter(ms, group["forces_mae"].mean(), color=line.get_color(), s=40)
        right.annotate(label, (ms, group["forces_mae"].mean()), textcoords="offset points",
                       xytext=(4, 4), fontsize=8)
    device = ", ".join(sorted(set(runs["device"])))
    left.set(xlabel=f"training time (s, {device})", ylabel="held-out forces MAE (eV/Å)",
             title="accuracy vs training time")
    right.set(xlabel=f"inference time per structure (ms, {device})",
              ylabel="held-out forces MAE (eV/Å)", title="accuracy vs inference time")
    left.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, out_paths)
