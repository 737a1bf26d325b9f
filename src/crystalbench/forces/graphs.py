"""Full-cell force graphs of S2EF frames and their Parquet cache.

Forces need every atom, so there is no asymmetric unit here: one node per atom, radius edges
(OC20's 6 Å, at most 50 neighbours per target, ties with the 50th kept as everywhere in
crystalbench, so an atom may get a few more than 50 when distances tie exactly; ocp cuts ties
by index). Edge vectors point from the source image to the target, as in the crystal graphs.
Labels (energy, forces) and the atoms' tags and fixed flags travel with each graph row.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
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
from crystalbench.core.neighbors import radius_limited_edges
from crystalbench.core.parallel import ordered_map
from crystalbench.forces.frames import Frame


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


FORCE_GRAPHS = GraphContract("force", (
    ID,
    Column("system", pa.string(), "graph"),
    Column("frame", pa.int32(), "graph"),
    ATOMIC_NUMBERS,
    Column("tags", pa.int8(), "node", data_key="tags", tensor="long"),
    Column("fixed", pa.bool_(), "node", data_key="fixed", tensor="bool"),
    Column("forces", pa.float32(), "node", width=3, data_key="forces", label=True),
    Column("energy", pa.float64(), "graph", data_key="energy", tensor="float64", label=True),
    EDGE_SRC,
    EDGE_DST,
    EDGE_VEC,
), ForceGraph)
"""The force-graph file: full-cell radius graphs of S2EF frames with their labels. There is
no multiplicity column: every node is one atom, and the readout sums nodes unweighted."""


def build_force_graph(frame: Frame, spec: ForceGraphSpec) -> ForceGraph:
    """Radius edges of one frame on its periodic cell (positions need not be wrapped)."""
    frac = np.asarray(frame.positions, np.float64) @ np.linalg.inv(frame.lattice)
    edges = radius_limited_edges(frame.lattice, frac, spec.cutoff, spec.max_neighbors)
    return ForceGraph(frame.id, frame.system, int(frame.frame),
                      np.asarray(frame.atomic_numbers), edges.src, edges.dst, edges.vec,
                      np.asarray(frame.tags), np.asarray(frame.fixed, bool),
                      float(frame.energy), np.asarray(frame.forces, np.float64))


def build_force_graphs(
    frames: Sequence[Frame], spec: ForceGraphSpec, processes: int = 1,
) -> Iterator[ForceGraph]:
    """Graphs of all frames in input order, over worker processes."""
    return ordered_map(partial(build_force_graph, spec=spec), frames, processes)


def force_graph_metadata(
    spec: ForceGraphSpec, dataset: str, name: str, source: str,
) -> dict[str, Any]:
    """What a force-graph file was built with: parameters and library versions."""
    return {"dataset": dataset, "graph": name, "source": source, "spec": asdict(spec),
            "representation": "cell",
            "versions": {pkg: version(pkg) for pkg in ("pymatgen", "numpy", "pyarrow")}
            | {"crystalbench": __version__}}


def write_force_graph_table(
    frames: Sequence[Frame], spec: ForceGraphSpec, out: str | os.PathLike,
    metadata: dict[str, Any], processes: int = 1,
) -> int:
    """Build all graphs over worker processes and stream them into one file; row count."""
    return FORCE_GRAPHS.write(build_force_graphs(frames, spec, processes), out, metadata,
                              len(frames))
