"""PyTorch Geometric view of a force-graph table: one ``Data`` per frame with its labels."""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import Data

from crystalbench.forces.graphs import ForceGraph, ForceGraphTable


def force_data(graph: ForceGraph, dtype: torch.dtype = torch.float32) -> Data:
    """Nodes, edges (source, target), labels; multiplicity is 1 (full cell, no ASU).

    Arrays are copied: those of a graph table are read-only views of Arrow buffers.
    """
    n = graph.n_nodes
    return Data(
        z=torch.tensor(np.asarray(graph.atomic_numbers), dtype=torch.long),
        multiplicity=torch.ones(n, dtype=dtype),
        edge_index=torch.tensor(np.stack([graph.edge_src, graph.edge_dst]), dtype=torch.long),
        edge_vec=torch.tensor(np.asarray(graph.edge_vec), dtype=dtype),
        forces=torch.tensor(np.asarray(graph.forces), dtype=dtype),
        energy=torch.tensor([graph.energy], dtype=torch.float64),
        tags=torch.tensor(np.asarray(graph.tags), dtype=torch.long),
        fixed=torch.tensor(np.asarray(graph.fixed), dtype=torch.bool),
        num_nodes=n,
    )


def force_table_to_data(table: ForceGraphTable, dtype: torch.dtype = torch.float32) -> list[Data]:
    """All frames of a table as ``Data`` objects, in table order."""
    return [force_data(table.graph(i), dtype) for i in range(len(table))]
