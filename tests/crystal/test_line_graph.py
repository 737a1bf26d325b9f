import numpy as np
import pytest
import torch
from ase.build import bulk
from torch_geometric.data import Batch

from crystalbench.crystal.graphs import CRYSTAL_GRAPHS, GraphSpec, build_graph
from crystalbench.crystal.line_graph import angle_pairs, pair_angles
from crystalbench.crystal.structures import Structure
from crystalbench.crystal.symmetry import analyse_symmetry


def test_pairs_share_a_target_and_cover_every_ordered_pair():
    dst = np.array([0, 0, 0, 1, 1, 3])
    a, b = angle_pairs(dst, 4)
    assert sorted(zip(a.tolist(), b.tolist(), strict=True)) == [
        (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (3, 4), (4, 3)]
    with pytest.raises(ValueError, match="sorted by target"):
        angle_pairs(np.array([1, 0]), 2)


def test_multi_edges_keep_their_angles():
    """bcc, kNN-8, ASU: one node, 8 self-loop edges from images of one source: 56 pairs."""
    fe = bulk("Fe", "bcc", a=2.87, cubic=True)
    s = Structure("bcc", np.array(fe.cell[:]), fe.get_scaled_positions(), fe.numbers, 0.0)
    sym = analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
    g = build_graph(s, sym, GraphSpec("asu", k=8, line_graph=True))
    assert g.n_nodes == 1 and len(g.angle_a) == 8 * 7
    angles = np.degrees(pair_angles(g.edge_vec, g.angle_a, g.angle_b))
    assert np.allclose(sorted(set(np.round(angles, 4))), [70.5288, 109.4712, 180.0])


def test_asu_line_graph_is_the_cell_line_graph_at_representatives(real_structures):
    """Exactness: the angles at an ASU node are those at its representative in the cell."""
    for s in real_structures:
        sym = analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
        cell = build_graph(s, sym, GraphSpec("cell", line_graph=True))
        asu = build_graph(s, sym, GraphSpec("asu", line_graph=True))
        cell_angles = pair_angles(cell.edge_vec, cell.angle_a, cell.angle_b)
        asu_angles = pair_angles(asu.edge_vec, asu.angle_a, asu.angle_b)
        for node, rep in enumerate(sym.representatives):
            at_rep = np.sort(cell_angles[cell.edge_dst[cell.angle_a] == rep])
            at_node = np.sort(asu_angles[asu.edge_dst[asu.angle_a] == node])
            assert np.array_equal(at_rep, at_node), s.id


def test_angle_pairs_round_trip_and_batch(tmp_path, demo_structures):
    spec = GraphSpec("asu", k=12, line_graph=True)
    graphs = [build_graph(s, analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers),
                          spec) for s in demo_structures[:20]]
    CRYSTAL_GRAPHS.write(iter(graphs), tmp_path / "g.parquet", {}, len(graphs))
    table = CRYSTAL_GRAPHS.read(tmp_path / "g.parquet")
    for i, g in enumerate(graphs):
        assert np.array_equal(table.graph(i).angle_a, g.angle_a)
        assert np.array_equal(table.graph(i).angle_b, g.angle_b)
    first, second = CRYSTAL_GRAPHS.to_data(table.graph(0)), CRYSTAL_GRAPHS.to_data(table.graph(1))
    batch = Batch.from_data_list([first, second])
    n_first = first.angle_index.shape[1]
    assert torch.equal(batch.angle_index[:, n_first:],
                       second.angle_index + first.edge_index.shape[1])
    # pairs still share a target after batching
    dst = batch.edge_index[1]
    assert torch.equal(dst[batch.angle_index[0]], dst[batch.angle_index[1]])
