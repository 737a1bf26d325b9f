"""Size statistics of the cached graphs: nodes, edges and angle pairs per structure, the ASU
reduction factors, and build times; one table over all datasets and graph variants, and one
figure per dataset of how the reduction factor is distributed over its structures.

The full-cell counts of an ASU graph follow from the ASU graph alone: every atom of an orbit
has the same in-edges as its representative, so the cell has sum(m_i) nodes, sum(m_i d_i)
edges and sum(m_i d_i (d_i - 1)) angle pairs, with d_i the in-degree of ASU node i.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

from crystalbench.core.figures import save_figure
from crystalbench.core.graph_contract import read_build_seconds
from crystalbench.core.io import read_metadata, write_text
from crystalbench.core.table_format import number
from crystalbench.crystal.graphs import CRYSTAL_GRAPHS, EDGE_SELECTIONS

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402


def per_structure_counts(path: str | os.PathLike) -> pd.DataFrame:
    """One row per structure: graph sizes and the sizes of the full-cell graph it stands for."""
    table = CRYSTAL_GRAPHS.read(path)
    n_graphs = len(table)
    nodes, edges = table.n_nodes, table.n_edges
    graph_of_node = np.repeat(np.arange(n_graphs), nodes)
    graph_of_edge = np.repeat(np.arange(n_graphs), edges)
    target = table.column("edge_dst").astype(np.int64) + table.offsets["node"][:-1][graph_of_edge]
    degree = np.bincount(target, minlength=len(graph_of_node)).astype(np.float64)
    m = table.column("multiplicity").astype(np.float64)

    def per_graph(values: np.ndarray) -> np.ndarray:
        return np.bincount(graph_of_node, weights=values, minlength=n_graphs)

    return pd.DataFrame({
        "id": table.ids, "nodes": nodes, "edges": edges,
        "angle_pairs": per_graph(degree * (degree - 1)),
        "cell_nodes": per_graph(m), "cell_edges": per_graph(m * degree),
        "cell_angle_pairs": per_graph(m * degree * (degree - 1)),
    })


def summarise(counts: pd.DataFrame, meta: dict, build_seconds: float,
              symmetry_seconds: float) -> dict:
    """The table row of one graph file."""
    spec = meta["spec"]
    asu = spec["representation"] == "asu"
    pairs = bool(spec.get("line_graph"))  # angle pairs exist on line-graph graphs only
    n = len(counts)
    return {
        "dataset": meta["dataset"], "graph": meta["graph"],
        "representation": spec["representation"], "edges": edge_label(spec),
        "structures": n,
        "mean nodes": counts["nodes"].mean(), "max nodes": int(counts["nodes"].max()),
        "mean edges": counts["edges"].mean(), "max edges": int(counts["edges"].max()),
        "mean angle pairs": counts["angle_pairs"].mean() if pairs else np.nan,
        "max angle pairs": int(counts["angle_pairs"].max()) if pairs else np.nan,
        "node reduction": counts["cell_nodes"].sum() / counts["nodes"].sum(),
        "edge reduction": counts["cell_edges"].sum() / counts["edges"].sum(),
        "angle-pair reduction": (counts["cell_angle_pairs"].sum()
                                 / max(counts["angle_pairs"].sum(), 1)) if pairs else np.nan,
        "symmetry ms/structure": 1e3 * symmetry_seconds / n if asu else np.nan,
        "edges ms/structure": 1e3 * build_seconds / n,
    }


def edge_label(spec: dict) -> str:
    return EDGE_SELECTIONS[spec["edges"]].label(spec)


def reduction_figure(dataset: str, counts: dict[str, pd.DataFrame], path: Path) -> None:
    """Cumulative distribution over structures of the ASU node and edge reduction factors."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    first = next(iter(counts.values()), None)
    if first is not None:
        factor = np.sort(first["cell_nodes"] / first["nodes"])
        ax.step(factor, np.arange(1, len(factor) + 1) / len(factor), where="post",
                color="black", lw=2, label="nodes")
    for graph, c in counts.items():
        factor = np.sort(c["cell_edges"] / c["edges"])
        ax.step(factor, np.arange(1, len(factor) + 1) / len(factor), where="post",
                label=f"edges, {graph}")
    if first is None:
        ax.text(0.5, 0.5, "no ASU graphs for this dataset", ha="center", transform=ax.transAxes)
    ax.set_xscale("log")
    largest = max([(c["cell_edges"] / c["edges"]).max() for c in counts.values()]
                  + [(c["cell_nodes"] / c["nodes"]).max() for c in counts.values()] + [1.0])
    ax.set_xticks([t for t in (1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
                   if t <= largest])
    ax.xaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    ax.set_xlabel("reduction factor, full cell / ASU (log scale)")
    ax.set_ylabel("fraction of structures ≤ factor")
    ax.set_title(f"{dataset}: ASU reduction per structure")
    ax.grid(alpha=0.3)
    if first is not None:
        ax.legend(fontsize=8)
    save_figure(fig, [path])


def write_graph_stats(
    graph_files: Sequence[str], symmetry_files: Sequence[str], table_md: str,
    table_csv: str, figures_dir: str,
) -> pd.DataFrame:
    """Table over all graph files; one reduction figure per dataset of ``symmetry_files``."""
    symmetry_seconds = {Path(p).name.removesuffix(".parquet"): read_metadata(p)["seconds"]
                        for p in symmetry_files}
    rows, asu_counts = [], {d: {} for d in symmetry_seconds}
    for path in graph_files:
        meta = read_metadata(path)
        counts = per_structure_counts(path)
        rows.append(summarise(counts, meta, read_build_seconds(path),
                              symmetry_seconds.get(meta["dataset"], np.nan)))
        if meta["spec"]["representation"] == "asu":
            asu_counts.setdefault(meta["dataset"], {})[meta["graph"]] = counts
    table = pd.DataFrame(rows).sort_values(["dataset", "representation", "graph"])
    write_text(table_csv, table.to_csv(index=False))
    write_text(table_md, markdown(table))
    for dataset, counts in asu_counts.items():
        reduction_figure(dataset, counts, Path(figures_dir) / f"graph_stats_{dataset}.png")
    return table


def markdown(table: pd.DataFrame) -> str:
    cell = number

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in table.itertuples(index=False)]
    note = ("Reduction factors are totals over the dataset (full-cell count / ASU count; the "
            "full-cell counts follow from the ASU graph and the multiplicities). Symmetry "
            "time is shared by all ASU variants of a dataset; edge time is the wall time of "
            "the graph step.\n")
    return "# Graph statistics\n\n" + "\n".join(lines) + "\n\n" + note
