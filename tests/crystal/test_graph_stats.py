import logging

import numpy as np
import pandas as pd
import pytest

from crystalbench.crystal.graph_stats import per_structure_counts, write_graph_stats
from crystalbench.crystal.graphs import CRYSTAL_GRAPHS, GraphSpec, build_graphs, graph_metadata
from crystalbench.crystal.symmetry import analyse_symmetry, write_symmetry_table


def write_graphs(tmp_path, structures, symmetry, name, spec):
    path = tmp_path / "graphs" / f"{name}.parquet"
    path.parent.mkdir(exist_ok=True)
    CRYSTAL_GRAPHS.write(build_graphs(structures, symmetry, spec), path,
                         graph_metadata(spec, 1e-4, "demo_alloys", name), len(structures))
    return path


def test_cell_counts_derived_from_the_asu_graph_equal_the_cell_graph(tmp_path, demo_structures):
    structures = demo_structures[::4]
    symmetry = {s.id: analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
                for s in structures}
    for edges in ({"edges": "knn", "k": 12}, {"edges": "voronoi", "min_area": 0.1}):
        asu = per_structure_counts(write_graphs(tmp_path, structures, symmetry, "a",
                                                GraphSpec("asu", **edges)))
        cell = per_structure_counts(write_graphs(tmp_path, structures, symmetry, "c",
                                                 GraphSpec("cell", **edges)))
        for what in ("nodes", "edges", "angle_pairs"):
            np.testing.assert_array_equal(asu[f"cell_{what}"], cell[what], err_msg=what)
        # independent of the counting code: a cell graph has one node per atom, and kNN-12
        # gives every atom at least 12 in-edges (ties with the 12th are kept)
        np.testing.assert_array_equal(cell["nodes"], [s.n_atoms for s in structures])
        if edges["edges"] == "knn":
            assert (cell["edges"] >= 12 * cell["nodes"]).all()
        # angle pairs counted from degrees equal the line graph's own construction
        lines = build_graphs(structures, symmetry, GraphSpec("asu", line_graph=True, **edges))
        assert asu["angle_pairs"].tolist() == [len(g.angle_a) for g in lines]


def test_table_and_figures(tmp_path, demo_structures, caplog):
    structures = demo_structures[::4]
    symmetry_path = tmp_path / "demo_alloys.parquet"
    write_symmetry_table(structures, symmetry_path)
    symmetry = {s.id: analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
                for s in structures}
    files = [write_graphs(tmp_path, structures, symmetry, name, GraphSpec(rep, k=12))
             for name, rep in (("asu-knn12", "asu"), ("cell-knn12", "cell"))]
    with caplog.at_level(logging.WARNING, logger="crystalbench.core.figures"):
        table = write_graph_stats([str(f) for f in files], [str(symmetry_path)],
                                  tmp_path / "t.md", tmp_path / "t.csv", tmp_path / "fig")
    assert (tmp_path / "fig" / "graph_stats_demo_alloys.png").stat().st_size > 10_000
    assert caplog.text == ""  # no text problem (core.figures.text_problems) was logged
    back = pd.read_csv(tmp_path / "t.csv").set_index("graph")
    asu, cell = back.loc["asu-knn12"], back.loc["cell-knn12"]
    # the derived reduction equals the measured one, cell graph against ASU graph
    assert asu["edge reduction"] == pytest.approx(cell["mean edges"] / asu["mean edges"])
    assert cell["edge reduction"] == 1.0 and np.isnan(cell["symmetry ms/structure"])
    assert asu["node reduction"] > 1.5 and asu["symmetry ms/structure"] > 0
    text = (tmp_path / "t.md").read_text()
    assert "| demo_alloys | asu-knn12 | asu | kNN k=12 |" in text and len(table) == 2
    assert "e+" not in text  # one rounding rule, no exponents
    assert np.isnan(asu["mean angle pairs"]) and np.isnan(asu["angle-pair reduction"])

