"""The one reading of a run folder's path, for crystal and force runs alike.

Crystal runs live in ``.../runs/{dataset}/{model}/{graph}/fold{k}/``, force runs one or two
levels deeper in ``.../runs/{dataset}/{model}/{graph}/fold{k}/systems-{n|all}/seed{s}/``;
tables, figures and submissions take the run's identity from here, checked, never by
counting parents.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FOLD = re.compile(r"fold(\d+)")
SYSTEMS = re.compile(r"systems-(all|[1-9]\d*)")
SEED = re.compile(r"seed(-?\d+)")


@dataclass(frozen=True)
class RunKey:
    """Who a run is: dataset, model, graph, test fold, and for force runs the training-set
    size (``"all"`` or a number of systems) and the seed."""

    dataset: str
    model: str
    graph: str
    fold: int
    systems: str | None = None
    seed: int | None = None


def parse_run_path(path: str | os.PathLike) -> RunKey:
    """The run of a file inside a run folder; a path of another shape is an error naming it."""
    parts = Path(path).parts[:-1]  # the file's folders
    extra: dict[str, object] = {}
    if len(parts) >= 2 and SEED.fullmatch(parts[-1]) and SYSTEMS.fullmatch(parts[-2]):
        extra = {"systems": SYSTEMS.fullmatch(parts[-2]).group(1),
                 "seed": int(SEED.fullmatch(parts[-1]).group(1))}
        parts = parts[:-2]
    if len(parts) < 5 or parts[-5] != "runs" or not FOLD.fullmatch(parts[-1]):
        raise ValueError(f"{path}: not inside runs/<dataset>/<model>/<graph>/fold<k>/ "
                         "(force runs: .../fold<k>/systems-<n|all>/seed<s>/)")
    return RunKey(parts[-4], parts[-3], parts[-2], int(FOLD.fullmatch(parts[-1]).group(1)),
                  **extra)


def force_study_run_dirs(forces: dict[str, Any], study: str) -> list[str]:
    """Every force run folder a study aggregates,
    ``runs/{dataset}/{model}/{graph}/fold{k}/systems-{n}/seed{s}`` (relative to
    ``results/forces/`` or to a kept folder), in a fixed order: dataset, model, graph, test
    fold, training-set size, seed. ``forces`` is the config's ``forces`` section."""
    s = forces["studies"][study]
    folds = forces.get("test_folds", list(range(forces["folds"])))
    return [f"runs/{d}/{m}/{g}/fold{k}/systems-{n}/seed{seed}"
            for d in s["datasets"] for m in s["models"] for g in s["graphs"] for k in folds
            for n in s.get("train_systems", ["all"])
            for seed in s.get("seeds", [forces["models"][m]["train"].get("seed", 0)])]


def model_graph_pairs(study: dict[str, Any]) -> list[tuple[str, str]]:
    """(model, graph) runs of a study: every combination, or models[i] on graphs[i]."""
    if study.get("paired"):
        return list(zip(study["models"], study["graphs"], strict=True))
    return [(m, g) for m in study["models"] for g in study["graphs"]]


def study_run_dirs(config: dict[str, Any], study: str) -> list[str]:
    """Every crystal run folder a study aggregates, ``runs/{dataset}/{model}/{graph}/fold{k}``
    (relative to ``results/`` or to a published folder), in a fixed order."""
    s = config["studies"][study]
    return [f"runs/{d}/{m}/{g}/fold{k}" for d in s["datasets"]
            for m, g in model_graph_pairs(s) for k in range(config["folds"])]
