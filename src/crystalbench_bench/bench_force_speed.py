"""Benchmark (not a test): training and inference speed of a force study's models, each alone.

Force studies record speed inside long runs that may share the machine with other jobs. This
bench trains every model of one study for a few epochs with the loop of ``crystalbench
s2ef-train`` (same graphs, batches, augmentation and scoring) one model at a time, and prints
each model's median seconds per training step and inference structures per second with their
ratios to the study's first model, all measured in the same run.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from snakemake.utils import update_config

from crystalbench.forces.train import ForceTrainConfig, train_force_fold


def merged_config(paths: Sequence[str]) -> dict[str, Any]:
    """The configs merged as Snakemake merges ``--configfile`` overlays (later ones win)."""
    config: dict[str, Any] = {}
    for path in paths:
        update_config(config, yaml.safe_load(Path(path).read_text()))
    return config


def study_inputs(forces: dict[str, Any], study: str) -> tuple[str, str]:
    """The pipeline's graph table and split table of a force study's first dataset and first
    graph: what a bench runs on unless told otherwise, so that naming a study never silently
    benchmarks another dataset's frames."""
    s = forces["studies"][study]
    dataset, graph = s["datasets"][0], s["graphs"][0]
    return (f"results/forces/graphs/{dataset}/{graph}.parquet",
            f"results/forces/splits/{dataset}.parquet")


def bench_force_speed(
    configs: Sequence[str], study: str, graphs: str | None = None, splits: str | None = None,
    epochs: int = 3, threads: int = 1, device: str = "auto",
) -> list[dict[str, Any]]:
    """Time every model of force study ``study`` for ``epochs`` epochs; print and return rows.
    ``graphs``/``splits`` default to the study's own (``study_inputs``)."""
    forces = merged_config(configs)["forces"]
    if graphs is None or splits is None:
        default_graphs, default_splits = study_inputs(forces, study)
        graphs, splits = graphs or default_graphs, splits or default_splits
    names = forces["studies"][study]["models"]
    rows = []
    print(f"study {study}: {epochs} epochs per model on fold 0 of {graphs}, {threads} "
          f"thread(s), device {device}, one model at a time")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            model = forces["models"][name]
            cfg = ForceTrainConfig(**model["train"])
            cfg = dataclasses.replace(cfg, epochs=epochs, eval_every=epochs, rotated_copies=0,
                                      checkpoint_every=epochs)
            metrics = train_force_fold(graphs, splits, 0, model["architecture"],
                                       model["params"], cfg, Path(tmp) / name, device, threads)
            rows.append({"model": name, "architecture": model["architecture"],
                         "augment": cfg.augment, "parameters": metrics["parameters"],
                         "seconds_per_step": metrics["seconds_per_step"],
                         "inference_structures_per_s": metrics["inference_structures_per_s"],
                         "load_per_cpu": metrics["load_per_cpu"]})
    base = rows[0]
    print(f"{'model':<24} {'architecture':<17} {'augment':>7} {'params':>9} {'s/step':>8} "
          f"{'x':>6} {'infer structures/s':>18} {'x':>6} {'load/CPU':>8}")
    for r in rows:
        print(f"{r['model']:<24} {r['architecture']:<17} {'on' if r['augment'] else 'off':>7} "
              f"{r['parameters']:>9,} {r['seconds_per_step']:>8.4f} "
              f"{r['seconds_per_step'] / base['seconds_per_step']:>5.2f}x "
              f"{r['inference_structures_per_s']:>18.0f} "
              f"{r['inference_structures_per_s'] / base['inference_structures_per_s']:>5.2f}x "
              f"{r['load_per_cpu']:>8.2f}")
    print(f"x: ratio to {base['model']} (s/step: higher is slower; structures/s: higher is "
          "faster). s/step: median epoch over steps; load/CPU: 1-min load average per CPU.")
    return rows
