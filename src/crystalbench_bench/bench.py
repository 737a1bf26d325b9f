"""Benchmarks (not tests): speeds printed with ratios against a baseline from the same run."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
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
REFERENCE_CONGN = {"width": 160, "blocks": 5, "edge_mlp_depth": 4, "node_mlp_depth": 4,
                   "nested": [0, 1, 2, 3, 4], "area_basis": 32, "readout_hidden": [160]}
# model -> (parameters, its graph on the ASU and on the full cell), as config/config.yaml
EPOCH_MODELS = {
    "cogn": (REFERENCE_COGN, {"edges": "knn", "k": 24}),
    "congn": (REFERENCE_CONGN, {"edges": "voronoi", "min_area": 1e-6, "line_graph": True}),
}


def matbench_graph_tables(path: Path, edges: dict[str, Any],
                          representations: Sequence[str] = ("cell", "asu")) -> dict[str, Any]:
    """Graph tables of one MatBench file, per representation, with these edge settings."""
    from crystalbench.crystal.graphs import CRYSTAL_GRAPHS

    structures = read_matbench_json(path)
    symmetries = [analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
                  for s in structures]
    return {r: CRYSTAL_GRAPHS.table_of([build_graph(s, sym, GraphSpec(r, **edges)) for s, sym
                                        in zip(structures, symmetries, strict=True)])
            for r in representations}


def bench_epochs(data_dir: str, epochs: int = 3, batch_size: int = 64, threads: int = 2,
                 device: str = "auto", models: Sequence[str] = ("cogn",)) -> None:
    """Training-epoch time of the reference coGN/coNGN, ASU vs cell graphs, on both data paths.

    Per dataset, model and representation: the host cost of cutting one batch (PyG collation
    of ``Data`` objects and a copy, the old path, against a gather from ``DeviceGraphs``, the
    training path), the epoch time of the same freshly seeded model with the same batches on
    each path (the first epoch a warm-up, the median of the others), steps per second and the
    device-resident bytes of the new path, and on CUDA the peak memory. Ratios are old/new
    and cell/asu, measured in this run.
    """
    import statistics

    import torch

    from crystalbench.core.device_batches import DeviceGraphs
    from crystalbench.core.training import pick_device
    from crystalbench.crystal.train import train_epoch
    from crystalbench.models import build_model

    torch.set_num_threads(threads)
    dev = pick_device(device)
    print(f"reference models, batch {batch_size}, device {dev}, {threads} threads; "
          f"median of {epochs} epochs after one warm-up")
    print(f"{'dataset':<18}{'model':<7}{'graph':<6}{'edges':>8}{'pairs':>9}{'collate ms':>12}"
          f"{'gather ms':>11}{'old s/ep':>10}{'new s/ep':>10}{'old/new':>9}{'steps/s':>9}"
          f"{'B/struct':>10}{'data MB':>9}{'peak MB':>9}")
    for path in sorted(Path(data_dir).glob("matbench_*.json.gz")):
        name = path.name.split(".")[0]
        for model_name in models:
            params, edges = EPOCH_MODELS[model_name]
            new_seconds = {}
            for representation, table in matbench_graph_tables(path, edges).items():
                targets = table.column("target")
                mean, std = targets.mean(), targets.std()
                data = table.to_data()
                for item in data:
                    item.y = (item.y - mean) / std
                graphs = DeviceGraphs(table, dev)
                graphs.fields["y"] = (graphs.fields["y"] - mean) / std
                paths = data_paths(data, graphs, np.arange(len(table)), batch_size, dev)
                cut_ms = {}
                for path_name, cut in paths.items():
                    tic = time.perf_counter()
                    n_batches = sum(1 for _ in cut(np.random.default_rng(0)))
                    if dev.type == "cuda":
                        torch.cuda.synchronize()
                    cut_ms[path_name] = 1e3 * (time.perf_counter() - tic) / n_batches
                seconds = {}
                if dev.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(dev)
                for path_name, cut in paths.items():
                    torch.manual_seed(0)
                    model = build_model(model_name, params).to(dev)
                    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
                    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
                    times = [train_epoch(model, cut(np.random.default_rng([0, e])), optimizer,
                                         scheduler, torch.nn.functional.l1_loss, dev)[1]
                             for e in range(epochs + 1)]
                    seconds[path_name] = statistics.median(times[1:])
                new_seconds[representation] = seconds["new"]
                peak = (f"{torch.cuda.max_memory_allocated(dev) / 2**20:>9.0f}"
                        if dev.type == "cuda" else f"{'-':>9}")
                pairs = len(table.column("angle_a")) if table.has("angle_a") else 0
                print(f"{name:<18}{model_name:<7}{representation:<6}"
                      f"{int(table.n_edges.sum()):>8}{pairs:>9}{cut_ms['old']:>12.2f}"
                      f"{cut_ms['new']:>11.2f}{seconds['old']:>10.2f}{seconds['new']:>10.2f}"
                      f"{seconds['old'] / seconds['new']:>8.2f}x"
                      f"{n_batches / seconds['new']:>9.1f}{graphs.nbytes() / len(table):>10.0f}"
                      f"{graphs.nbytes() / 1e6:>9.1f}{peak}")
            print(f"{'':<18}{model_name:<7}cell/asu epoch time on the new path: "
                  f"{new_seconds['cell'] / new_seconds['asu']:.2f}x")
