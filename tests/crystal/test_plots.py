"""The study figures on the published runs of the paper-budget reproduction: written, with
every text inside the figure and none on top of another."""

import logging
from pathlib import Path

import pandas as pd

from crystalbench.crystal.aggregate import load_runs, summarise
from crystalbench.crystal.plots import bar_chart, parity_plot

RUNS = Path(__file__).resolve().parents[2] / "benchmarks/reproduction/matbench_paper/runs"
TITLE = "ASU vs full-cell graphs at the paper's budget (coGN, kNN-24, jdft2d, 800 epochs)"


def test_study_figures_keep_their_text_inside_and_apart(tmp_path, caplog):
    runs = sorted((RUNS / "matbench_jdft2d/cogn").glob("*/fold*"))
    summary = summarise(load_runs([r / "metrics.json" for r in runs]), "cell-knn24")
    zoo = pd.DataFrame([summary.iloc[0]] * 5).assign(  # five models with long names
        model=["cogn-demo", "congn-demo", "schnet-demo", "cgcnn-demo", "dimenetpp-demo"],
        graph=["asu-knn24", "asu-voronoi", "asu-radius6", "asu-radius8-nn12", "asu-radius5-lg"])
    with caplog.at_level(logging.WARNING, logger="crystalbench.core.figures"):
        bar_chart(summary, [tmp_path / "bars.png"], TITLE, {"matbench_jdft2d": "meV/atom"})
        bar_chart(zoo, [tmp_path / "zoo.png"], TITLE, {"matbench_jdft2d": "meV/atom"})
        parity_plot([r / "predictions.parquet" for r in runs], [tmp_path / "parity.png"],
                    TITLE, {"matbench_jdft2d": "exfoliation energy (meV/atom)"})
    assert caplog.text == ""  # no text problem (core.figures.text_problems) was logged
    for name in ("bars.png", "zoo.png", "parity.png"):
        assert (tmp_path / name).stat().st_size > 10_000
