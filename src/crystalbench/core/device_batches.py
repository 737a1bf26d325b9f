"""Batches cut from flat tensors that stay on the training device: the GPU-shaped data path.

A graph table's model inputs (see :mod:`crystalbench.core.graph_contract`) are moved to the
device once, as one flat tensor per ``Data`` field plus per-graph offsets of nodes, edges and
angle pairs. A batch is a gather of whole graphs: the node, edge and pair ranges of the chosen
graphs are concatenated with tensor ops only, and the local edge indices (and angle-pair edge
indices) are shifted by the nodes (edges) of the graphs before them in the batch, exactly as
PyG's ``Batch.from_data_list`` shifts them. No Python loop runs over graphs, nothing crosses
between host and device per step, and the batches equal those of
:func:`crystalbench.core.training.batches` field by field for the same order.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch_geometric.data import Batch

from crystalbench.core.graph_contract import TENSOR_DTYPES, Column, GraphTable

# Data fields whose values are indices into another level, and the level they index
INDEX_LEVEL = {"edge_index": "node", "angle_index": "edge"}


class DeviceGraphs:
    """A graph table's model inputs resident on one device, cut into batches by index."""

    def __init__(self, table: GraphTable, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        self.device = torch.device(device)
        self.n_graphs = len(table)
        self.fields: dict[str, torch.Tensor] = {}
        self.level: dict[str, str] = {}
        columns_of: dict[str, list[Column]] = {}
        for col in table.contract.columns:
            if col.data_key is not None and table.has(col.name):
                columns_of.setdefault(col.data_key, []).append(col)
        for key, cols in columns_of.items():
            parts = [np.asarray(table.column(c.name)) for c in cols]
            array = parts[0] if len(parts) == 1 else np.stack(parts)
            tensor_dtype = TENSOR_DTYPES.get(cols[0].tensor, dtype)
            self.fields[key] = torch.tensor(array).to(self.device, tensor_dtype)
            self.level[key] = cols[0].level
        # per-graph counts stay on the host too: batch sizes are then known without a sync
        self.counts = {level: np.diff(off) for level, off in table.offsets.items()}
        self.offsets = {level: torch.as_tensor(off, dtype=torch.long, device=self.device)
                        for level, off in table.offsets.items()}

    def nbytes(self) -> int:
        """Bytes held on the device (fields and offsets)."""
        tensors = [*self.fields.values(), *self.offsets.values()]
        return sum(t.numel() * t.element_size() for t in tensors)

    def batch(self, rows: np.ndarray, rows_on_device: torch.Tensor | None = None) -> Batch:
        """The batch of table ``rows`` (host integers; pass their device copy if you have it)."""
        graphs = (rows_on_device if rows_on_device is not None
                  else torch.as_tensor(rows, dtype=torch.long).to(self.device))
        n = len(rows)
        positions, counts = {}, {}
        for level, off in self.offsets.items():
            total = int(self.counts[level][rows].sum())
            counts[level] = off[graphs + 1] - off[graphs]
            starts_in_batch = torch.cumsum(counts[level], 0) - counts[level]
            shift = torch.repeat_interleave(off[graphs] - starts_in_batch, counts[level],
                                            output_size=total)
            positions[level] = torch.arange(total, device=self.device) + shift
        out: dict[str, torch.Tensor] = {}
        for key, values in self.fields.items():
            level = self.level[key]
            if level == "graph":
                out[key] = values[graphs]
            elif key in INDEX_LEVEL:  # (2, items): local indices, shifted into the batch
                picked = values[:, positions[level]]
                indexed = counts[INDEX_LEVEL[key]]
                before = torch.cumsum(indexed, 0) - indexed
                out[key] = picked + torch.repeat_interleave(before, counts[level],
                                                            output_size=picked.shape[1])
            else:
                out[key] = values[positions[level]]
        batch = Batch(**out)
        batch.batch = torch.repeat_interleave(torch.arange(n, device=self.device),
                                              counts["node"],
                                              output_size=positions["node"].numel())
        ptr = torch.zeros(n + 1, dtype=torch.long, device=self.device)
        torch.cumsum(counts["node"], 0, out=ptr[1:])
        batch.ptr = ptr
        batch._num_graphs = n
        return batch

    def batches(self, indices: np.ndarray, batch_size: int,
                rng: np.random.Generator | None) -> Iterator[Batch]:
        """Batches of ``indices`` in the order :func:`core.training.batches` uses: shuffled
        by ``rng`` when given (the same permutation), cut every ``batch_size`` rows."""
        order = np.ascontiguousarray(rng.permutation(indices) if rng is not None else indices,
                                     dtype=np.int64)
        order_on_device = torch.as_tensor(order, dtype=torch.long).to(self.device)
        for start in range(0, len(order), batch_size):
            end = start + batch_size
            yield self.batch(order[start:end], order_on_device[start:end])
