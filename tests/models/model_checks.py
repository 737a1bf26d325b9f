"""Helpers shared by the model tests: graphs on the cell and the ASU from the same edges,
batched outputs, the transformed copies of a structure and the closeness check."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from scipy.spatial.transform import Rotation
from torch_geometric.data import Batch

from crystalbench.crystal.graphs import (
    CRYSTAL_GRAPHS,
    GraphSpec,
    asu_graph,
    cell_graph,
    select_edges,
)
from crystalbench.crystal.line_graph import angle_pairs
from crystalbench.crystal.structures import Structure
from crystalbench.crystal.symmetry import Symmetry, analyse_symmetry

TOLERANCE = 1e-5
KNN24 = {"edges": "knn", "k": 24}


def graph_pair(s: Structure, sym: Symmetry, full, line_graph: bool):
    """Cell and ASU graphs (float64 ``Data``) built from the same full-cell edges."""
    out = []
    for graph in (cell_graph(s.id, s.atomic_numbers, full, s.target),
                  asu_graph(s.id, s.atomic_numbers, full, sym.orbit, s.target)):
        if line_graph:
            graph.angle_a, graph.angle_b = angle_pairs(graph.edge_dst, graph.n_nodes)
        out.append(CRYSTAL_GRAPHS.to_data(graph, torch.float64))
    return out


def predict(model, structures, edges=KNN24, full_edges: Callable | None = None,
            symmetries=None, line_graph: bool = False):
    """Model outputs on the cell and the ASU graphs of every structure.

    ``full_edges(structure, symmetry)`` may supply the full-cell edges instead of ``edges``,
    ``symmetries`` the precomputed symmetry of each structure.
    """
    cells, asus = [], []
    if symmetries is None:
        symmetries = [analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
                      for s in structures]
    spec = GraphSpec("cell", **edges)
    for s, sym in zip(structures, symmetries, strict=True):
        full = (select_edges(sym.lattice, sym.frac_coords, spec) if full_edges is None
                else full_edges(s, sym))
        cell, asu = graph_pair(s, sym, full, line_graph)
        cells.append(cell)
        asus.append(asu)
    return outputs(model, cells), outputs(model, asus)


def outputs(model, data, size: int = 64) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(Batch.from_data_list(data[i:i + size]))
                          for i in range(0, len(data), size)])


def relative_difference(a, b):
    """|a - b| / |b| per row; a row that is zero in both (a crystal with no edge within a
    model's cutoff, e.g. mb-phonons-0037 at 4 Å) counts as equal, not as 0/0."""
    return ((a - b).norm(dim=1) / b.norm(dim=1).clamp(min=1e-300)).numpy()


def assert_close(structures, a, b, what, tolerance=TOLERANCE):
    rel = relative_difference(a, b)
    worst = int(np.argmax(rel))
    assert rel.max() <= tolerance, f"{what}: {structures[worst].id} differs by {rel[worst]:.2e}"


def rotated(s: Structure, rng) -> Structure:
    rot = Rotation.random(random_state=rng).as_matrix()
    return Structure(s.id, s.lattice @ rot.T, s.frac_coords, s.atomic_numbers, s.target)


def translated(s: Structure, rng) -> Structure:
    return Structure(s.id, s.lattice, s.frac_coords + rng.random(3), s.atomic_numbers, s.target)


def permuted(s: Structure, rng) -> Structure:
    p = rng.permutation(s.n_atoms)
    return Structure(s.id, s.lattice, s.frac_coords[p], s.atomic_numbers[p], s.target)


def supercell_2x1x1(s: Structure, rng) -> Structure:
    frac = np.concatenate([s.frac_coords, s.frac_coords + [1, 0, 0]]) * [0.5, 1, 1]
    lattice = s.lattice * np.array([[2.0], [1.0], [1.0]])
    return Structure(s.id, lattice, frac, np.tile(s.atomic_numbers, 2), s.target)
