"""Every model of the zoo, random weights, float64: the output on the ASU graph equals the
output on the full cell, and it is invariant to rotation, translation, atom permutation and
(for mean readouts) a 2x1x1 supercell, on the demo crystals and the ~1,900 real crystals of
jdft2d and phonons (the invariances on a subsample). A sum readout doubles on the supercell
instead."""

import numpy as np
import pytest
import torch
from model_checks import (
    assert_close,
    graph_pair,
    outputs,
    permuted,
    rotated,
    supercell_2x1x1,
    translated,
)

from crystalbench.crystal.graphs import GraphSpec, select_edges
from crystalbench.crystal.symmetry import analyse_symmetry
from crystalbench.models import ARCHITECTURES, build_model

KNN24 = {"edges": "knn", "k": 24}
VORONOI = {"edges": "voronoi", "min_area": 1e-6}
RADIUS4 = {"edges": "radius", "cutoff": 4.0}
RADIUS6 = {"edges": "radius", "cutoff": 6.0}
RADIUS8_12 = {"edges": "radius", "cutoff": 8.0, "max_neighbors": 12}

# (architecture, small random-weight hyperparameters, edges, line graph); the invariances are
# checked on every 6th crystal, every 10th for the two line-graph models (CI time)
CASES = {
    "cogn": ("cogn", dict(width=32, blocks=3, edge_mlp_depth=2), KNN24, False),
    "cogn-global": ("cogn", dict(width=16, blocks=2, edge_mlp_depth=2, global_update=True),
                    KNN24, False),
    "cogn-sum": ("cogn", dict(width=16, blocks=2, edge_mlp_depth=2, readout="sum"),
                 KNN24, False),
    "congn": ("congn", dict(width=24, blocks=2, edge_mlp_depth=2, node_mlp_depth=2),
              VORONOI, True),
    "schnet": ("schnet", dict(width=32, filters=32, interactions=3, cutoff=6.0), RADIUS6, False),
    "cgcnn": ("cgcnn", dict(width=32, conv_layers=3), RADIUS8_12, False),
    # 4 Å instead of 5 Å keeps the line graphs small enough for CI (a quarter of the pairs)
    "dimenetpp": ("dimenetpp", dict(width=32, out_emb=32, int_emb=16, basis_emb=8, blocks=2,
                                    cutoff=4.0, output_init="glorot_orthogonal"), RADIUS4, True),
}


def test_every_architecture_is_covered():
    assert {case[0] for case in CASES.values()} == set(ARCHITECTURES)


def all_graphs(structures, symmetries, edges, line_graph):
    cells, asus = [], []
    spec = GraphSpec("cell", **edges)
    for s, sym in zip(structures, symmetries, strict=True):
        cell, asu = graph_pair(s, sym, select_edges(sym.lattice, sym.frac_coords, spec),
                               line_graph)
        cells.append(cell)
        asus.append(asu)
    return cells, asus


@pytest.mark.parametrize("case", CASES)
def test_asu_equals_cell_and_invariances(case, everything):
    architecture, params, edges, line_graph = CASES[case]
    torch.manual_seed(0)
    model = build_model(architecture, params | {"n_targets": 8}).double().eval()
    structures, symmetries = everything
    cell_data, asu_data = all_graphs(structures, symmetries, edges, line_graph)
    cell, asu = outputs(model, cell_data), outputs(model, asu_data)
    assert torch.isfinite(cell).all() and cell.abs().max() > 0
    assert_close(structures, asu, cell, f"{case}: ASU vs cell")
    rng = np.random.default_rng(0)
    every = 10 if line_graph else 6
    base = cell[::every]
    for transform in (rotated, translated, permuted, supercell_2x1x1):
        moved = [transform(s, rng) for s in structures[::every]]
        moved_sym = [analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
                     for s in moved]
        moved_cell, moved_asu = (outputs(model, d) for d in
                                 all_graphs(moved, moved_sym, edges, line_graph))
        expected = base
        if transform is supercell_2x1x1 and params.get("readout") == "sum":
            bias = model.readout[-1].bias.detach()  # extensive: twice the atoms, twice the sum
            expected = 2 * (base - bias) + bias
        assert_close(structures[::every], moved_cell, expected, f"{case}: {transform.__name__}")
        assert_close(structures[::every], moved_asu, expected,
                     f"{case}: {transform.__name__} (ASU)")


@pytest.mark.parametrize("architecture", ["schnet", "dimenetpp"])
def test_cutoff_models_reject_longer_edges(architecture, demo_structures):
    """SchNet's cosine cutoff is periodic beyond the cutoff: a kNN graph with longer edges
    must be refused, not filtered with a wrong weight."""
    from torch_geometric.data import Batch

    from crystalbench.crystal.graphs import CRYSTAL_GRAPHS, build_graph

    s = demo_structures[0]
    sym = analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
    spec = GraphSpec("asu", "knn", k=24, line_graph=True)
    graph = CRYSTAL_GRAPHS.to_data(build_graph(s, sym, spec))
    small = {"width": 16} | ({"spherical": 3, "radial": 3} if architecture == "dimenetpp" else {})
    model = build_model(architecture, small | {"cutoff": 4.0})
    with pytest.raises(ValueError, match="4.0 Å cutoff but the graph has an edge"):
        model(Batch.from_data_list([graph]))
