"""The report's texts are true to the run: the landing page is built from the config, and
the study table's caption names exactly the columns the table has."""

import re
from pathlib import Path
from types import SimpleNamespace

import jinja2
import pandas as pd
import yaml

from crystalbench.crystal.aggregate import write_study_table

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "workflow/report"


def test_landing_page_names_what_the_config_runs():
    config = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    text = jinja2.Template((REPORT / "workflow.rst").read_text()).render(
        snakemake=SimpleNamespace(config=config))
    for name in [*config["datasets"], *config["graphs"], *config["models"],
                 *config["studies"], *config["forces"]["studies"]]:
        assert name in text, name
    assert "asu-voronoi (asu, voronoi + angle pairs)" in text
    paper = yaml.safe_load((REPO / "config/config.yaml").read_text())
    assert "forces" not in paper  # the paper's config has no force branch: nor has its report
    text = jinja2.Template((REPORT / "workflow.rst").read_text()).render(
        snakemake=SimpleNamespace(config=paper))
    assert "Force (S2EF) studies" not in text and "matbench_mp_e_form" in text


def test_study_caption_names_exactly_the_columns_of_the_study_table(tmp_path):
    named = set(re.findall(r"``([a-z_]+)``", (REPORT / "study_table.rst").read_text()))
    runs = sorted((REPO / "benchmarks/reproduction/matbench_paper/runs/matbench_jdft2d/cogn")
                  .glob("*/fold*/metrics.json"))
    write_study_table(runs, tmp_path / "t.md", tmp_path / "t.csv", "T", "cell-knn24",
                      {"matbench_jdft2d": "meV/atom"})
    columns = set(pd.read_csv(tmp_path / "t.csv").columns) - {"dataset", "model", "graph"}
    assert named == columns
