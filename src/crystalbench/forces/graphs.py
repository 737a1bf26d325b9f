"""Full-cell force graphs of S2EF frames and their Parquet cache.

Forces need every atom, so there is no asymmetric unit here: one node per atom, radius edges
(OC20's 6 Å, at most 50 neighbours per target, ties with the 50th kept as everywhere in
crystalbench, so an atom may get a few more than 50 when distances tie exactly; ocp cuts ties
by index). Edge vectors point from the source image to the target, as in the crystal graphs.
Labels (energy, forces, tags, fixed) travel with each graph row.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from importlib.metadata import version
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from crystalbench import __version__
from crystalbench.core.io import METADATA_KEY, atomic_path, flatten_list_column, list_array
from crystalbench.core.neighbors import radius_limited_edges
from crystalbench.core.parallel import ordered_map
from crystalbench.core.progress import Progress
from crystalbench.forces.frames import Frame

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ForceGraphSpec:
    """Radius graph on the full periodic cell: ``cutoff`` in Å, optional neighbour cap."""

    cutoff: float = 6.0
    max_neighbors: int | None = 50

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> ForceGraphSpec:
        unknown = set(cfg) - {"cutoff", "max_neighbors"}
        if unknown:
            raise ValueError(f"unknown force-graph keys {sorted(unknown)}")
        spec = cls(**cfg)
        if spec.cutoff <= 0 or (spec.max_neighbors is not None and spec.max_neighbors < 1):
            raise ValueError(f"invalid force-graph spec {spec}")
        return spec


@dataclass
class ForceGraph:
    """One frame as a graph with its labels; ``edge_vec`` = x_dst - (x_src + shift)."""

    id: str
    system: str
    frame: int
    atomic_numbers: np.ndarray  # (n,)
    edge_src: np.ndarray  # (E,)
    edge_dst: np.ndarray  # (E,)
    edge_vec: np.ndarray  # (E, 3)
    tags: np.ndarray  # (n,)
    fixed: np.ndarray  # (n,) bool
    energy: float
    forces: np.ndarray  # (n, 3)

    @property
    def n_nodes(self) -> int:
        return len(self.atomic_numbers)


def build_force_graph(frame: Frame, spec: ForceGraphSpec) -> ForceGraph:
    """Radius edges of one frame on its periodic cell (positions need not be wrapped)."""
    frac = np.asarray(frame.positions, np.float64) @ np.linalg.inv(frame.lattice)
    edges = radius_limited_edges(frame.lattice, frac, spec.cutoff, spec.max_neighbors)
    return ForceGraph(frame.id, frame.system, int(frame.frame),
                      np.asarray(frame.atomic_numbers), edges.src, edges.dst, edges.vec,
                      np.asarray(frame.tags), np.asarray(frame.fixed, bool),
                      float(frame.energy), np.asarray(frame.forces, np.float64))


def force_graphs_to_table(graphs: Sequence[ForceGraph]) -> pa.Table:
    """Column-wise Arrow table of a chunk of graphs (flat arrays + offsets, no Python rows)."""
    def offsets(lengths: list[int]) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)

    def cat(name: str, dtype: Any, width: int | None = None) -> np.ndarray:
        parts = [np.asarray(getattr(g, name), dtype) for g in graphs]
        shape = (0,) if width is None else (0, width)
        return np.concatenate(parts) if parts else np.zeros(shape, dtype)

    node_off = offsets([g.n_nodes for g in graphs])
    edge_off = offsets([len(g.edge_src) for g in graphs])
    return pa.table({
        "id": pa.array([g.id for g in graphs], pa.string()),
        "system": pa.array([g.system for g in graphs], pa.string()),
        "frame": pa.array([g.frame for g in graphs], pa.int32()),
        "n_nodes": pa.array([g.n_nodes for g in graphs], pa.int32()),
        "atomic_numbers": list_array(cat("atomic_numbers", np.int8), node_off),
        "tags": list_array(cat("tags", np.int8), node_off),
        "fixed": list_array(cat("fixed", bool), node_off),
        "forces": list_array(cat("forces", np.float32, 3), node_off, 3),
        "energy": pa.array([g.energy for g in graphs], pa.float64()),
        "edge_src": list_array(cat("edge_src", np.int32), edge_off),
        "edge_dst": list_array(cat("edge_dst", np.int32), edge_off),
        "edge_vec": list_array(cat("edge_vec", np.float32, 3), edge_off, 3),
    })


def build_force_graphs(
    frames: Sequence[Frame], spec: ForceGraphSpec, processes: int = 1,
) -> Iterator[ForceGraph]:
    """Graphs of all frames in input order, over worker processes."""
    return ordered_map(partial(build_force_graph, spec=spec), frames, processes)


def write_force_graph_table(
    frames: Sequence[Frame], spec: ForceGraphSpec, out: str | os.PathLike,
    metadata: dict[str, Any], processes: int = 1, rows_per_group: int = 2048,
) -> int:
    """Build and stream all graphs into one Parquet file, atomically; returns the row count."""
    tic = time.perf_counter()
    progress = Progress(f"force graphs {metadata.get('dataset', '')}", len(frames), log)
    meta = {**metadata, "spec": asdict(spec), "crystalbench": __version__,
            "pymatgen": version("pymatgen"), "representation": "cell"}
    schema = force_graphs_to_table([]).schema.with_metadata(
        {METADATA_KEY: json.dumps(meta, sort_keys=True).encode()})
    n = 0
    chunk: list[ForceGraph] = []
    with atomic_path(out) as tmp, pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for graph in build_force_graphs(frames, spec, processes):
            chunk.append(graph)
            progress.step()
            if len(chunk) == rows_per_group:
                writer.write_table(force_graphs_to_table(chunk).cast(schema))
                n, chunk = n + len(chunk), []
        if chunk or n == 0:
            writer.write_table(force_graphs_to_table(chunk).cast(schema))
            n += len(chunk)
    log.info("%s: %d force graphs in %.1f s", out, n, time.perf_counter() - tic)
    return n


@dataclass
class ForceGraphTable:
    """A force-graph file read once into flat arrays plus per-row offsets."""

    ids: list[str]
    systems: list[str]
    frames: np.ndarray
    energy: np.ndarray
    columns: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (flat values, offsets)

    def __len__(self) -> int:
        return len(self.ids)

    def _rows(self, name: str, i: int) -> np.ndarray:
        values, off = self.columns[name]
        return values[off[i]:off[i + 1]]

    def graph(self, i: int) -> ForceGraph:
        return ForceGraph(self.ids[i], self.systems[i], int(self.frames[i]),
                          self._rows("atomic_numbers", i),
                          self._rows("edge_src", i), self._rows("edge_dst", i),
                          self._rows("edge_vec", i), self._rows("tags", i),
                          self._rows("fixed", i), float(self.energy[i]),
                          self._rows("forces", i))


def read_force_graph_table(path: str | os.PathLike) -> ForceGraphTable:
    """Read a force-graph file written by ``write_force_graph_table``."""
    table = pq.read_table(path)
    columns = {}
    for name in ("atomic_numbers", "tags", "fixed", "edge_src", "edge_dst"):
        columns[name] = flatten_list_column(table[name])
    for name in ("forces", "edge_vec"):
        values, off = flatten_list_column(table[name])
        columns[name] = (values.reshape(-1, 3), off)
    return ForceGraphTable(table["id"].to_pylist(), table["system"].to_pylist(),
                           table["frame"].to_numpy(), table["energy"].to_numpy(), columns)
