"""Benchmarks (not tests): speeds printed with ratios against a baseline from the same run."""

from __future__ import annotations

import time
from pathlib import Path

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


REFERENCE_COGN = {"width": 128, "blocks": 5, "edge_mlp_depth": 5, "node_mlp_depth": 1}


def bench_epochs(data_dir: str, epochs: int = 3, batch_size: int = 64, threads: int = 2,
                 device: str = "auto", k: int = 24) -> None:
    """Training-epoch time of the reference coGN on ASU vs cell kNN-k graphs, per dataset.

    Both graphs of a dataset train the same freshly seeded model with the same batches
    (the training loop of ``train_fold``, collation included); the first epoch is a
    warm-up, the median of the others is reported next to the ASU edge-reduction factor.
    """
    import statistics

    import torch

    from crystalbench.core.training import pick_device
    from crystalbench.crystal.graphs import CRYSTAL_GRAPHS
    from crystalbench.crystal.train import train_epoch
    from crystalbench.models import build_model

    torch.set_num_threads(threads)
    dev = pick_device(device)
    print(f"coGN (reference size) training epochs, kNN-{k}, batch {batch_size}, "
          f"device {dev}, {threads} threads; median of {epochs} epochs after one warm-up")
    print(f"{'dataset':<18}{'n':>6}{'edge red.':>11}{'cell s/epoch':>14}{'asu s/epoch':>13}"
          f"{'speed-up':>10}{'speed-up / edge red.':>22}")
    for path in sorted(Path(data_dir).glob("matbench_*.json.gz")):
        structures = read_matbench_json(path)
        targets = np.array([s.target for s in structures])
        mean, std = targets.mean(), targets.std()
        symmetries = [analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
                      for s in structures]
        seconds, edges = {}, {}
        for representation in ("cell", "asu"):
            spec = GraphSpec(representation, k=k)
            data = [CRYSTAL_GRAPHS.to_data(build_graph(s, sym, spec))
                    for s, sym in zip(structures, symmetries, strict=True)]
            for item in data:
                item.y = (item.y - mean) / std
            edges[representation] = sum(d.edge_index.shape[1] for d in data)
            torch.manual_seed(0)
            model = build_model("cogn", REFERENCE_COGN).to(dev)
            optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
            scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
            idx = np.arange(len(data))
            times = [train_epoch(model, data, idx, batch_size, np.random.default_rng([0, e]),
                                 optimizer, scheduler, torch.nn.functional.l1_loss, dev)[1]
                     for e in range(epochs + 1)]
            seconds[representation] = statistics.median(times[1:])
        reduction = edges["cell"] / edges["asu"]
        speedup = seconds["cell"] / seconds["asu"]
        print(f"{path.name.split('.')[0]:<18}{len(structures):>6}{reduction:>10.2f}x"
              f"{seconds['cell']:>14.2f}{seconds['asu']:>13.2f}{speedup:>9.2f}x"
              f"{speedup / reduction:>21.2f}")
