"""PyTorch Geometric view of a graph table: one ``Data`` per crystal, built from flat arrays."""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import Batch, Data

from crystalbench.graphs import CrystalGraph, GraphTable


def to_data(graph: CrystalGraph, dtype: torch.dtype = torch.float32) -> Data:
    """Convert one crystal graph; ``edge_index`` rows are (source, target).

    Arrays are copied: those of a graph table are read-only views of Arrow buffers.
    """
    return Data(
        z=torch.tensor(np.asarray(graph.atomic_numbers), dtype=torch.long),
        multiplicity=torch.tensor(np.asarray(graph.multiplicity), dtype=dtype),
        edge_index=torch.tensor(np.stack([graph.edge_src, graph.edge_dst]), dtype=torch.long),
        edge_vec=torch.tensor(np.asarray(graph.edge_vec), dtype=dtype),
        y=torch.tensor([graph.target], dtype=dtype),
        num_nodes=graph.n_nodes,
    )


def table_to_data(table: GraphTable, dtype: torch.dtype = torch.float32) -> list[Data]:
    """All graphs of a table as ``Data`` objects, in table order."""
    return [to_data(table.graph(i), dtype) for i in range(len(table))]


def batches(
    data: list[Data], indices: np.ndarray, batch_size: int, rng: np.random.Generator | None,
) -> list[Batch]:
    """Split ``indices`` (shuffled with ``rng`` when given) into PyG batches."""
    order = rng.permutation(indices) if rng is not None else np.asarray(indices)
    return [Batch.from_data_list([data[i] for i in order[s:s + batch_size]])
            for s in range(0, len(order), batch_size)]
