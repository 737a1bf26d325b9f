"""Benchmarks (not tests): speeds printed with ratios against a baseline from the same run."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from crystalbench.graphs import GraphSpec, asu_graph, cell_graph, select_edges
from crystalbench.matbench import read_matbench_json
from crystalbench.symmetry import analyse_symmetry


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
