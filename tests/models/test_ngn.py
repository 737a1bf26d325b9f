"""coGN / coNGN (the NGN framework): ASU == cell for every graph variant of the config, the
reference parameter counts, nesting and global state wiring, and a control that shows the
equivalence test can fail. Random weights, float64."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from model_checks import TOLERANCE, assert_close, outputs, predict, relative_difference
from torch_geometric.data import Batch

from crystalbench.crystal.graphs import CRYSTAL_GRAPHS, GraphSpec, build_graph
from crystalbench.crystal.structures import Structure
from crystalbench.crystal.symmetry import analyse_symmetry
from crystalbench.crystal.voronoi import voronoi_edges
from crystalbench.models import build_model, count_parameters

REPO = Path(__file__).resolve().parents[2]
KNN24 = {"edges": "knn", "k": 24}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    params = dict(width=32, blocks=3, edge_mlp_depth=2, node_mlp_depth=1, n_targets=8)
    return build_model("cogn", params).double().eval()


def config_edge_selections(kind):
    """Distinct edge selections of ``kind`` among the graph variants of config/config.yaml."""
    graphs = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["graphs"]
    found = []
    for spec in graphs.values():
        edges = {k: v for k, v in spec.items() if k not in ("representation", "line_graph")}
        if edges["edges"] == kind and edges not in found:
            found.append(edges)
    return found


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


def test_asu_graphs_are_smaller(everything):
    spec_cell, spec_asu = GraphSpec("cell"), GraphSpec("asu")
    nodes = edges = 0
    structures, symmetries = everything[0][::5], everything[1][::5]
    for s, sym in zip(structures, symmetries, strict=True):
        c, a = build_graph(s, sym, spec_cell), build_graph(s, sym, spec_asu)
        assert a.n_nodes <= c.n_nodes and a.n_edges <= c.n_edges
        nodes += c.n_nodes / a.n_nodes
        edges += c.n_edges / a.n_edges
    assert nodes / len(structures) > 1.3 and edges / len(structures) > 1.3


def test_an_edge_sensitive_model_would_fail():
    """Control: the test can fail. Dropping one ASU edge changes the output beyond tolerance."""
    torch.manual_seed(0)
    model = build_model("cogn", dict(width=16, blocks=2, edge_mlp_depth=1, n_targets=4)).double()
    lattice = np.diag([3.0, 3.0, 4.0])
    s = Structure("t", lattice, np.array([[0, 0, 0], [0.5, 0.5, 0.5]]), np.array([29, 79]), 0.0)
    sym = analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
    full = CRYSTAL_GRAPHS.to_data(build_graph(s, sym, GraphSpec("asu")), torch.float64)
    cut = full.clone()
    cut.edge_index, cut.edge_vec = full.edge_index[:, 1:], full.edge_vec[1:]
    with torch.no_grad():
        a, b = model(Batch.from_data_list([full])), model(Batch.from_data_list([cut]))
    assert relative_difference(a, b).max() > TOLERANCE


def test_reference_parameter_count():
    """Reference coGN: kgcnn 3.0.2's ``make_model(**model_default).count_params()``."""
    assert count_parameters(build_model("cogn", {})) == 697_601


def test_reference_congn_parameter_count():
    """Reference coNGN: kgcnn 3.0.2's ``make_model(**model_default_nested).count_params()``."""
    assert count_parameters(build_model("congn", {})) == 2_799_201


def test_reference_initialisation():
    """init: reference starts as Keras does: zero biases, glorot-uniform dense weights,
    embedding in U(-0.05, 0.05), orthogonal GRU recurrent kernels."""
    torch.manual_seed(0)
    model = build_model("congn", {"width": 32, "blocks": 2, "area_basis": 4})
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            fan_out, fan_in = module.weight.shape
            limit = (6 / (fan_in + fan_out)) ** 0.5
            assert module.weight.abs().max() <= limit
            assert module.weight.abs().max() > 0.9 * limit  # uniform up to the limit
            assert (module.bias == 0).all()
        if isinstance(module, torch.nn.GRUCell):
            w = module.weight_hh.detach()
            assert torch.allclose(w.T @ w, torch.eye(w.shape[1]), atol=1e-5)
            assert (module.bias_ih == 0).all() and (module.bias_hh == 0).all()
    embedding = model.atoms.embedding.weight
    assert embedding.abs().max() <= 0.05 and embedding.std() > 0.02


def test_torch_initialisation_is_pytorchs():
    torch.manual_seed(0)
    model = build_model("cogn", {"width": 32, "blocks": 2, "init": "torch"})
    assert model.atoms.embedding.weight.std() > 0.9  # nn.Embedding's N(0, 1)
    assert any((m.bias != 0).any() for m in model.modules() if isinstance(m, torch.nn.Linear))


@pytest.mark.parametrize("key", ["init", "elements"])
def test_unknown_init_or_element_table_is_named(key):
    with pytest.raises(ValueError, match=key):
        build_model("cogn", {key: "keras"})


def voronoi_line_graph(structure):
    sym = analyse_symmetry(structure.lattice, structure.frac_coords, structure.atomic_numbers)
    spec = GraphSpec("asu", "voronoi", min_area=1e-6, line_graph=True)
    return CRYSTAL_GRAPHS.to_data(build_graph(structure, sym, spec), torch.float64)


def test_nested_block_reads_every_angle_pair():
    """Control for the nested block: dropping one line-graph pair changes the output."""
    torch.manual_seed(0)
    model = build_model("congn", dict(width=16, blocks=2, edge_mlp_depth=1, node_mlp_depth=1,
                                      n_targets=4)).double().eval()
    s = Structure("t", np.diag([3.0, 3.0, 4.0]), np.array([[0, 0, 0], [0.5, 0.5, 0.5]]),
                  np.array([29, 79]), 0.0)
    full = voronoi_line_graph(s)
    cut = full.clone()
    cut.angle_index = full.angle_index[:, 1:]
    a, b = outputs(model, [full]), outputs(model, [cut])
    assert relative_difference(a, b).max() > TOLERANCE


def test_missing_graph_fields_are_named(demo_structures):
    congn = build_model("congn", dict(width=8, blocks=1, edge_mlp_depth=1, node_mlp_depth=1))
    s = demo_structures[0]
    sym = analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
    knn = CRYSTAL_GRAPHS.to_data(build_graph(s, sym, GraphSpec("asu")))
    with pytest.raises(ValueError, match="edge_area.*voronoi"):
        congn(Batch.from_data_list([knn]))
    knn_angles = CRYSTAL_GRAPHS.to_data(build_graph(s, sym, GraphSpec("asu", line_graph=True)))
    congn_no_area = build_model("congn", dict(width=8, blocks=1, edge_mlp_depth=1,
                                              node_mlp_depth=1, area_basis=0))
    congn_no_area(Batch.from_data_list([knn_angles]))  # angles alone suffice without areas
    with pytest.raises(ValueError, match="angle_index.*line_graph"):
        congn_no_area(Batch.from_data_list([knn]))


def test_nested_indices_are_checked():
    with pytest.raises(ValueError, match="outside 0..1"):
        build_model("cogn", dict(blocks=2, nested=[2]))
    assert len(build_model("congn", dict(blocks=2)).cfg.nested) == 2
