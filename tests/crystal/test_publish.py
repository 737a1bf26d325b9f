"""publish: runs added fold by fold, tables rebuilt from every published run, what is missing
said in the provenance."""

import json

import pandas as pd
import pytest
import yaml

from crystalbench.crystal.graphs import CRYSTAL_GRAPHS, GraphSpec, build_graph, graph_metadata
from crystalbench.crystal.publish import publish
from crystalbench.crystal.splits import write_splits
from crystalbench.crystal.symmetry import analyse_symmetry
from crystalbench.crystal.train import TrainConfig, train_fold

CONFIG = {
    "datasets": {"demo_alloys": {"source": "demo", "quantity": "energy", "unit": "eV/atom"}},
    "folds": 2,
    "graphs": {"asu-knn12": {"representation": "asu", "edges": "knn", "k": 12}},
    "models": {"tiny": {"architecture": "cogn",
                        "params": {"width": 8, "blocks": 1, "edge_mlp_depth": 1},
                        "train": {"epochs": 1, "batch_size": 16}}},
    "train": {},
    "studies": {"small": {"title": "tiny coGN", "datasets": ["demo_alloys"],
                          "models": ["tiny"], "graphs": ["asu-knn12"]}},
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, demo_structures):
    """Two finished folds of a tiny coGN under results/runs/demo_alloys/tiny/asu-knn12/."""
    root = tmp_path_factory.mktemp("publish")
    structures = demo_structures[::8]
    spec = GraphSpec("asu", k=12)
    graphs = [build_graph(s, analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers),
                          spec) for s in structures]
    CRYSTAL_GRAPHS.write(iter(graphs), root / "g.parquet",
                         graph_metadata(spec, 1e-4, "demo_alloys", "asu-knn12"), len(graphs))
    write_splits([s.id for s in structures], root / "s.parquet", n_folds=2)
    folders = []
    for fold in (0, 1):
        folder = root / "results" / "runs" / "demo_alloys" / "tiny" / "asu-knn12" / f"fold{fold}"
        train_fold(root / "g.parquet", root / "s.parquet", fold, "cogn",
                   {"width": 8, "blocks": 1, "edge_mlp_depth": 1},
                   TrainConfig(epochs=1, batch_size=16), folder)
        folders.append(folder)
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    return config, folders


def test_publish_fold_by_fold(runs, tmp_path):
    config, (fold0, fold1) = runs
    out = tmp_path / "published"
    first = publish(out, config, [fold0], "config/reference/matbench_scores.yaml")
    assert not first["complete"]
    assert first["missing"] == ["runs/demo_alloys/tiny/asu-knn12/fold1"]
    assert first["studies"] == {"small": {"expected": 2, "present": 1}}
    run = out / "runs" / "demo_alloys" / "tiny" / "asu-knn12" / "fold0"
    assert sorted(p.name for p in run.iterdir()) == ["history.csv", "metrics.json",
                                                      "predictions.parquet"]
    assert (out / "tables" / "small.md").exists() and (out / "figures" / "small_parity.png")

    # a later sitting adds the other fold: the table now covers both
    second = publish(out, config, [fold1], "config/reference/matbench_scores.yaml")
    assert second["complete"] and second["missing"] == []
    assert sorted(second["runs"]) == ["runs/demo_alloys/tiny/asu-knn12/fold0",
                                      "runs/demo_alloys/tiny/asu-knn12/fold1"]
    table = pd.read_csv(out / "tables" / "small.csv")
    assert table["folds"].tolist() == [2]
    written = json.loads((out / "provenance.json").read_text())
    assert written["config"]["text"] == config.read_text()
    assert written["runs"]["runs/demo_alloys/tiny/asu-knn12/fold0"]["provenance"]["commit"]
    assert written["train_and_predict_seconds"] > 0


def test_an_unfinished_run_is_refused(runs, tmp_path):
    config, _ = runs
    with pytest.raises(FileNotFoundError, match="not finished"):
        publish(tmp_path / "out", config, [tmp_path / "runs" / "d" / "m" / "g" / "fold0"],
                "config/reference/matbench_scores.yaml")
