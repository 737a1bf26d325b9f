"""Full-cell force graphs: edges cross-checked with ASE, neighbour cap, cache round trip."""

from __future__ import annotations

import numpy as np
import pytest
from ase.neighborlist import neighbor_list
from conftest import require_data

from crystalbench.forces.emt_demo import generate_emt_frames
from crystalbench.forces.graphs import (
    FORCE_GRAPHS,
    ForceGraphSpec,
    build_force_graph,
    force_graph_metadata,
    write_force_graph_table,
)
from crystalbench.forces.oc20 import read_ase_frames


@pytest.fixture(scope="module")
def frames():
    return list(generate_emt_frames(0, n_systems=3))


def test_edges_equal_ase_neighbor_list_without_a_cap(frames):
    from ase import Atoms

    for f in frames[::7]:
        g = build_force_graph(f, ForceGraphSpec(6.0, None))
        atoms = Atoms(numbers=f.atomic_numbers, positions=f.positions, cell=f.lattice, pbc=True)
        i, j, d_vec = neighbor_list("ijD", atoms, 6.0)
        # ASE's D points from i to j's image; ours from the source image to the target
        ours = sorted(zip(g.edge_dst, g.edge_src, *np.round(g.edge_vec, 8).T, strict=True))
        ase = sorted(zip(i, j, *np.round(-d_vec, 8).T, strict=True))
        assert ours == ase, f.id


def test_cap_keeps_the_nearest_fifty_and_their_ties(frames):
    f = frames[0]
    full = build_force_graph(f, ForceGraphSpec(6.0, None))
    capped = build_force_graph(f, ForceGraphSpec(6.0, 50))
    for atom in range(f.n_atoms):
        d_full = np.sort(np.linalg.norm(full.edge_vec[full.edge_dst == atom], axis=1))
        d_cap = np.sort(np.linalg.norm(capped.edge_vec[capped.edge_dst == atom], axis=1))
        if len(d_full) <= 50:
            np.testing.assert_array_equal(d_cap, d_full)
        else:
            assert len(d_cap) >= 50
            np.testing.assert_array_equal(d_cap[:50], d_full[:50])
            assert np.all(d_cap[50:] <= d_full[49] + 1e-6)  # only ties beyond the 50th


def test_table_round_trip_keeps_edges_and_labels(frames, tmp_path):
    out = tmp_path / "g.parquet"
    n = write_force_graph_table(frames, ForceGraphSpec(), out,
                                force_graph_metadata(ForceGraphSpec(), "t", "radius6", ""))
    table = FORCE_GRAPHS.read(out)
    assert n == len(table) == len(frames)
    for i in (0, len(frames) - 1):
        want, got = build_force_graph(frames[i], ForceGraphSpec()), table.graph(i)
        assert (got.id, got.system, got.frame) == (frames[i].id, frames[i].system,
                                                   frames[i].frame)
        np.testing.assert_array_equal(got.edge_src, want.edge_src)
        np.testing.assert_array_equal(got.edge_dst, want.edge_dst)
        np.testing.assert_allclose(got.edge_vec, want.edge_vec, rtol=1e-6, atol=1e-5)
        np.testing.assert_allclose(got.forces, frames[i].forces, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(got.tags, frames[i].tags)
        np.testing.assert_array_equal(got.fixed, frames[i].fixed)
        assert got.energy == frames[i].energy


def test_real_oc20_frames_build_with_about_fifty_neighbours():
    frames, _ = read_ase_frames([require_data("oc20/oc20_s2ef_sample.extxyz.gz")], "oc20")
    g = build_force_graph(frames[0], ForceGraphSpec())
    per_atom = np.bincount(g.edge_dst, minlength=g.n_nodes)
    assert per_atom.min() >= 1 and 50 <= per_atom.max() <= 60
    assert np.linalg.norm(g.edge_vec, axis=1).max() <= 6.0
