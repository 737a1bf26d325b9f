"""The property the paper rests on: an invariant model gives the same output on the ASU graph
as on the full-cell graph, and is invariant under rotation, translation, permutation and
supercells. Random weights, float64, on every demo structure and ~1,900 real crystals."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from scipy.spatial.transform import Rotation
from torch_geometric.data import Batch

from crystalbench.dataset import to_data
from crystalbench.graphs import GraphSpec, asu_graph, build_graph, cell_graph, select_edges
from crystalbench.models import build_model, count_parameters
from crystalbench.structures import Structure
from crystalbench.symmetry import analyse_symmetry
from crystalbench.voronoi import voronoi_edges

TOLERANCE = 1e-5
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    params = dict(width=32, blocks=3, edge_mlp_depth=2, node_mlp_depth=1, n_targets=8)
    return build_model("cogn", params).double().eval()


KNN24 = {"edges": "knn", "k": 24}


def predict(model, structures, edges=KNN24, full_edges=None, symmetries=None):
    """Model outputs on the cell and the ASU graphs of every structure.

    ``full_edges(structure, symmetry)`` may supply the full-cell edges instead of ``edges``,
    ``symmetries`` the precomputed symmetry of each structure.
    """
    graphs = {"cell": [], "asu": []}
    spec = GraphSpec("cell", **edges)
    if symmetries is None:
        symmetries = [analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
                      for s in structures]
    for s, sym in zip(structures, symmetries, strict=True):
        full = (select_edges(sym.lattice, sym.frac_coords, spec) if full_edges is None
                else full_edges(s, sym))  # both graphs are built on the same edges
        cell = cell_graph(s.id, s.atomic_numbers, full, s.target)
        asu = asu_graph(s.id, s.atomic_numbers, full, sym.orbit, s.target)
        graphs["cell"].append(to_data(cell, torch.float64))
        graphs["asu"].append(to_data(asu, torch.float64))
    out = {}
    with torch.no_grad():
        for representation, data in graphs.items():
            out[representation] = torch.cat([model(Batch.from_data_list(data[i:i + 128]))
                                             for i in range(0, len(data), 128)])
    return out["cell"], out["asu"]


def relative_difference(a, b):
    return ((a - b).norm(dim=1) / b.norm(dim=1)).numpy()


def assert_close(structures, a, b, what):
    rel = relative_difference(a, b)
    worst = int(np.argmax(rel))
    assert rel.max() <= TOLERANCE, f"{what}: {structures[worst].id} differs by {rel[worst]:.2e}"


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


@pytest.fixture(scope="module", params=["demo", "real"])
def structures(request, demo_structures):
    if request.param == "demo":
        return demo_structures
    return request.getfixturevalue("real_structures")


def test_asu_equals_cell_and_invariances(model, structures):
    cell, asu = predict(model, structures)
    assert_close(structures, asu, cell, "ASU vs cell")
    rng = np.random.default_rng(0)
    for transform in (rotated, translated, permuted, supercell_2x1x1):
        moved_cell, moved_asu = predict(model, [transform(s, rng) for s in structures])
        assert_close(structures, moved_cell, cell, f"{transform.__name__} (cell)")
        assert_close(structures, moved_asu, cell, f"{transform.__name__} (ASU)")


def config_edge_selections(kind):
    """Distinct edge selections of ``kind`` among the graph variants of config/config.yaml."""
    graphs = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["graphs"]
    found = []
    for spec in graphs.values():
        edges = {k: v for k, v in spec.items() if k not in ("representation", "line_graph")}
        if edges["edges"] == kind and edges not in found:
            found.append(edges)
    return found


@pytest.fixture(scope="module")
def everything(demo_structures, real_structures):
    """All 2,205 demo and real crystals with their symmetry, computed once."""
    structures = demo_structures + real_structures
    return structures, [analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
                        for s in structures]


@pytest.mark.parametrize("edges", [e for e in config_edge_selections("knn") if e != KNN24]
                         + config_edge_selections("radius")
                         + [{"edges": "radius", "cutoff": 8.0, "max_neighbors": 16}],
                         ids=lambda e: "-".join(str(v) for v in e.values()))
def test_asu_equals_cell_for_every_variant(model, everything, edges):
    """The config's kNN and radius variants (kNN-24: the invariance test above)."""
    structures, symmetries = everything
    cell, asu = predict(model, structures, edges, symmetries=symmetries)
    assert_close(structures, asu, cell, f"ASU vs cell, {edges}")


def test_asu_equals_cell_for_voronoi_edges(model, everything):
    """Every ridge-area threshold of the config, from one tessellation per crystal."""
    structures, symmetries = everything
    thresholds = sorted(e["min_area"] for e in config_edge_selections("voronoi"))
    assert thresholds == [0.0, 1e-6, 0.1, 0.5]
    tessellations = {}

    def faces(s, sym):
        if s.id not in tessellations:
            tessellations[s.id] = voronoi_edges(sym.lattice, sym.frac_coords, 0.0)
        return tessellations[s.id]

    for min_area in thresholds:
        def above(s, sym, min_area=min_area):
            edges = faces(s, sym)
            return edges.select(edges.area > min_area)

        cell, asu = predict(model, structures, full_edges=above, symmetries=symmetries)
        assert_close(structures, asu, cell, f"ASU vs cell, Voronoi area > {min_area}")


def test_asu_graphs_are_smaller(structures):
    spec_cell, spec_asu = GraphSpec("cell"), GraphSpec("asu")
    nodes = edges = 0
    for s in structures[::5]:
        sym = analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
        c, a = build_graph(s, sym, spec_cell), build_graph(s, sym, spec_asu)
        assert a.n_nodes <= c.n_nodes and a.n_edges <= c.n_edges
        nodes += c.n_nodes / a.n_nodes
        edges += c.n_edges / a.n_edges
    assert nodes / len(structures[::5]) > 1.3 and edges / len(structures[::5]) > 1.3


def test_an_edge_sensitive_model_would_fail():
    """Control: the test can fail. Dropping one ASU edge changes the output beyond tolerance."""
    torch.manual_seed(0)
    model = build_model("cogn", dict(width=16, blocks=2, edge_mlp_depth=1, n_targets=4)).double()
    lattice = np.diag([3.0, 3.0, 4.0])
    s = Structure("t", lattice, np.array([[0, 0, 0], [0.5, 0.5, 0.5]]), np.array([29, 79]), 0.0)
    sym = analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
    full = to_data(build_graph(s, sym, GraphSpec("asu")), torch.float64)
    cut = full.clone()
    cut.edge_index, cut.edge_vec = full.edge_index[:, 1:], full.edge_vec[1:]
    with torch.no_grad():
        a, b = model(Batch.from_data_list([full])), model(Batch.from_data_list([cut]))
    assert relative_difference(a, b).max() > TOLERANCE


def test_reference_parameter_count():
    """Reference coGN (width 128, 5 blocks, 5-layer edge MLP): about 0.70 M parameters."""
    assert 0.65e6 < count_parameters(build_model("cogn", {})) < 0.75e6
