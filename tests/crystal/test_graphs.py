from dataclasses import asdict

import numpy as np
import pytest
from ase.build import bulk

from crystalbench.core.graph_contract import read_build_seconds
from crystalbench.core.io import read_metadata
from crystalbench.crystal.graphs import (
    CRYSTAL_GRAPHS,
    GraphSpec,
    build_graph,
    graph_metadata,
)
from crystalbench.crystal.structures import Structure
from crystalbench.crystal.symmetry import analyse_symmetry


def graphs_for(structures, representation, k=24, **edges):
    spec = GraphSpec(representation, k=k, **edges)
    return [build_graph(s, analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers), spec)
            for s in structures]


@pytest.mark.parametrize("edges", [{"edges": "knn"}, {"edges": "voronoi", "min_area": 1e-6}])
def test_graph_parquet_round_trip_is_bit_exact(tmp_path, demo_structures, edges):
    for representation in ("cell", "asu"):
        spec = GraphSpec(representation, **edges)
        graphs = graphs_for(demo_structures, representation, **edges)
        path = tmp_path / f"{representation}.parquet"
        meta = graph_metadata(spec, 1e-4, "demo_alloys", representation)
        n = CRYSTAL_GRAPHS.write(iter(graphs), path, meta, len(graphs), row_group_size=64)
        assert n == len(graphs)
        table = CRYSTAL_GRAPHS.read(path)
        assert len(table) == len(graphs)
        for i, g in enumerate(graphs):
            back = table.graph(i)
            assert back.id == g.id and back.target == g.target
            for name in ("atomic_numbers", "multiplicity", "edge_src", "edge_dst"):
                assert np.array_equal(getattr(back, name), getattr(g, name)), name
            assert back.edge_vec.tobytes() == np.asarray(g.edge_vec, np.float32).tobytes()
            if spec.edges == "voronoi":
                assert back.edge_area.tobytes() == np.asarray(g.edge_area, np.float32).tobytes()
            else:
                assert back.edge_area is None
        stored = read_metadata(path)
        assert stored["spec"] == asdict(spec) and stored["symprec"] == 1e-4
        assert {"pymatgen", "spglib", "scipy", "numpy", "pyarrow", "crystalbench"} <= set(
            stored["versions"])
        assert read_build_seconds(path) > 0


def test_asu_keeps_self_loops_and_multi_edges():
    fe = bulk("Fe", "bcc", a=2.87, cubic=True)  # 2 equivalent atoms
    s = Structure("bcc", np.array(fe.cell[:]), fe.get_scaled_positions(), fe.numbers, 0.0)
    (asu,) = graphs_for([s], "asu", k=8)
    (cell,) = graphs_for([s], "cell", k=8)
    assert asu.n_nodes == 1 and asu.multiplicity.tolist() == [2]
    assert asu.n_edges == 8 and (asu.edge_src == 0).all() and (asu.edge_dst == 0).all()
    assert cell.n_nodes == 2 and cell.n_edges == 16
    assert len(np.unique(np.round(asu.edge_vec, 6), axis=0)) == 8  # distinct true vectors


def test_asu_edges_are_the_in_edges_of_representatives(real_structures):
    for s in real_structures[::10]:
        sym = analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
        cell = build_graph(s, sym, GraphSpec("cell"))
        asu = build_graph(s, sym, GraphSpec("asu"))
        in_degree = np.bincount(cell.edge_dst, minlength=cell.n_nodes)
        assert asu.n_nodes == sym.n_asu
        assert asu.n_edges == in_degree[sym.representatives].sum()
        assert asu.multiplicity.sum() == s.n_atoms


@pytest.mark.parametrize("spec", [
    GraphSpec("asu", "knn", k=24),
    GraphSpec("asu", "radius", cutoff=8.0, max_neighbors=48),
    GraphSpec("asu", "voronoi", min_area=0.0),
    GraphSpec("asu", "voronoi", min_area=1e-6),
])
def test_asu_graph_from_representatives_only_equals_the_reduced_cell_graph(spec, everything):
    """build_graph searches (and tessellates) only around the representatives; the result must
    be exactly the ASU reduction of the full-cell edges."""
    from crystalbench.crystal.graphs import asu_graph, select_edges

    structures, symmetries = everything
    for s, sym in list(zip(structures, symmetries, strict=True))[::3]:
        fast = build_graph(s, sym, spec)
        full = asu_graph(s.id, s.atomic_numbers,
                         select_edges(sym.lattice, sym.frac_coords, spec), sym.orbit, s.target)
        assert np.array_equal(fast.multiplicity, full.multiplicity), s.id
        assert np.array_equal(fast.edge_dst, full.edge_dst), s.id
        assert np.array_equal(fast.edge_src, full.edge_src), s.id
        assert np.allclose(fast.edge_vec, full.edge_vec, atol=1e-9), s.id
        if spec.edges == "voronoi":
            assert np.allclose(fast.edge_area, full.edge_area, rtol=1e-6, atol=1e-9), s.id
