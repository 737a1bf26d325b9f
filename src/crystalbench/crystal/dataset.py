"""PyTorch Geometric view of a graph table: one ``Data`` per crystal, built from flat arrays."""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import Data

from crystalbench.crystal.graphs import CrystalGraph, GraphTable


class CrystalData(Data):
    """PyG data whose ``angle_index`` (pairs of edge indices) shifts by the edge count when
    graphs are batched, as ``edge_index`` shifts by the node count."""

    def __inc__(self, key: str, value: object, *args: object, **kwargs: object) -> object:
        if key == "angle_index":
            return self.edge_index.size(1)
        return super().__inc__(key, value, *args, **kwargs)


def to_data(graph: CrystalGraph, dtype: torch.dtype = torch.float32) -> Data:
    """Convert one crystal graph; ``edge_index`` rows are (source, target).

    Arrays are copied: those of a graph table are read-only views of Arrow buffers.
    """
    data = CrystalData(
        z=torch.tensor(np.asarray(graph.atomic_numbers), dtype=torch.long),
        multiplicity=torch.tensor(np.asarray(graph.multiplicity), dtype=dtype),
        edge_index=torch.tensor(np.stack([graph.edge_src, graph.edge_dst]), dtype=torch.long),
        edge_vec=torch.tensor(np.asarray(graph.edge_vec), dtype=dtype),
        y=torch.tensor([graph.target], dtype=dtype),
        num_nodes=graph.n_nodes,
    )
    if graph.edge_area is not None:
        data.edge_area = torch.tensor(np.asarray(graph.edge_area), dtype=dtype)
    if graph.angle_a is not None:
        data.angle_index = torch.tensor(np.stack([graph.angle_a, graph.angle_b]),
                                        dtype=torch.long)
    return data


def table_to_data(table: GraphTable, dtype: torch.dtype = torch.float32) -> list[Data]:
    """All graphs of a table as ``Data`` objects, in table order."""
    return [to_data(table.graph(i), dtype) for i in range(len(table))]
