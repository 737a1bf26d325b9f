"""The graph contract on hand-made rows: file layout, round trip, footer and PyG conversion."""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from torch_geometric.data import Batch

from crystalbench.core.graph_contract import (
    ATOMIC_NUMBERS,
    BUILD_KEY,
    EDGE_DST,
    EDGE_SRC,
    EDGE_VEC,
    ID,
    Column,
    GraphContract,
    read_build_seconds,
)
from crystalbench.core.io import read_metadata
from crystalbench.crystal.graphs import CRYSTAL_GRAPHS
from crystalbench.forces.graphs import FORCE_GRAPHS


@dataclass
class ToyGraph:
    id: str
    atomic_numbers: np.ndarray
    edge_src: np.ndarray
    edge_dst: np.ndarray
    edge_vec: np.ndarray
    target: float
    angle_a: np.ndarray | None = None
    angle_b: np.ndarray | None = None


TOY = GraphContract("toy", (
    ID, ATOMIC_NUMBERS, EDGE_SRC, EDGE_DST, EDGE_VEC,
    Column("target", pa.float64(), "graph", data_key="y", label=True),
    Column("angle_a", pa.int32(), "angle", required=False, data_key="angle_index",
           tensor="long"),
    Column("angle_b", pa.int32(), "angle", required=False, data_key="angle_index",
           tensor="long"),
), ToyGraph)


def toy_graphs(with_angles: bool) -> list[ToyGraph]:
    # a dimer (2 nodes, 2 edges) and a trimer (3 nodes, 3 edges)
    first = ToyGraph("a", np.array([1, 8]), np.array([0, 1]), np.array([1, 0]),
                     np.array([[1.0, 0, 0], [-1.0, 0, 0]]), 0.5)
    second = ToyGraph("b", np.array([6, 6, 6]), np.array([0, 1, 2]), np.array([1, 2, 0]),
                      np.arange(9, dtype=float).reshape(3, 3), -2.0)
    if with_angles:
        first.angle_a, first.angle_b = np.array([0]), np.array([1])
        second.angle_a, second.angle_b = np.array([0, 1]), np.array([2, 0])
    return [first, second]


def test_file_layout_has_offsets_by_level_and_the_declared_types(tmp_path):
    path = tmp_path / "toy.parquet"
    assert TOY.write(iter(toy_graphs(True)), path, {"dataset": "toy"}, 2, row_group_size=1) == 2
    table = pq.read_table(path)
    assert table.column_names == ["id", "n_nodes", "atomic_numbers", "edge_src", "edge_dst",
                                  "edge_vec", "target", "angle_a", "angle_b"]
    assert table["n_nodes"].to_pylist() == [2, 3]
    assert table["atomic_numbers"].to_pylist() == [[1, 8], [6, 6, 6]]
    assert table["angle_b"].to_pylist() == [[1], [2, 0]]
    assert table.schema.field("atomic_numbers").type == pa.list_(pa.int8())
    assert table.schema.field("edge_vec").type == pa.list_(pa.list_(pa.float32(), 3))
    assert pq.ParquetFile(path).metadata.num_row_groups == 2
    # the footer: producer metadata in the schema, build time and rows under BUILD_KEY
    assert read_metadata(path) == {"dataset": "toy"}
    assert read_build_seconds(path) >= 0
    assert b'"rows": 2' in pq.read_metadata(path).metadata[BUILD_KEY.encode()]


@pytest.mark.parametrize("with_angles", [False, True])
def test_round_trip_gives_back_every_field(tmp_path, with_angles):
    path = tmp_path / "toy.parquet"
    graphs = toy_graphs(with_angles)
    TOY.write(iter(graphs), path, {}, 2)
    table = TOY.read(path)
    assert len(table) == 2 and table.ids == ["a", "b"]
    assert table.has("angle_a") == with_angles
    np.testing.assert_array_equal(table.n_nodes, [2, 3])
    np.testing.assert_array_equal(table.n_edges, [2, 3])
    np.testing.assert_array_equal(table.column("target"), [0.5, -2.0])
    for want, i in zip(graphs, range(2), strict=True):
        got = table.graph(i)
        assert got.id == want.id and got.target == want.target
        for name in ("atomic_numbers", "edge_src", "edge_dst", "edge_vec", "angle_a",
                     "angle_b"):
            if getattr(want, name) is None:
                assert getattr(got, name) is None
            else:
                np.testing.assert_array_equal(getattr(got, name), getattr(want, name))


def test_an_empty_file_is_valid_and_reads_as_zero_rows(tmp_path):
    path = tmp_path / "toy.parquet"
    assert TOY.write(iter([]), path, {}, 0) == 0
    table = TOY.read(path)
    assert len(table) == 0 and table.ids == []


def test_reading_another_contracts_file_names_the_missing_columns(tmp_path):
    path = tmp_path / "toy.parquet"
    TOY.write(iter(toy_graphs(False)), path, {}, 2)
    with pytest.raises(ValueError, match=r"not a force graph file .*'system'"):
        FORCE_GRAPHS.read(path)


def test_data_conversion_stacks_pairs_and_keeps_label_dtypes():
    graph = toy_graphs(True)[1]
    data = TOY.to_data(graph, torch.float64)
    assert data.num_nodes == 3
    assert data.z.tolist() == [6, 6, 6] and data.z.dtype == torch.long
    assert data.edge_index.tolist() == [[0, 1, 2], [1, 2, 0]]
    assert data.angle_index.tolist() == [[0, 1], [2, 0]]
    assert data.y.tolist() == [-2.0] and data.y.dtype == torch.float64
    assert data.edge_vec.dtype == torch.float64
    assert "id" not in data


def test_batched_angle_pairs_shift_by_the_edges_before_them():
    batch = Batch.from_data_list([TOY.to_data(g) for g in toy_graphs(True)])
    # the second graph's pairs (0, 2) and (1, 0) move past the first graph's 2 edges
    assert batch.angle_index.tolist() == [[0, 2, 3], [1, 4, 2]]
    assert batch.edge_index.tolist() == [[0, 1, 2, 3, 4], [1, 0, 3, 4, 2]]


def test_branch_contracts_name_their_labels_and_share_the_structure_columns():
    assert CRYSTAL_GRAPHS.labels == ("target",)
    assert FORCE_GRAPHS.labels == ("forces", "energy")
    shared = (ID, ATOMIC_NUMBERS, EDGE_SRC, EDGE_DST, EDGE_VEC)
    for contract in (CRYSTAL_GRAPHS, FORCE_GRAPHS):
        assert all(column in contract.columns for column in shared)
    assert "multiplicity" not in FORCE_GRAPHS.by_name  # full cell: one atom per node


def test_a_contract_rejects_duplicate_or_reserved_columns_and_unknown_tensor_kinds():
    with pytest.raises(ValueError, match="duplicate or reserved"):
        GraphContract("bad", (ID, ATOMIC_NUMBERS, ID), ToyGraph)
    with pytest.raises(ValueError, match="duplicate or reserved"):
        GraphContract("bad", (ID, ATOMIC_NUMBERS, Column("n_nodes", pa.int32(), "graph")),
                      ToyGraph)
    with pytest.raises(ValueError, match="unknown tensor kind"):
        Column("x", pa.float32(), "node", tensor="half")
