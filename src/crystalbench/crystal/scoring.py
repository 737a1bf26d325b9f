"""Scores with MatBench's names and semantics, computed here (numpy) to cross-check matbench.

Classification has two ROC-AUCs, named so nobody confuses them:
- ``rocauc``: what the MatBench leaderboard reports. matbench 0.6 turns probabilities into
  0/1 labels (threshold 0.5) before scoring, so this is the ROC-AUC of labels, which equals
  the balanced accuracy (matbench issues #137, #181).
- ``rocauc_probability``: the true ROC-AUC of the predicted probabilities.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

CLASSIFICATION_THRESHOLD = 0.5  # matbench's CLF_THRESH
MAPE_MIN_TARGET = 1e-5  # matbench's MAPE leaves out targets of magnitude <= this


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """ROC-AUC as the Mann-Whitney statistic (ties count one half)."""
    y = np.asarray(y_true).astype(bool)
    ranks = rankdata(np.asarray(score, dtype=np.float64))
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def regression_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """mae, rmse, mape, max_error and r2.

    mape is a fraction over the targets with |y| > 1e-5 only, as matbench computes it (zero
    band gaps and formation energies would otherwise dominate it); nan when none is left.
    """
    y, p = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    err = np.abs(p - y)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    nonzero = np.abs(y) > MAPE_MIN_TARGET
    return {
        "mae": float(err.mean()),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mape": float(np.mean(err[nonzero] / np.abs(y[nonzero]))) if nonzero.any()
        else float("nan"),
        "max_error": float(err.max()),
        "r2": float(1 - np.sum(err**2) / ss_tot) if ss_tot > 0 else float("nan"),
    }


def classification_scores(y_true: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    """accuracy, balanced_accuracy, f1, leaderboard rocauc and the true ROC-AUC."""
    y = np.asarray(y_true).astype(bool)
    label = np.asarray(probability, np.float64) > CLASSIFICATION_THRESHOLD
    tp, tn = int((label & y).sum()), int((~label & ~y).sum())
    fp, fn = int((label & ~y).sum()), int((~label & y).sum())
    tpr = tp / (tp + fn) if tp + fn else 0.0
    tnr = tn / (tn + fp) if tn + fp else 0.0
    return {
        "accuracy": (tp + tn) / len(y),
        "balanced_accuracy": (tpr + tnr) / 2,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
        "rocauc": roc_auc(y, label),
        "rocauc_probability": roc_auc(y, probability),
    }


def score(task_type: str, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """All scores of a task type ('regression' or 'classification')."""
    if task_type == "regression":
        return regression_scores(y_true, y_pred)
    if task_type == "classification":
        return classification_scores(y_true, y_pred)
    raise ValueError(f"task_type must be regression or classification, got {task_type!r}")
