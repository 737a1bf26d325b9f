"""Crystal graphs in the two representations, and their Parquet cache (the graph contract).

``cell``: one node per atom of the (symmetrised) input cell.
``asu``: one node per symmetry orbit. Edges are built on the full periodic cell; every edge
whose target is an orbit representative is kept, its source is replaced by the source's
representative, and its true edge vector is kept. Multi-edges and self-loops are legal and
kept. Readouts weight each node by its multiplicity (orbit size).

Edges: k nearest neighbours (with ties), all neighbours within a cutoff (optionally capped), or
periodic Voronoi neighbours with a ridge area above a threshold (the area is an edge feature).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from crystalbench import __version__
from crystalbench.core.io import METADATA_KEY, atomic_path, flatten_list_column, list_array
from crystalbench.core.neighbors import TIE_TOLERANCE, Edges, knn_edges, radius_limited_edges
from crystalbench.core.parallel import ordered_map
from crystalbench.core.progress import Progress
from crystalbench.core.schema import (
    SCHEMA_PATH,
    ConfigError,
    check_graph_spec,
    problem_message,
    suggest,
)
from crystalbench.crystal.line_graph import angle_pairs
from crystalbench.crystal.structures import Structure
from crystalbench.crystal.symmetry import Symmetry, orbit_nodes
from crystalbench.crystal.voronoi import voronoi_edges

log = logging.getLogger(__name__)

REPRESENTATIONS = ("cell", "asu")
BUILD_KEY = "crystalbench_build"  # footer key: build time, known only once all are written


@dataclass(frozen=True)
class EdgeSelection:
    """One way to connect atoms: what it needs from a spec, how it selects, how it is named.

    ``select(lattice, frac, spec, centres)`` returns the edges of the full periodic cell, or,
    with ``centres``, at least the edges into those atoms (all an ASU graph keeps).
    """

    select: Callable[[np.ndarray, np.ndarray, GraphSpec, np.ndarray | None], Edges]
    requires: tuple[str, ...]  # spec keys that must be set, with their checks in check()
    label: Callable[[dict[str, Any]], str]  # for tables and figures, from a config entry


def _knn(lattice: np.ndarray, frac: np.ndarray, spec: GraphSpec,
         centres: np.ndarray | None) -> Edges:
    return knn_edges(lattice, frac, spec.k, spec.tie_tolerance, centres)


def _radius(lattice: np.ndarray, frac: np.ndarray, spec: GraphSpec,
            centres: np.ndarray | None) -> Edges:
    return radius_limited_edges(lattice, frac, spec.cutoff, spec.max_neighbors,
                                spec.tie_tolerance, centres)


def _voronoi(lattice: np.ndarray, frac: np.ndarray, spec: GraphSpec,
             centres: np.ndarray | None) -> Edges:
    return voronoi_edges(lattice, frac, spec.min_area, centres)


def _radius_label(spec: dict[str, Any]) -> str:
    cap = f", max {spec['max_neighbors']}" if spec.get("max_neighbors") else ""
    return f"radius {spec['cutoff']:g} Å{cap}"


# the edge selections a config's `edges:` may name; adding one is one entry here
EDGE_SELECTIONS: dict[str, EdgeSelection] = {
    "knn": EdgeSelection(_knn, ("k",), lambda spec: f"kNN k={spec['k']}"),
    "radius": EdgeSelection(_radius, ("cutoff",), _radius_label),
    "voronoi": EdgeSelection(_voronoi, ("min_area",),
                             lambda spec: f"Voronoi area > {spec['min_area']:g} Å²"),
}


def edge_problems(spec: Any) -> list[tuple[tuple[str, ...], str]]:
    """(key path, problem) for a graph entry's edge selection: a name the registry knows,
    with the keys it requires."""
    if not isinstance(spec, dict) or not isinstance(spec.get("edges"), str):
        return []  # the schema reports a missing or non-text ``edges``
    name = spec["edges"]
    if name not in EDGE_SELECTIONS:
        return [(("edges",), f"unknown edge selection {name!r}"
                 f"{suggest(name, list(EDGE_SELECTIONS))}")]
    return [((key,), f"missing (required when edges is {name!r})")
            for key in EDGE_SELECTIONS[name].requires if key not in spec]


@dataclass(frozen=True)
class GraphSpec:
    """How to connect a crystal: the representation and the edge selection.

    ``knn`` uses ``k``; ``radius`` uses ``cutoff`` (Å) and optionally ``max_neighbors``;
    ``voronoi`` keeps faces with area > ``min_area`` (Å²) and stores the area per edge.
    ``line_graph`` adds the angle pairs (edges sharing a target) for angle-aware models.
    """

    representation: str
    edges: str = "knn"
    k: int | None = 24
    cutoff: float | None = None
    max_neighbors: int | None = None
    min_area: float | None = None
    tie_tolerance: float = TIE_TOLERANCE
    line_graph: bool = False

    def __post_init__(self) -> None:
        if self.representation not in REPRESENTATIONS:
            raise ValueError(f"representation must be one of {REPRESENTATIONS}, "
                             f"got {self.representation!r}")
        if self.edges not in EDGE_SELECTIONS:
            raise ValueError(f"edge selection must be one of {list(EDGE_SELECTIONS)}, "
                             f"got {self.edges!r}")
        if self.edges == "radius" and (self.cutoff is None or self.cutoff <= 0):
            raise ValueError(f"radius edges need a positive cutoff, got {self.cutoff!r}")
        if self.edges == "voronoi" and (self.min_area is None or self.min_area < 0):
            raise ValueError(f"Voronoi edges need min_area >= 0, got {self.min_area!r}")
        if "k" not in EDGE_SELECTIONS[self.edges].requires:
            object.__setattr__(self, "k", None)  # the kNN default does not apply
        if self.edges == "knn" and (self.k is None or self.k < 1):
            raise ValueError(f"kNN edges need a positive k, got {self.k!r}")

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> GraphSpec:
        """A spec from a config's graph entry (or ``asdict`` of a spec, whose None values mean
        unset), checked as the config is: ``ConfigError`` names the key, the rule and the
        nearest valid key (``graph spec key 'k': must be a positive integer, got 2.5``)."""
        if isinstance(cfg, dict):
            cfg = {key: value for key, value in cfg.items() if value is not None}
        if SCHEMA_PATH.exists():  # absent only where the package is installed without it
            check_graph_spec(cfg)
        problems = edge_problems(cfg)
        if problems:
            raise ConfigError([problem_message("graph spec", path, what)
                               for path, what in problems])
        return cls(**cfg)


@dataclass
class CrystalGraph:
    """One crystal graph; edges are (source -> target) with vectors source image -> target."""

    id: str
    atomic_numbers: np.ndarray  # (n,)
    multiplicity: np.ndarray  # (n,)
    edge_src: np.ndarray  # (E,)
    edge_dst: np.ndarray  # (E,)
    edge_vec: np.ndarray  # (E, 3)
    target: float = float("nan")
    angle_a: np.ndarray | None = None  # (A,) line-graph pairs: edges sharing a target
    angle_b: np.ndarray | None = None
    edge_area: np.ndarray | None = None  # (E,) Voronoi ridge area, Å²

    @property
    def n_nodes(self) -> int:
        return len(self.atomic_numbers)

    @property
    def n_edges(self) -> int:
        return len(self.edge_src)


def select_edges(
    lattice: np.ndarray, frac: np.ndarray, spec: GraphSpec, centres: np.ndarray | None = None,
) -> Edges:
    """Edges of the full periodic cell according to ``spec``; with ``centres``, only (at
    least) the edges into those atoms, which is all an ASU graph keeps."""
    return EDGE_SELECTIONS[spec.edges].select(lattice, frac, spec, centres)


def cell_graph(sid: str, numbers: np.ndarray, edges: Edges, target: float) -> CrystalGraph:
    """The full-cell graph: every atom a node of multiplicity 1."""
    return CrystalGraph(sid, np.asarray(numbers), np.ones(len(numbers), dtype=np.int64),
                        edges.src, edges.dst, edges.vec, target, edge_area=edges.area)


def asu_graph(
    sid: str, numbers: np.ndarray, edges: Edges, orbit: np.ndarray, target: float
) -> CrystalGraph:
    """Reduce full-cell edges to the asymmetric unit given each atom's orbit representative.

    ``orbit`` maps each atom to its orbit's first atom (which maps to itself).
    """
    representatives, node_of_atom = orbit_nodes(orbit)
    into_rep = orbit[edges.dst] == edges.dst
    kept = edges if into_rep.all() else edges.select(into_rep)
    return CrystalGraph(
        sid, np.asarray(numbers)[representatives], np.bincount(node_of_atom),
        node_of_atom[kept.src], node_of_atom[kept.dst], kept.vec, target, edge_area=kept.area,
    )


def build_graph(structure: Structure, sym: Symmetry, spec: GraphSpec) -> CrystalGraph:
    """Build ``structure``'s graph on its symmetrised cell in the representation of ``spec``."""
    centres = sym.representatives if spec.representation == "asu" else None
    try:
        edges = select_edges(sym.lattice, sym.frac_coords, spec, centres)
    except ValueError as exc:
        raise ValueError(f"structure {structure.id!r}: {spec.edges} edges failed: {exc}") from exc
    if spec.representation == "cell":
        graph = cell_graph(structure.id, structure.atomic_numbers, edges, structure.target)
    else:
        graph = asu_graph(structure.id, structure.atomic_numbers, edges, sym.orbit,
                          structure.target)
    if spec.line_graph:
        graph.angle_a, graph.angle_b = angle_pairs(graph.edge_dst, graph.n_nodes)
    return graph


def _build_one(item: tuple[Structure, Symmetry], spec: GraphSpec) -> CrystalGraph:
    return build_graph(item[0], item[1], spec)


def build_graphs(
    structures: Sequence[Structure], symmetry: dict[str, Symmetry], spec: GraphSpec,
    processes: int = 1,
) -> Iterator[CrystalGraph]:
    """Graphs of ``structures`` in order, built over ``processes`` worker processes."""
    items = [(s, symmetry[s.id]) for s in structures]
    return ordered_map(partial(_build_one, spec=spec), items, processes)


def graphs_to_table(graphs: Sequence[CrystalGraph]) -> pa.Table:
    """Arrow layout of the graph contract."""
    n_nodes = np.array([g.n_nodes for g in graphs], dtype=np.int64)
    n_edges = np.array([g.n_edges for g in graphs], dtype=np.int64)
    node_off = np.concatenate([[0], np.cumsum(n_nodes)])
    edge_off = np.concatenate([[0], np.cumsum(n_edges)])

    def cat(name: str, dtype: type) -> np.ndarray:
        parts = [np.asarray(getattr(g, name), dtype=dtype) for g in graphs]
        return np.concatenate(parts) if parts else np.zeros(0, dtype)

    columns = {
        "id": pa.array([g.id for g in graphs], pa.string()),
        "n_nodes": pa.array(n_nodes, pa.int32()),
        "atomic_numbers": list_array(cat("atomic_numbers", np.int8), node_off),
        "multiplicity": list_array(cat("multiplicity", np.int16), node_off),
        "edge_src": list_array(cat("edge_src", np.int32), edge_off),
        "edge_dst": list_array(cat("edge_dst", np.int32), edge_off),
        "edge_vec": list_array(
            np.concatenate([np.asarray(g.edge_vec, np.float32).reshape(-1, 3) for g in graphs])
            if graphs else np.zeros((0, 3), np.float32), edge_off, 3),
        "target": pa.array([g.target for g in graphs], pa.float64()),
    }
    if graphs and graphs[0].edge_area is not None:
        columns["edge_area"] = list_array(cat("edge_area", np.float32), edge_off)
    if graphs and graphs[0].angle_a is not None:
        n_angles = np.array([len(g.angle_a) for g in graphs], dtype=np.int64)
        angle_off = np.concatenate([[0], np.cumsum(n_angles)])
        columns["angle_a"] = list_array(cat("angle_a", np.int32), angle_off)
        columns["angle_b"] = list_array(cat("angle_b", np.int32), angle_off)
    return pa.table(columns)


def graph_metadata(spec: GraphSpec, symprec: float, dataset: str, name: str) -> dict[str, Any]:
    """What a graph file was built with: parameters and library versions."""
    return {
        "dataset": dataset, "graph": name, "spec": asdict(spec), "symprec": symprec,
        "versions": {pkg: version(pkg)
                     for pkg in ("pymatgen", "spglib", "scipy", "numpy", "pyarrow")}
        | {"crystalbench": __version__},
    }


def write_graph_table(
    graphs: Iterator[CrystalGraph], path: str | os.PathLike, metadata: dict[str, Any],
    total: int, row_group_size: int = 2048,
) -> int:
    """Stream graphs into a zstd Parquet file, one row group at a time, atomically.

    The wall time of building and writing goes into the footer (``read_build_seconds``).
    """
    progress = Progress(f"graphs {Path(path).name}", total, log)
    written = 0
    writer = None
    tic = time.perf_counter()
    with atomic_path(path) as tmp:
        try:
            chunk: list[CrystalGraph] = []
            for graph in graphs:
                chunk.append(graph)
                if len(chunk) == row_group_size:
                    writer = _write_chunk(writer, tmp, chunk, metadata)
                    written += len(chunk)
                    progress.step(len(chunk))
                    chunk = []
            if chunk or writer is None:
                writer = _write_chunk(writer, tmp, chunk, metadata)
                written += len(chunk)
                progress.step(len(chunk))
            writer.add_key_value_metadata({BUILD_KEY: json.dumps(
                {"seconds": time.perf_counter() - tic, "structures": written})})
        finally:
            if writer is not None:
                writer.close()
    return written


def read_build_seconds(path: str | os.PathLike) -> float:
    """Wall seconds the graph step spent building and writing this file."""
    raw = (pq.read_metadata(path).metadata or {}).get(BUILD_KEY.encode())
    if raw is None:
        raise ValueError(f"{path}: no build time in the Parquet footer")
    return float(json.loads(raw)["seconds"])


def _write_chunk(
    writer: pq.ParquetWriter | None, path: Path, chunk: list[CrystalGraph], metadata: dict
) -> pq.ParquetWriter:
    table = graphs_to_table(chunk)
    table = table.replace_schema_metadata({METADATA_KEY: json.dumps(metadata, sort_keys=True)})
    if writer is None:
        writer = pq.ParquetWriter(path, table.schema, compression="zstd")
    writer.write_table(table)
    return writer


@dataclass
class GraphTable:
    """A graph Parquet file read once into flat arrays plus per-graph offsets."""

    ids: list[str]
    targets: np.ndarray
    atomic_numbers: np.ndarray
    multiplicity: np.ndarray
    node_offsets: np.ndarray
    edge_src: np.ndarray
    edge_dst: np.ndarray
    edge_vec: np.ndarray
    edge_offsets: np.ndarray
    angle_a: np.ndarray | None = None
    angle_b: np.ndarray | None = None
    angle_offsets: np.ndarray | None = None
    edge_area: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def graph(self, i: int) -> CrystalGraph:
        a, b = self.node_offsets[i], self.node_offsets[i + 1]
        c, d = self.edge_offsets[i], self.edge_offsets[i + 1]
        graph = CrystalGraph(self.ids[i], self.atomic_numbers[a:b], self.multiplicity[a:b],
                             self.edge_src[c:d], self.edge_dst[c:d], self.edge_vec[c:d],
                             float(self.targets[i]))
        if self.edge_area is not None:
            graph.edge_area = self.edge_area[c:d]
        if self.angle_offsets is not None:
            e, f = self.angle_offsets[i], self.angle_offsets[i + 1]
            graph.angle_a, graph.angle_b = self.angle_a[e:f], self.angle_b[e:f]
        return graph

    @property
    def n_nodes(self) -> np.ndarray:
        return np.diff(self.node_offsets)

    @property
    def n_edges(self) -> np.ndarray:
        return np.diff(self.edge_offsets)


def read_graph_table(path: str | os.PathLike) -> GraphTable:
    """Read the whole graph file into flat arrays (one pass over the columns)."""
    table = pq.read_table(path)
    numbers, node_off = flatten_list_column(table["atomic_numbers"])
    mult, _ = flatten_list_column(table["multiplicity"])
    src, edge_off = flatten_list_column(table["edge_src"])
    dst, _ = flatten_list_column(table["edge_dst"])
    vec, _ = flatten_list_column(table["edge_vec"])
    graphs = GraphTable(table["id"].to_pylist(), table["target"].to_numpy(), numbers, mult,
                        node_off, src, dst, vec.reshape(-1, 3), edge_off)
    if "edge_area" in table.column_names:
        graphs.edge_area, _ = flatten_list_column(table["edge_area"])
    if "angle_a" in table.column_names:
        graphs.angle_a, graphs.angle_offsets = flatten_list_column(table["angle_a"])
        graphs.angle_b, _ = flatten_list_column(table["angle_b"])
    return graphs
