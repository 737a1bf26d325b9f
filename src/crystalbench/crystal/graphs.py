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

from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from importlib.metadata import version
from typing import Any

import numpy as np
import pyarrow as pa

from crystalbench import __version__
from crystalbench.core.graph_contract import (
    ATOMIC_NUMBERS,
    EDGE_DST,
    EDGE_SRC,
    EDGE_VEC,
    ID,
    Column,
    GraphContract,
)
from crystalbench.core.neighbors import TIE_TOLERANCE, Edges, knn_edges, radius_limited_edges
from crystalbench.core.parallel import ordered_map
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

REPRESENTATIONS = ("cell", "asu")


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


CRYSTAL_GRAPHS = GraphContract("crystal", (
    ID,
    ATOMIC_NUMBERS,
    Column("multiplicity", pa.int16(), "node", data_key="multiplicity"),
    EDGE_SRC,
    EDGE_DST,
    EDGE_VEC,
    Column("target", pa.float64(), "graph", data_key="y", label=True),
    Column("edge_area", pa.float32(), "edge", required=False, data_key="edge_area"),
    Column("angle_a", pa.int32(), "angle", required=False, data_key="angle_index",
           tensor="long"),
    Column("angle_b", pa.int32(), "angle", required=False, data_key="angle_index",
           tensor="long"),
), CrystalGraph)
"""The crystal graph file: ASU or cell graphs with an optional line graph and ridge areas."""


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


def graph_metadata(spec: GraphSpec, symprec: float, dataset: str, name: str) -> dict[str, Any]:
    """What a graph file was built with: parameters and library versions."""
    return {
        "dataset": dataset, "graph": name, "spec": asdict(spec), "symprec": symprec,
        "versions": {pkg: version(pkg)
                     for pkg in ("pymatgen", "spglib", "scipy", "numpy", "pyarrow")}
        | {"crystalbench": __version__},
    }
