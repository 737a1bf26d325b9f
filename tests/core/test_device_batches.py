"""The device-resident data path cuts the same batches as PyG's collation of Data objects."""

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from crystalbench.core.device_batches import DeviceGraphs
from crystalbench.core.training import batches
from crystalbench.crystal.graphs import CRYSTAL_GRAPHS, GraphSpec, build_graph
from crystalbench.crystal.symmetry import analyse_symmetry
from crystalbench.forces.emt_demo import generate_emt_frames
from crystalbench.forces.graphs import FORCE_GRAPHS, ForceGraphSpec, build_force_graph


@pytest.fixture(scope="module")
def crystal_table(demo_structures, tmp_path_factory):
    """ASU Voronoi graphs with angle pairs: every level and index field of the contract."""
    spec = GraphSpec("asu", "voronoi", min_area=0.5, line_graph=True)
    structures = demo_structures[::4]
    graphs = [build_graph(s, analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers),
                          spec) for s in structures]
    path = tmp_path_factory.mktemp("device") / "g.parquet"
    CRYSTAL_GRAPHS.write(iter(graphs), path, {}, len(graphs))
    return CRYSTAL_GRAPHS.read(path)


@pytest.fixture(scope="module")
def force_table(tmp_path_factory):
    frames = list(generate_emt_frames(0, n_systems=2))
    path = tmp_path_factory.mktemp("device") / "f.parquet"
    FORCE_GRAPHS.write((build_force_graph(f, ForceGraphSpec()) for f in frames), path, {},
                       len(frames))
    return FORCE_GRAPHS.read(path)


def assert_same_batch(new: Batch, old: Batch) -> None:
    assert new.num_graphs == old.num_graphs
    assert new.num_nodes == old.num_nodes
    # collation also stores the summed num_nodes; the device path derives it from ``ptr``
    assert sorted(new.keys()) == sorted(k for k in old.keys() if k != "num_nodes")
    for key in new.keys():
        a, b = new[key], old[key]
        assert a.dtype == b.dtype and a.shape == b.shape, key
        assert torch.equal(a, b), key


@pytest.mark.parametrize("which", ["crystal", "force"])
def test_batches_equal_pyg_collation_for_several_seeds_and_epochs(which, request):
    table = request.getfixturevalue(f"{which}_table")
    data = table.to_data()
    device = DeviceGraphs(table)
    indices = np.arange(len(table))[::-1][: len(table) - 3]  # not all rows, not in order
    for seed in (0, 1, 7):
        for epoch in (0, 1):
            for batch_size in (1, 5, 64):
                old = list(batches(data, indices, batch_size,
                                   np.random.default_rng([seed, epoch])))
                new = list(device.batches(indices, batch_size,
                                          np.random.default_rng([seed, epoch])))
                assert len(new) == len(old)
                for a, b in zip(new, old, strict=True):
                    assert_same_batch(a, b)
    # evaluation order: no shuffling
    for a, b in zip(device.batches(indices, 4, None), batches(data, indices, 4, None),
                    strict=True):
        assert_same_batch(a, b)


def test_resident_bytes_count_every_field(crystal_table):
    device = DeviceGraphs(crystal_table)
    n_edges, n_pairs = int(crystal_table.n_edges.sum()), len(crystal_table.column("angle_a"))
    n_nodes, n = int(crystal_table.n_nodes.sum()), len(crystal_table)
    want = (n_nodes * (8 + 4)  # z (long), multiplicity (float32)
            + n_edges * (2 * 8 + 3 * 4 + 4)  # edge_index, edge_vec, edge_area
            + n_pairs * 2 * 8  # angle_index
            + n * 4  # y
            + 8 * ((n + 1) * 3))  # offsets of nodes, edges, pairs
    assert device.nbytes() == want
