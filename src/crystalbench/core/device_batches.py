"""Batches cut from flat tensors that stay on the training device: the GPU-shaped data path.

A graph table's model inputs (see :mod:`crystalbench.core.graph_contract`) are moved to the
device once, as one flat tensor per ``Data`` field plus per-graph offsets of nodes, edges and
angle pairs. Each epoch gathers every field once in the epoch's graph order, with the local
edge indices (and angle-pair edge indices) shifted by the nodes (edges) of the graphs before
them in their batch, exactly as PyG's ``Batch.from_data_list`` shifts them; each step then
slices contiguous ranges. No Python loop runs over graphs, nothing crosses between host and
device per step (slice bounds come from per-graph counts kept on the host), and the batches
equal those of :func:`crystalbench.core.training.batches` field by field.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch_geometric.data import Batch

from crystalbench.core.graph_contract import TENSOR_DTYPES, Column, GraphTable

# Data fields whose values are indices into another level, and the level they index
INDEX_LEVEL = {"edge_index": "node", "angle_index": "edge"}


def bounds_all(counts: np.ndarray) -> np.ndarray:
    """Exclusive prefix sums with the total appended: item ranges of consecutive graphs."""
    return np.concatenate([[0], np.cumsum(counts)])


class DeviceGraphs:
    """A graph table's model inputs resident on one device, cut into batches by index."""

    def __init__(self, table: GraphTable, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32) -> None:
        self.device = torch.device(device)
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

    def _positions(self, level: str, order: torch.Tensor, counts: np.ndarray,
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat positions of the items of ``level`` of the graphs in ``order``, and each
        graph's item count (device)."""
        off = self.offsets[level]
        per_graph = off[order + 1] - off[order]
        total = int(counts.sum())
        starts = torch.cumsum(per_graph, 0) - per_graph
        shift = torch.repeat_interleave(off[order] - starts, per_graph, output_size=total)
        return torch.arange(total, device=self.device) + shift, per_graph

    def batches(self, indices: np.ndarray, batch_size: int,
                rng: np.random.Generator | None) -> Iterator[Batch]:
        """Batches of ``indices`` in the order :func:`core.training.batches` uses: shuffled
        by ``rng`` when given (the same permutation), cut every ``batch_size`` rows.

        Every field is gathered once for the whole epoch, in batch order, with index fields
        already shifted to their batch; a step then only slices contiguous ranges.
        """
        order = np.ascontiguousarray(rng.permutation(indices) if rng is not None else indices,
                                     dtype=np.int64)
        n = len(order)
        if n == 0:
            return
        order_on_device = torch.as_tensor(order).to(self.device)
        first_of_batch = np.arange(0, n, batch_size)
        graph_number = torch.arange(n, device=self.device)
        graph_in_batch = graph_number % batch_size
        first_graph_of_its_batch = graph_number - graph_in_batch
        # host: where each batch starts at each level (slice bounds without a device sync)
        bounds, positions, per_graph, start_in_batch = {}, {}, {}, {}
        for level in self.offsets:
            counts = self.counts[level][order]
            bounds[level] = bounds_all(counts)[np.append(first_of_batch, n)]
            positions[level], per_graph[level] = self._positions(level, order_on_device,
                                                                 counts)
            # each graph's first item, counted from the first item of its batch
            epoch_start = torch.cumsum(per_graph[level], 0) - per_graph[level]
            start_in_batch[level] = epoch_start - epoch_start[first_graph_of_its_batch]
        epoch: dict[str, torch.Tensor] = {}
        for key, values in self.fields.items():
            level = self.level[key]
            if level == "graph":
                epoch[key] = values[order_on_device]
            elif key in INDEX_LEVEL:  # (2, items): local indices, shifted into the batch
                indexed = INDEX_LEVEL[key]
                shift = torch.repeat_interleave(start_in_batch[indexed], per_graph[level],
                                                output_size=positions[level].numel())
                epoch[key] = values[:, positions[level]] + shift
            else:
                epoch[key] = values[positions[level]]
        node_batch = torch.repeat_interleave(graph_in_batch, per_graph["node"],
                                             output_size=positions["node"].numel())
        ptr_epoch = torch.as_tensor(bounds_all(self.counts["node"][order]), device=self.device)
        for b, first in enumerate(first_of_batch):
            last = min(first + batch_size, n)
            fields = {}
            for key, values in epoch.items():
                level = self.level[key]
                if level == "graph":
                    lo, hi = first, last
                else:
                    lo, hi = bounds[level][b], bounds[level][b + 1]
                fields[key] = values[..., lo:hi] if key in INDEX_LEVEL else values[lo:hi]
            nodes = slice(bounds["node"][b], bounds["node"][b + 1])
            batch = Batch(**fields)
            batch.batch = node_batch[nodes]
            batch.ptr = ptr_epoch[first:last + 1] - ptr_epoch[first]
            batch._num_graphs = last - first
            yield batch
