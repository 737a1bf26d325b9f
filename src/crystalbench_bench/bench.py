"""Benchmarks (not tests): speeds printed with ratios against a baseline from the same run."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from crystalbench.crystal.graphs import GraphSpec, asu_graph, build_graph, cell_graph, select_edges
from crystalbench.crystal.matbench import read_matbench_json
from crystalbench.crystal.symmetry import analyse_symmetry


def bench_graphs(data_dir: str, k: int = 24, symprec: float = 1e-4) -> None:
    """Structures per second for ASU and cell kNN-k graphs, and the ASU reduction factors.

    The cell graph is the baseline: kNN on the input cell. The ASU graph pays for symmetry
    detection and symmetrisation, then kNN on the symmetrised cell and the reduction.
    """
    spec = GraphSpec("cell", k=k)
    print(f"kNN-{k} graph building, single process, symprec {symprec} Å")
    header = (f"{'dataset':<18}{'n':>6}{'cell/s':>9}{'symmetry/s':>12}{'asu/s':>9}"
              f"{'asu time / cell':>17}{'node red.':>11}{'edge red.':>11}")
    print(header)
    for path in sorted(Path(data_dir).glob("matbench_*.json.gz")):
        structures = read_matbench_json(path)
        tic = time.perf_counter()
        cells = [cell_graph(s.id, s.atomic_numbers, select_edges(s.lattice, s.frac_coords, spec),
                            s.target) for s in structures]
        t_cell = time.perf_counter() - tic
        tic = time.perf_counter()
        syms = [analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers, symprec)
                for s in structures]
        t_sym = time.perf_counter() - tic
        tic = time.perf_counter()
        asus = [asu_graph(s.id, s.atomic_numbers, select_edges(y.lattice, y.frac_coords, spec),
                          y.orbit, s.target) for s, y in zip(structures, syms, strict=True)]
        t_asu = time.perf_counter() - tic + t_sym
        n = len(structures)
        node_red = np.mean([c.n_nodes / a.n_nodes for c, a in zip(cells, asus, strict=True)])
        edge_red = np.mean([c.n_edges / a.n_edges for c, a in zip(cells, asus, strict=True)])
        print(f"{path.name.split('.')[0]:<18}{n:>6}{n / t_cell:>9.0f}{n / t_sym:>12.0f}"
              f"{n / t_asu:>9.0f}{t_asu / t_cell:>16.2f}x{node_red:>10.2f}x{edge_red:>10.2f}x")


def data_paths(data: list, graphs: Any, idx: np.ndarray, batch_size: int, dev: Any,
               ) -> dict[str, Callable[[np.random.Generator | None], Iterable]]:
    """An epoch's batches on the device by the old path (PyG collation of ``Data`` objects,
    then a copy) and by the new one (``DeviceGraphs``), for the same seed."""
    from crystalbench.core.training import batches

    return {"old": lambda rng: (b.to(dev) for b in batches(data, idx, batch_size, rng)),
            "new": lambda rng: graphs.batches(idx, batch_size, rng)}


REFERENCE_COGN = {"width": 128, "blocks": 5, "edge_mlp_depth": 5, "node_mlp_depth": 1}


def bench_epochs(data_dir: str, epochs: int = 3, batch_size: int = 64, threads: int = 2,
                 device: str = "auto", k: int = 24) -> None:
    """Training-epoch time of the reference coGN, ASU vs cell kNN-k graphs, on both data paths.

    Per dataset and representation: the host cost of cutting one batch (PyG collation of
    ``Data`` objects, the old path, against a gather from ``DeviceGraphs``, the training path),
    and the epoch time of the same freshly seeded model with the same batches on each path;
    the first epoch is a warm-up, the median of the others is reported. Ratios are old/new
    and cell/asu, measured in this run.
    """
    import statistics

    import torch

    from crystalbench.core.device_batches import DeviceGraphs
    from crystalbench.core.training import pick_device
    from crystalbench.crystal.graphs import CRYSTAL_GRAPHS
    from crystalbench.crystal.train import train_epoch
    from crystalbench.models import build_model

    torch.set_num_threads(threads)
    dev = pick_device(device)
    print(f"coGN (reference size) training epochs, kNN-{k}, batch {batch_size}, "
          f"device {dev}, {threads} threads; median of {epochs} epochs after one warm-up")
    print(f"{'dataset':<18}{'graph':<6}{'edges':>8}{'collate ms':>12}{'gather ms':>11}"
          f"{'old s/ep':>10}{'new s/ep':>10}{'old/new':>9}")
    for path in sorted(Path(data_dir).glob("matbench_*.json.gz")):
        structures = read_matbench_json(path)
        targets = np.array([s.target for s in structures])
        mean, std = targets.mean(), targets.std()
        symmetries = [analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
                      for s in structures]
        new_seconds = {}
        for representation in ("cell", "asu"):
            spec = GraphSpec(representation, k=k)
            table = CRYSTAL_GRAPHS.table_of([build_graph(s, sym, spec) for s, sym in
                                             zip(structures, symmetries, strict=True)])
            data = table.to_data()
            for item in data:
                item.y = (item.y - mean) / std
            graphs = DeviceGraphs(table, dev)
            graphs.fields["y"] = (graphs.fields["y"] - mean) / std
            paths = data_paths(data, graphs, np.arange(len(table)), batch_size, dev)
            cut_ms = {}
            for name, cut in paths.items():
                tic = time.perf_counter()
                n_batches = sum(1 for _ in cut(np.random.default_rng(0)))
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                cut_ms[name] = 1e3 * (time.perf_counter() - tic) / n_batches
            seconds = {}
            for name, cut in paths.items():
                torch.manual_seed(0)
                model = build_model("cogn", REFERENCE_COGN).to(dev)
                optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
                scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
                times = [train_epoch(model, cut(np.random.default_rng([0, e])), optimizer,
                                     scheduler, torch.nn.functional.l1_loss, dev)[1]
                         for e in range(epochs + 1)]
                seconds[name] = statistics.median(times[1:])
            new_seconds[representation] = seconds["new"]
            print(f"{path.name.split('.')[0]:<18}{representation:<6}"
                  f"{int(table.n_edges.sum()):>8}{cut_ms['old']:>12.2f}{cut_ms['new']:>11.2f}"
                  f"{seconds['old']:>10.2f}{seconds['new']:>10.2f}"
                  f"{seconds['old'] / seconds['new']:>8.2f}x")
        print(f"{'':<18}cell/asu epoch time on the new path: "
              f"{new_seconds['cell'] / new_seconds['asu']:.2f}x")
