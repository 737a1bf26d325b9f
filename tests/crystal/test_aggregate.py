import json

import numpy as np
import pytest

from crystalbench.crystal.aggregate import run_key, write_study_table


def fake_run(root, graph, fold, mae, seconds, edges, load=None):
    path = root / "runs" / "demo" / "cogn" / graph / f"fold{fold}" / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({
        "mae": mae, "rmse": mae * 2, "r2": 0.9, "seconds_per_epoch": seconds, "fold": fold,
        "mean_nodes": edges / 10, "mean_edges": edges, "parameters": 10, "device": "cpu"}
        | ({} if load is None else {"load_per_cpu": load})))  # older runs have no load
    return path


def test_study_table_statistics_and_speedup(tmp_path):
    paths = [fake_run(tmp_path, "asu", 0, 1.0, 1.0, 50), fake_run(tmp_path, "asu", 1, 3.0, 1.0, 50),
             fake_run(tmp_path, "cell", 0, 2.0, 3.0, 100),
             fake_run(tmp_path, "cell", 1, 2.0, 3.0, 100)]
    summary = write_study_table(paths, tmp_path / "t.md", tmp_path / "t.csv", "T", "cell",
                                {"demo": "eV"}).set_index("graph")
    assert summary.loc["asu", "score_mean"] == 2.0 and summary.loc["asu", "metric"] == "mae"
    assert summary.loc["asu", "score_std"] == pytest.approx(np.std([1.0, 3.0]))
    assert summary.loc["asu", "speedup"] == pytest.approx(3.0)
    assert summary.loc["asu", "edge_reduction"] == pytest.approx(2.0)
    assert summary.loc["cell", "speedup"] == pytest.approx(1.0)
    md = (tmp_path / "t.md").read_text()
    assert "| demo | cogn | asu | mae | 2 ± 1 eV |" in md and "3.00x" in md
    assert "| parameters |" in md and "| 50 | 10 | 2.00x | 3.00x |" in md
    assert "| 1.000 | – |" in md  # no load recorded (older runs)
    assert "Unverified" not in md


def test_study_table_says_std_only_over_several_folds_and_flags_busy_speeds(tmp_path):
    paths = [fake_run(tmp_path, "asu", 0, 1.0, 1.0, 50, load=1.0),
             fake_run(tmp_path, "cell", 0, 2.0, 3.0, 100, load=1.5)]
    summary = write_study_table(paths, tmp_path / "t.md", tmp_path / "t.csv", "T", None,
                                {"demo": "eV"}).set_index("graph")
    assert summary.loc["asu", "load_per_cpu"] == pytest.approx(1.0)
    md = (tmp_path / "t.md").read_text()
    assert "±" not in md.split("Folds per row")[0] and "ddof" not in md  # one fold per row
    assert "| mae | 1 eV | 1.000 | 1.00 |" in md  # load 1.0: speed stands
    assert "| mae | 2 eV | 3.000 † | 1.50 |" in md  # load 1.5: flagged


def test_run_key_reads_the_run_layout_and_rejects_others():
    assert run_key("results/runs/d_1/m-a/asu-knn24/fold3/metrics.json") == (
        "d_1", "m-a", "asu-knn24")
    with pytest.raises(ValueError, match="not inside runs/"):
        run_key("results/tables/asu.csv")
