"""The Snakemake workflow itself: lint, formatting, DAGs, and a tiny real end-to-end run."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*args, cwd=REPO, check=True):
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.mark.parametrize("config", ["config/config.yaml", "config/demo.yaml"])
def test_snakemake_lint_is_clean(config):
    result = run(BIN / "snakemake", "--lint", "--configfile", config)
    assert "Congratulations, your workflow is in a good condition" in result.stdout + result.stderr


def test_snakefmt_and_ruff_are_clean():
    run(BIN / "snakefmt", "--check", ".")
    run(BIN / "ruff", "check", ".")


def job_counts(output: str) -> dict[str, int]:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("job "))
    counts = {}
    for line in lines[start + 2:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts


def test_dry_runs_build_the_expected_dags():
    demo = job_counts(run(BIN / "snakemake", "-n", "-F", "--configfile", "config/demo.yaml").stdout)
    assert demo == {"aggregate": 1, "all": 1, "demo_structures": 1, "graphs": 2, "splits": 1,
                    "symmetry": 1, "total": 17, "train": 10}
    paper = job_counts(run(BIN / "snakemake", "-n", "-F").stdout)
    assert paper["train"] == 10


def test_tiny_pipeline_end_to_end(tmp_path):
    config = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    config["folds"] = 2
    config["models"]["cogn-demo"]["params"] = {"width": 8, "blocks": 1, "edge_mlp_depth": 1}
    config["models"]["cogn-demo"]["train"].update(epochs=2, checkpoint_every=1)
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    common = ("-s", REPO / "Snakefile", "-d", tmp_path, "--configfile", tmp_path / "tiny.yaml")
    run(BIN / "snakemake", "--cores", "2", *common)
    table = pd.read_csv(tmp_path / "results/tables/asu.csv").set_index("graph")
    assert set(table.index) == {"asu-knn24", "cell-knn24"} and (table["folds"] == 2).all()
    assert table.loc["asu-knn24", "mean_edges"] < table.loc["cell-knn24", "mean_edges"]
    for name in ("asu_parity", "asu_bars"):
        for ext in ("png", "svg"):
            assert (tmp_path / f"results/figures/{name}.{ext}").stat().st_size > 1000
    rejects = pd.read_parquet(tmp_path / "results/structures/demo_alloys.rejects.parquet")
    kept = pd.read_parquet(tmp_path / "results/structures/demo_alloys.parquet", columns=["id"])
    assert len(kept) + len(rejects) == 304
    run(BIN / "snakemake", *common, "--report", tmp_path / "results/report.html")
    html = (tmp_path / "results/report.html").read_text(errors="replace")
    assert "asu_parity.png" in html and "asu_bars.png" in html
    again = run(BIN / "snakemake", "--cores", "2", *common)
    assert "Nothing to be done" in again.stdout + again.stderr
