"""Benchmark (not a test): every model of a study on ASU vs cell graphs, training and
inference graphs per second, with the cell graph as the baseline measured in the same run.

Models, hyperparameters and graph variants come from a study of the config (by default the
``models`` study of config/config.yaml, each model on its own graph); the cell graph is the
same variant with ``representation: cell``. Training runs the loop of ``crystalbench train``
(collation included) on the same graphs and batches for both representations.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from crystalbench.core.training import batches, pick_device
from crystalbench.crystal.graphs import CRYSTAL_GRAPHS, GraphSpec, build_graph
from crystalbench.crystal.matbench import read_matbench_json
from crystalbench.crystal.symmetry import analyse_symmetry
from crystalbench.crystal.train import train_epoch
from crystalbench.models import build_model, count_parameters


def study_models(config_path: str, study: str) -> list[tuple[str, dict, str, GraphSpec]]:
    """(model name, model config, graph name, ASU graph spec) for every run of ``study``."""
    config = yaml.safe_load(Path(config_path).read_text())
    s = config["studies"][study]
    pairs = (list(zip(s["models"], s["graphs"], strict=True)) if s.get("paired")
             else [(m, g) for m in s["models"] for g in s["graphs"]])
    return [(m, config["models"][m], g, GraphSpec.from_config(config["graphs"][g]))
            for m, g in pairs]


def time_model(model: torch.nn.Module, data: list, batch_size: int, epochs: int,
               dev: torch.device) -> tuple[float, float]:
    """(training, inference) graphs per second; medians after one warm-up pass each."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    idx = np.arange(len(data))
    train = [train_epoch(model, batches(data, idx, batch_size, np.random.default_rng([0, e])),
                         optimizer, scheduler, torch.nn.functional.l1_loss, dev)[1]
             for e in range(epochs + 1)]
    model.eval()
    infer = []
    with torch.no_grad():
        for _ in range(epochs + 1):
            tic = time.perf_counter()
            for batch in batches(data, idx, batch_size, None):
                model(batch.to(dev))
            if dev.type == "cuda":
                torch.cuda.synchronize()
            infer.append(time.perf_counter() - tic)
    return len(data) / statistics.median(train[1:]), len(data) / statistics.median(infer[1:])


def bench_models(data_dir: str, config_path: str = "config/config.yaml", study: str = "models",
                 limit: int = 256, epochs: int = 2, batch_size: int = 64, threads: int = 2,
                 device: str = "auto") -> None:
    """Print parameters and graphs per second (train, inference) per model, ASU vs cell."""
    torch.set_num_threads(threads)
    dev = pick_device(device)
    runs = study_models(config_path, study)
    print(f"study {study!r} of {config_path}: batch {batch_size}, first {limit} structures per "
          f"dataset, device {dev}, {threads} threads; median of {epochs} passes after a warm-up")
    print(f"{'dataset':<18}{'model':<11}{'graph':<18}{'params':>10}{'train cell/s':>14}"
          f"{'asu/s':>8}{'ratio':>7}{'infer cell/s':>14}{'asu/s':>8}{'ratio':>7}")
    for path in sorted(Path(data_dir).glob("matbench_*.json.gz")):
        structures = read_matbench_json(path)[:limit]
        targets = np.array([s.target for s in structures])
        mean, std = targets.mean(), targets.std()
        symmetries = [analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
                      for s in structures]
        for name, model_cfg, graph, spec in runs:
            rates = {}
            for representation in ("cell", "asu"):
                rep_spec = dataclasses.replace(spec, representation=representation)
                data = [CRYSTAL_GRAPHS.to_data(build_graph(s, sym, rep_spec))
                        for s, sym in zip(structures, symmetries, strict=True)]
                for item in data:
                    item.y = (item.y - mean) / std
                torch.manual_seed(0)
                model = build_model(model_cfg["architecture"], model_cfg["params"]).to(dev)
                params = count_parameters(model)
                rates[representation] = time_model(model, data, batch_size, epochs, dev)
            (train_c, infer_c), (train_a, infer_a) = rates["cell"], rates["asu"]
            print(f"{path.name.split('.')[0]:<18}{name:<11}{graph:<18}{params:>10,}"
                  f"{train_c:>14.1f}{train_a:>8.1f}{train_a / train_c:>6.2f}x"
                  f"{infer_c:>14.1f}{infer_a:>8.1f}{infer_a / infer_c:>6.2f}x")


