"""The graph contract: one declaration of a graph file's columns drives its writer, its reader,
its footer and its conversion to PyTorch Geometric ``Data``, for crystal and force graphs alike.

A :class:`Column` names its Arrow element type, its level (one value per graph, node, edge or
angle pair), an inner width for vectors, whether it may be absent, and the ``Data`` field it
becomes (columns that share a field, such as ``edge_src`` and ``edge_dst``, are stacked into
it in declaration order). Label columns (a crystal's ``target``; a frame's ``energy`` and
``forces``) are marked as such. A branch declares its contract from the shared columns below
plus its own, with a row type whose attributes carry the column names.

Every graph file has the same footer: the producer's metadata (JSON under
:data:`~crystalbench.core.io.METADATA_KEY`) in the schema, and the build's wall time and row
count under :data:`BUILD_KEY`, which is known only once the last row group is written.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch_geometric.data import Data

from crystalbench.core.io import METADATA_KEY, atomic_path, flatten_list_column, list_array
from crystalbench.core.progress import Progress

log = logging.getLogger(__name__)

Level = Literal["graph", "node", "edge", "angle"]
BUILD_KEY = "crystalbench_build"
N_NODES = "n_nodes"  # written for readers that scan sizes without decoding lists; derived

# how a column becomes a tensor: "float" takes the model's dtype, the others are fixed
TENSOR_DTYPES = {"long": torch.long, "bool": torch.bool, "float64": torch.float64}


@dataclass(frozen=True)
class Column:
    """One column of a graph file (see the module docstring)."""

    name: str
    arrow: pa.DataType
    level: Level
    width: int | None = None
    required: bool = True
    data_key: str | None = None  # the Data field; None: not a model input
    tensor: str = "float"  # "float" (model dtype), "float64", "long" or "bool"
    label: bool = False

    def __post_init__(self) -> None:
        if self.tensor not in ("float", *TENSOR_DTYPES):
            raise ValueError(f"column {self.name}: unknown tensor kind {self.tensor!r}")

    @property
    def numpy_dtype(self) -> Any:
        return self.arrow.to_pandas_dtype()


# the columns every graph has, in every branch
ID = Column("id", pa.string(), "graph")
ATOMIC_NUMBERS = Column("atomic_numbers", pa.int8(), "node", data_key="z", tensor="long")
EDGE_SRC = Column("edge_src", pa.int32(), "edge", data_key="edge_index", tensor="long")
EDGE_DST = Column("edge_dst", pa.int32(), "edge", data_key="edge_index", tensor="long")
EDGE_VEC = Column("edge_vec", pa.float32(), "edge", width=3, data_key="edge_vec")


class GraphData(Data):
    """PyG data whose ``angle_index`` (pairs of edge indices) shifts by the edge count when
    graphs are batched, as ``edge_index`` shifts by the node count."""

    def __inc__(self, key: str, value: object, *args: object, **kwargs: object) -> object:
        if key == "angle_index":
            return self.edge_index.size(1)
        return super().__inc__(key, value, *args, **kwargs)


@dataclass(frozen=True)
class GraphContract:
    """The ordered columns of one kind of graph file and the row type they fill."""

    name: str
    columns: tuple[Column, ...]
    row_type: type
    by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names) or N_NODES in names:
            raise ValueError(f"{self.name} contract: duplicate or reserved column names {names}")
        if ID not in self.columns or ATOMIC_NUMBERS not in self.columns:
            raise ValueError(f"{self.name} contract needs the id and atomic_numbers columns")
        object.__setattr__(self, "by_name", {c.name: c for c in self.columns})

    @property
    def labels(self) -> tuple[str, ...]:
        """Names of the label columns, e.g. ("target",) or ("forces", "energy")."""
        return tuple(c.name for c in self.columns if c.label)

    def present(self, graph: Any) -> list[Column]:
        """The columns ``graph`` fills: every required one and the optional ones not None."""
        return [c for c in self.columns if c.required or getattr(graph, c.name) is not None]

    # --- writing -------------------------------------------------------------------------

    def to_table(self, graphs: Sequence[Any]) -> pa.Table:
        """Column-wise Arrow table of a chunk of rows (flat arrays + offsets, no Python rows).

        Optional columns are written when the first row has them; ``n_nodes`` follows ``id``
        (and any other leading graph-level columns) as an int32 count.
        """
        columns = self.present(graphs[0]) if graphs else [c for c in self.columns if c.required]
        offsets: dict[str, np.ndarray] = {}
        arrays: dict[str, pa.Array] = {}
        for col in columns:
            if col.level == "graph":
                values = [getattr(g, col.name) for g in graphs]
                arrays[col.name] = pa.array(values, col.arrow)
                continue
            if col.level not in offsets:
                sizes = [len(getattr(g, col.name)) for g in graphs]
                offsets[col.level] = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
            arrays[col.name] = list_array(self._flat(graphs, col), offsets[col.level], col.width)
        n_nodes = pa.array([len(g.atomic_numbers) for g in graphs], pa.int32())
        ordered: dict[str, pa.Array] = {}
        for name, array in arrays.items():
            if N_NODES not in ordered and self.by_name[name].level != "graph":
                ordered[N_NODES] = n_nodes
            ordered[name] = array
        ordered.setdefault(N_NODES, n_nodes)
        return pa.table(ordered)

    @staticmethod
    def _flat(graphs: Sequence[Any], col: Column) -> np.ndarray:
        shape = (-1,) if col.width is None else (-1, col.width)
        parts = [np.asarray(getattr(g, col.name), col.numpy_dtype).reshape(shape)
                 for g in graphs]
        if parts:
            return np.concatenate(parts)
        return np.zeros((0,) if col.width is None else (0, col.width), col.numpy_dtype)

    def write(
        self, graphs: Iterable[Any], path: str | os.PathLike, metadata: dict[str, Any],
        total: int, row_group_size: int = 2048,
    ) -> int:
        """Stream rows into one zstd Parquet file, a row group at a time, atomically.

        Returns the row count; the footer gets ``metadata`` and the build's wall time.
        """
        progress = Progress(f"{self.name} graphs {Path(path).name}", total, log)
        tic = time.perf_counter()
        meta = {METADATA_KEY: json.dumps(metadata, sort_keys=True).encode()}
        written = 0
        writer: pq.ParquetWriter | None = None
        with atomic_path(path) as tmp:
            try:
                chunk: list[Any] = []
                for graph in graphs:
                    chunk.append(graph)
                    if len(chunk) == row_group_size:
                        writer = self._write_chunk(writer, tmp, chunk, meta)
                        written += len(chunk)
                        progress.step(len(chunk))
                        chunk = []
                if chunk or writer is None:
                    writer = self._write_chunk(writer, tmp, chunk, meta)
                    written += len(chunk)
                    progress.step(len(chunk))
                writer.add_key_value_metadata({BUILD_KEY: json.dumps(
                    {"seconds": time.perf_counter() - tic, "rows": written})})
            finally:
                if writer is not None:
                    writer.close()
        log.info("%s: %d %s graphs in %.1f s", path, written, self.name,
                 time.perf_counter() - tic)
        return written

    def _write_chunk(self, writer: pq.ParquetWriter | None, path: Path, chunk: list[Any],
                     meta: dict[bytes, bytes]) -> pq.ParquetWriter:
        table = self.to_table(chunk)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema.with_metadata(meta),
                                      compression="zstd")
        writer.write_table(table.cast(writer.schema))
        return writer

    # --- reading -------------------------------------------------------------------------

    def read(self, path: str | os.PathLike) -> GraphTable:
        """Read a whole graph file into flat arrays plus per-level offsets (one pass)."""
        return self.from_arrow(pq.read_table(path), str(path))

    def table_of(self, graphs: Sequence[Any]) -> GraphTable:
        """In-memory rows as a :class:`GraphTable`, as if written and read back."""
        return self.from_arrow(self.to_table(graphs), f"{len(graphs)} {self.name} graphs")

    def from_arrow(self, table: pa.Table, source: str) -> GraphTable:
        """An Arrow table of this contract as flat arrays plus per-level offsets."""
        missing = [c.name for c in self.columns if c.required and c.name not in
                   table.column_names]
        if missing:
            raise ValueError(f"{source}: not a {self.name} graph file (missing columns "
                             f"{missing})")
        values: dict[str, Any] = {}
        offsets: dict[str, np.ndarray] = {}
        for col in self.columns:
            if col.name not in table.column_names:
                continue
            if col.level == "graph":
                column = table[col.name]
                values[col.name] = (column.to_pylist() if pa.types.is_string(col.arrow)
                                    else column.to_numpy())
                continue
            flat, off = flatten_list_column(table[col.name])
            values[col.name] = flat if col.width is None else flat.reshape(-1, col.width)
            offsets.setdefault(col.level, off)
        return GraphTable(self, table.num_rows, values, offsets)

    # --- model input ---------------------------------------------------------------------

    def to_data(self, graph: Any, dtype: torch.dtype = torch.float32) -> GraphData:
        """One row as PyG ``Data``; arrays are copied (those of a table are read-only views)."""
        fields: dict[str, list[np.ndarray]] = {}
        tensors: dict[str, torch.dtype] = {}
        for col in self.present(graph):
            if col.data_key is None:
                continue
            value = getattr(graph, col.name)
            fields.setdefault(col.data_key, []).append(
                np.asarray([value]) if col.level == "graph" else np.asarray(value))
            tensors[col.data_key] = TENSOR_DTYPES.get(col.tensor, dtype)
        data = GraphData(num_nodes=len(graph.atomic_numbers))
        for key, parts in fields.items():
            array = parts[0] if len(parts) == 1 else np.stack(parts)
            data[key] = torch.tensor(array, dtype=tensors[key])
        return data


@dataclass
class GraphTable:
    """A graph file read once: flat values per column and offsets per level."""

    contract: GraphContract
    n_rows: int
    values: dict[str, Any]
    offsets: dict[str, np.ndarray]

    def __len__(self) -> int:
        return self.n_rows

    @property
    def ids(self) -> list[str]:
        return self.values["id"]

    def column(self, name: str) -> Any:
        """Flat values of a column (one per graph for graph-level columns)."""
        return self.values[name]

    def has(self, name: str) -> bool:
        return name in self.values

    def sizes(self, level: Level) -> np.ndarray:
        """Nodes, edges or angle pairs per graph."""
        return np.diff(self.offsets[level])

    @property
    def n_nodes(self) -> np.ndarray:
        return self.sizes("node")

    @property
    def n_edges(self) -> np.ndarray:
        return self.sizes("edge")

    def graph(self, i: int) -> Any:
        """Row ``i`` as the contract's row type (array fields are views into the table)."""
        fields: dict[str, Any] = {}
        for name, values in self.values.items():
            col = self.contract.by_name[name]
            if col.level == "graph":
                value = values[i]
                fields[name] = value.item() if isinstance(value, np.generic) else value
            else:
                off = self.offsets[col.level]
                fields[name] = values[off[i]:off[i + 1]]
        return self.contract.row_type(**fields)

    def to_data(self, dtype: torch.dtype = torch.float32) -> list[GraphData]:
        """Every row as ``Data``, in table order."""
        return [self.contract.to_data(self.graph(i), dtype) for i in range(len(self))]


def read_build_seconds(path: str | os.PathLike) -> float:
    """Wall seconds the graph step spent building and writing this file."""
    raw = (pq.read_metadata(path).metadata or {}).get(BUILD_KEY.encode())
    if raw is None:
        raise ValueError(f"{path}: no build time in the Parquet footer")
    return float(json.loads(raw)["seconds"])
