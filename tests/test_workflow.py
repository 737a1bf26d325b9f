"""The Snakemake workflow itself: lint, formatting, DAGs, and a tiny real end-to-end run."""

import json
import os
import re
import resource
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


@pytest.mark.parametrize("config", ["config/config.yaml", "config/demo.yaml",
                                    "config/matbench_paper.yaml"])
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
    # studies asu (2 graphs), connectivity (4 graphs, asu-knn24 shared) and models (5 models,
    # each on its graph; cogn-demo on asu-knn24 and the Voronoi graph shared): 8 graphs,
    # 5 x (2 + 3 + 4) = 45 runs
    # forces: one EMT dataset and graph, 3 models x 3 seeds on one test fold, 1 study
    assert demo == {"aggregate": 3, "all": 1, "structures": 1, "graph_stats": 1,
                    "graphs": 8, "splits": 1, "symmetry": 1, "train": 45, "s2ef_frames": 1,
                    "s2ef_splits": 1, "s2ef_graphs": 1, "s2ef_train": 9, "s2ef_aggregate": 1,
                    "total": 74}


def test_force_study_overlay_dag_shares_runs_between_studies():
    result = run(BIN / "snakemake", "-n", "-F", "--configfile", "config/demo.yaml",
                 "config/forces_emt.yaml", "--", "force_studies")
    counts = job_counts(result.stdout)
    # demo 3 x 3; comparison 4 models x 3 seeds; data size 3 models x 2 more sizes x 3 seeds;
    # data size at equal steps 2 models x 3 sizes x 3 seeds (its own runs: equal_steps is a
    # model setting); plateau 1 more model, basis 4, activation 3, budget (300 epochs) 1, each
    # x 3 seeds
    assert counts["s2ef_train"] == 9 + 12 + 18 + 18 + 3 + 12 + 9 + 3
    assert counts["s2ef_aggregate"] == 8 and counts["s2ef_data_size"] == 2
    assert "train" not in counts  # the force target trains no crystal model
    runs = set(re.findall(r"results/forces/runs/emt_slabs/dimenetpp-forces-emt/radius6-max50/"
                          r"fold0/systems-(\w+)/seed(\d)/metrics.json", result.stdout))
    assert runs == {(n, s) for n in ("7", "14", "all") for s in "012"}


# the (model, graph) runs of each study of config/config.yaml, written out by hand
PAPER_STUDY_RUNS = {
    "reproduction": [("cogn", "asu-knn24"), ("congn", "asu-voronoi")],  # paired
    "asu": [("cogn", "asu-knn24"), ("cogn", "cell-knn24")],
    "connectivity": [("cogn", g) for g in (
        "asu-knn6", "asu-knn12", "asu-knn16", "asu-knn24", "asu-knn32", "asu-radius4",
        "asu-radius5", "asu-radius6", "asu-radius8", "asu-voronoi0", "asu-voronoi",
        "asu-voronoi0.1", "asu-voronoi0.5")],
    "message_depth": [(m, "asu-knn24") for m in ("cogn-depth1", "cogn-depth2", "cogn-depth3",
                                                 "cogn")],
    "nesting": [(m, "asu-voronoi") for m in ("cogn", "congn-flat", "congn")],
    "models": [("cogn", "asu-knn24"), ("congn", "asu-voronoi"), ("schnet", "asu-radius6"),
               ("cgcnn", "asu-radius8-nn12"), ("dimenetpp", "asu-radius5-lg")],  # paired
}


def test_paper_config_dag_has_every_task_and_fold_per_pair():
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = run(BIN / "snakemake", "-n", "-F")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of the dry run, not wall time: the bound must not depend on the machine's load
    seconds = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    counts = job_counts(result.stdout)
    # distinct (task, model, graph): reproduction 9 x 2 = 18; asu adds 9 cell graphs;
    # connectivity adds 4 tasks x 12 graphs = 48; message_depth 4 x 3 = 12; nesting 4
    # (congn-flat); models 4 x 3 = 12 (SchNet, CGCNN, DimeNet++): 103 runs x 5 folds
    assert counts["train"] == 515
    assert counts["matbench_fetch"] == 9 and counts["matbench_table"] == 1
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    for name, runs in PAPER_STUDY_RUNS.items():
        for model, graph in runs:
            jobs = re.findall(rf"results/runs/matbench_\w+/{re.escape(model)}/"
                              rf"{re.escape(graph)}/fold\d/metrics.json", result.stdout)
            assert len(set(jobs)) >= 5 * len(config["studies"][name]["datasets"]), (name, model)
    assert len(config["studies"]["reproduction"]["datasets"]) == 9
    assert counts["matbench_submission"] == 2
    assert seconds < 10


def test_tiny_pipeline_end_to_end(tmp_path):
    config = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    config["folds"] = 2
    config["models"]["cogn-demo"]["params"] = {"width": 8, "blocks": 1, "edge_mlp_depth": 1}
    for model in config["models"].values():  # every model small, two epochs
        model["params"].update(width=8)
        model["train"] = dict(model["train"], epochs=2, checkpoint_every=1)
    config["models"]["dimenetpp-demo"]["params"].update(out_emb=8, int_emb=8, blocks=1)
    forces = config["forces"]  # the ForceNet branch: 4 EMT systems, 2 folds of systems
    forces["datasets"]["emt_slabs"]["systems"] = 4
    forces["folds"] = 2
    forces["models"]["dimenetpp-forces-demo"] = {
        "architecture": "dimenetpp_forces", "train": {"augment": False},
        "params": {"out_emb": 8, "int_emb": 8, "blocks": 1, "cutoff": 6.0}}
    for model in forces["models"].values():
        if model["architecture"] == "forcenet":
            model["params"].update(hidden=8, decoder_hidden=8, interactions=1)
        else:
            model["params"].update(width=8)
        model["train"] = dict(model["train"], epochs=2, eval_every=1, rotated_copies=1)
    physics = forces["studies"]["forcenet_vs_physics"]
    physics.update(models=[*physics["models"], "dimenetpp-forces-demo"], seeds=[0, 1])
    forces["studies"]["systems"] = {"datasets": ["emt_slabs"], "graphs": ["radius6-max50"],
                                    "models": ["forcenet-demo"], "train_systems": [1, "all"]}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    common = ("-s", REPO / "Snakefile", "-d", tmp_path, "--configfile", tmp_path / "tiny.yaml")
    run(BIN / "snakemake", "--cores", "2", *common)
    physics = pd.read_csv(tmp_path / "results/tables/forcenet_vs_physics.csv")
    assert list(physics["model"]) == [m for m in ["forcenet-demo", "forcenet-noaug",
                                                  "schnet-forces-demo",
                                                  "dimenetpp-forces-demo"] for _ in (0, 1)]
    assert list(physics["seed"]) == [0, 1] * 4 and (physics["fold"] == 0).all()
    assert physics["rotated_forces_l2mae"].notna().all()
    assert "| 2 × 1 |" in (tmp_path / "results/tables/forcenet_vs_physics.md").read_text()
    curves = pd.read_csv(tmp_path / "results/tables/forcenet_vs_physics_curves.csv")
    assert curves.groupby(["model", "seed"]).size().size == 8  # every run has its curve
    systems = pd.read_csv(tmp_path / "results/tables/systems.csv")
    assert sorted(systems["n_train_systems"]) == [1, 2]  # 2 folds of 4 systems: 2 train
    for study in ("forcenet_vs_physics", "systems"):
        assert "forces L2MAE" in (tmp_path / f"results/tables/{study}.md").read_text()
        assert (tmp_path / f"results/figures/{study}_time.png").stat().st_size > 10_000
    assert (tmp_path / "results/figures/systems_data_size.png").stat().st_size > 10_000
    frames = pd.read_parquet(tmp_path / "results/forces/frames/emt_slabs.parquet",
                             columns=["id", "system"])
    frame_rejects = pd.read_parquet(tmp_path / "results/forces/frames/emt_slabs.rejects.parquet")
    assert frames["system"].nunique() == 4 and len(frames) + len(frame_rejects) == 100
    table = pd.read_csv(tmp_path / "results/tables/asu.csv").set_index("graph")
    assert set(table.index) == {"asu-knn24", "cell-knn24"} and (table["folds"] == 2).all()
    assert table.loc["asu-knn24", "mean_edges"] < table.loc["cell-knn24", "mean_edges"]
    for name in ("asu_parity", "asu_bars", "connectivity_parity", "connectivity_bars"):
        for ext in ("png", "svg"):
            assert (tmp_path / f"results/figures/{name}.{ext}").stat().st_size > 1000
    connectivity = pd.read_csv(tmp_path / "results/tables/connectivity.csv")
    assert set(connectivity["graph"]) == {"asu-knn12", "asu-knn24", "asu-radius4",
                                          "asu-voronoi"}
    models = pd.read_csv(tmp_path / "results/tables/models.csv")
    assert list(zip(models["model"], models["graph"], strict=True)) == [
        ("cogn-demo", "asu-knn24"), ("congn-demo", "asu-voronoi"), ("schnet-demo", "asu-radius6"),
        ("cgcnn-demo", "asu-radius8-nn12"), ("dimenetpp-demo", "asu-radius5-lg")]
    assert models["parameters"].nunique() == 5 and (models["folds"] == 2).all()
    stats = pd.read_csv(tmp_path / "results/tables/graph_stats.csv").set_index("graph")
    assert len(stats) == 8 and stats.loc["asu-knn24", "edge reduction"] > 1.2
    assert (tmp_path / "results/figures/graph_stats_demo_alloys.png").stat().st_size > 10_000
    rejects = pd.read_parquet(tmp_path / "results/structures/demo_alloys.rejects.parquet")
    kept = pd.read_parquet(tmp_path / "results/structures/demo_alloys.parquet", columns=["id"])
    assert len(kept) + len(rejects) == 304
    run(BIN / "snakemake", *common, "--report", tmp_path / "results/report.html")
    html = (tmp_path / "results/report.html").read_text(errors="replace")
    assert "asu_parity.png" in html and "asu_bars.png" in html
    assert "graph_stats_demo_alloys.png" in html
    assert "forcenet_vs_physics_time.png" in html and "systems_data_size.png" in html
    again = run(BIN / "snakemake", "--cores", "2", *common)
    assert "Nothing to be done" in again.stdout + again.stderr


def test_tiny_matbench_pipeline_flags_unverified_data_and_submits(tmp_path):
    """jdft2d from ../shared: its rebuilt file is allowed unverified, and the flag must reach
    the tables; the submission goes through matbench and loads back with from_file."""
    from conftest import require_data

    local = require_data("matbench/matbench_jdft2d.json.gz").parent
    config = yaml.safe_load((REPO / "config/matbench_reduced.yaml").read_text())
    config["datasets"] = {"matbench_jdft2d": config["datasets"]["matbench_jdft2d"]}
    config["matbench"] |= {"local_dir": str(local),
                           "reference_results": str(local / "reference" /
                                                    "matbench_v0.1_coNGN_results.json.gz")}
    config["studies"]["reproduction"]["datasets"] = ["matbench_jdft2d"]
    config["models"]["cogn-reduced"]["params"] = {"width": 8, "blocks": 1, "edge_mlp_depth": 1}
    config["models"]["cogn-reduced"]["train"].update(epochs=1)
    config["models"]["congn-reduced"]["params"].update(width=8, blocks=1)
    config["models"]["congn-reduced"]["train"].update(epochs=1)
    (tmp_path / "mb.yaml").write_text(yaml.safe_dump(config))
    run(BIN / "snakemake", "--cores", "2", "-s", REPO / "Snakefile", "-d", tmp_path,
        "--configfile", tmp_path / "mb.yaml")
    table = (tmp_path / "results/tables/matbench.md").read_text()
    assert "matbench_jdft2d (unverified data)" in table and "**Unverified data**" in table
    assert "36.17 ± 12" in table  # the paper's coNGN jdft2d score, from the reference file
    assert "**Unverified data**" in (tmp_path / "results/tables/reproduction.md").read_text()
    per_fold = pd.read_csv(tmp_path / "results/tables/matbench.csv")
    assert len(per_fold) == 10 and not per_fold["data_verified"].any()  # coGN and coNGN
    assert set(zip(per_fold["model"], per_fold["graph"], strict=True)) == {
        ("cogn-reduced", "asu-knn24"), ("congn-reduced", "asu-voronoi")}
    for _, rows in per_fold.groupby("model"):
        assert rows["paper_coNGN"].round(3).tolist() == [23.756, 35.700, 53.903, 23.949, 43.541]
    assert (tmp_path / "results/matbench/congn-reduced-asu-voronoi/results.json.gz").exists()

    from matbench.bench import MatbenchBenchmark

    path = tmp_path / "results/matbench/cogn-reduced-asu-knn24/results.json.gz"
    bench = MatbenchBenchmark.from_file(str(path))
    task = bench.tasks_map["matbench_jdft2d"]
    for fold in range(5):
        ours = json.loads((tmp_path / f"results/runs/matbench_jdft2d/cogn-reduced/asu-knn24/"
                                      f"fold{fold}/metrics.json").read_text())
        recorded = task.results[f"fold_{fold}"].scores
        for metric in ("mae", "rmse", "mape", "max_error"):
            assert abs(recorded[metric] - ours[metric]) <= 1e-9


def test_paired_study_needs_one_graph_per_model(tmp_path):
    config = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    config["studies"]["models"]["graphs"].pop()
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    result = run(BIN / "snakemake", "-n", "-s", REPO / "Snakefile", "-d", tmp_path,
                 "--configfile", tmp_path / "bad.yaml", check=False)
    assert result.returncode != 0
    assert "paired studies need one graph per model" in result.stdout + result.stderr


def test_training_budget_can_differ_per_dataset():
    """coNGN's reference budget: 600 epochs, but 50 on mp_is_metal."""
    def epochs(dataset):
        target = f"results/runs/{dataset}/congn/asu-voronoi/fold0/metrics.json"
        out = run(BIN / "snakemake", "-n", "-F", "-p", target).stdout
        return int(re.search(r'"train": \{"epochs": (\d+)', out).group(1))

    assert epochs("matbench_mp_is_metal") == 50 and epochs("matbench_mp_gap") == 600


def test_studies_finish_in_config_order(tmp_path):
    """The first study's table is written before the next study's trainings start (on one
    core the order is exactly the priorities'), so a user sees results early."""
    config = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    config["folds"] = 2
    config["studies"] = {"asu": config["studies"]["asu"],
                         "connectivity": {**config["studies"]["connectivity"],
                                          "graphs": ["asu-knn12", "asu-radius4"],
                                          "baseline": "asu-knn12"}}
    config["models"] = {"cogn-demo": {**config["models"]["cogn-demo"],
                                      "params": {"width": 8, "blocks": 1, "edge_mlp_depth": 1},
                                      "train": {"epochs": 1, "batch_size": 64}}}
    del config["forces"]
    (tmp_path / "order.yaml").write_text(yaml.safe_dump(config))
    out = run(BIN / "snakemake", "--cores", "1", "-s", REPO / "Snakefile", "-d", tmp_path,
              "--configfile", tmp_path / "order.yaml")
    jobs = re.findall(r"^(?:local)?rule (\w+):\n(?:    .*\n)*?    wildcards: (.*)$",
                      out.stdout + out.stderr, flags=re.M)
    order = [f"{rule} {wildcards}" for rule, wildcards in jobs]
    asu_table = order.index("aggregate study=asu")
    later = [i for i, job in enumerate(order) if job.startswith("train")
             and ("asu-knn12" in job or "asu-radius4" in job)]
    first = [i for i, job in enumerate(order) if job.startswith("train")
             and ("asu-knn24" in job or "cell-knn24" in job)]
    assert len(first) == 4 and len(later) == 4
    assert max(first) < asu_table < min(later)
