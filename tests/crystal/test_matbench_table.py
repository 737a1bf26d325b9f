"""The MatBench table says when our mean covers only some official folds, and compares it
with the paper's coNGN on those same folds."""

import json
from pathlib import Path

from crystalbench.crystal.matbench_table import write_matbench_table

REPO = Path(__file__).resolve().parents[2]
CONGN = REPO.parent / "shared/data/matbench/reference/matbench_v0.1_coNGN_results.json.gz"


def write_runs(root, folds):
    paths = []
    for fold, mae in folds.items():
        path = root / f"results/runs/matbench_jdft2d/cogn/asu-knn24/fold{fold}/metrics.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"mae": mae, "task_type": "regression", "fold": fold,
                                    "data_verified": True}))
        paths.append(path)
    return paths


def test_a_partial_run_names_its_folds_and_the_papers_score_on_them(tmp_path):
    paths = write_runs(tmp_path, {2: 54.0, 4: 40.0})
    md = tmp_path / "matbench.md"
    write_matbench_table(paths, REPO / "config/reference/matbench_scores.yaml", CONGN, md,
                         tmp_path / "matbench.csv")
    # the paper's coNGN on folds 2 and 4: (53.903 + 43.541) / 2
    assert "| 47 ± 7 (2 of 5 folds: 2, 4; paper coNGN on them 48.72) |" in md.read_text()


def test_a_complete_run_carries_no_fold_note(tmp_path):
    paths = write_runs(tmp_path, {k: 30.0 + k for k in range(5)})
    md = tmp_path / "matbench.md"
    write_matbench_table(paths, REPO / "config/reference/matbench_scores.yaml", CONGN, md,
                         tmp_path / "matbench.csv")
    assert "| 32 ± 1.4 |" in md.read_text() and "of 5 folds" not in md.read_text()
