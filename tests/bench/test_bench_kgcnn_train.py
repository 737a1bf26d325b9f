"""crystalbench-bench kgcnn-train's bookkeeping (the training itself needs kgcnn's TensorFlow venv):
per-seed results averaged per row, kgcnn's row numbers mapped to MatBench ids, and kgcnn's
graphs compared with ours."""

import json
import statistics

import numpy as np
import pytest

from crystalbench.crystal.graphs import CRYSTAL_GRAPHS, CrystalGraph
from crystalbench_bench.bench_kgcnn_train import (
    Run,
    compare_graphs,
    format_table,
    gap_decomposition,
    summary_rows,
)


def write_run(out, variant, seed, test_mae, predictions):
    path = Run(variant, 0, seed, 200).path(out, "matbench_jdft2d")
    path.parent.mkdir(parents=True, exist_ok=True)
    result = {"test_mae": test_mae, "train_mae": 1.0, "seconds_per_epoch": 2.0,
              "seed": seed, "train_loss": [1.0, 0.5], "test_predictions": predictions}
    if variant == "kgcnn":
        result["test_rows"] = [0, 9]  # rows 0 and 9: mb-jdft2d-001 and mb-jdft2d-010
    else:
        result["test_ids"] = ["mb-jdft2d-001", "mb-jdft2d-010"]
    path.write_text(json.dumps(result))


def test_rows_average_seeds_and_gaps_use_matbench_ids(tmp_path):
    for seed, (theirs, ours) in enumerate([(10.0, 9.0), (12.0, 11.0)]):
        write_run(tmp_path, "kgcnn", seed, theirs, [1.0, 30.0])
        write_run(tmp_path, "ours", seed, ours, [1.0, 20.0])
    rows = {r["variant"]: r for r in summary_rows(tmp_path, "matbench_jdft2d")}
    assert rows["kgcnn"]["test_mae"] == 11.0
    assert rows["ours"]["test_mae_std"] == pytest.approx(statistics.stdev([9.0, 11.0]))
    assert rows["ours"]["seeds"] == [0, 1]
    table = format_table(list(rows.values()), "meV/atom")
    assert "0.909" in table  # ours / kgcnn test MAE: 10 / 11
    targets = {"mb-jdft2d-001": 1.0, "mb-jdft2d-010": 10.0}
    (line,) = gap_decomposition(tmp_path, "matbench_jdft2d", targets, top=1)
    # errors: kgcnn 0 and 20, ours 0 and 10: mean gap 5, all of it from mb-jdft2d-010
    assert "gap kgcnn - ours +5.00" in line and "mb-jdft2d-010" in line


def test_gap_refuses_runs_tested_on_different_crystals(tmp_path):
    write_run(tmp_path, "kgcnn", 0, 10.0, [1.0, 30.0])
    write_run(tmp_path, "ours", 0, 9.0, [1.0, 20.0])
    path = Run("ours", 0, 0, 200).path(tmp_path, "matbench_jdft2d")
    result = json.loads(path.read_text())
    result["test_ids"] = ["mb-jdft2d-001", "mb-jdft2d-011"]
    path.write_text(json.dumps(result))
    with pytest.raises(ValueError, match="different crystals"):
        gap_decomposition(tmp_path, "matbench_jdft2d", {}, top=1)


def test_table_lists_the_kgcnn_variant_after_kgcnn_with_its_ratio(tmp_path):
    write_run(tmp_path, "kgcnn", 0, 10.0, [1.0, 30.0])
    write_run(tmp_path, "kgcnn-torch-optimizer", 0, 8.0, [1.0, 30.0])
    write_run(tmp_path, "ours", 0, 9.0, [1.0, 20.0])
    lines = format_table(summary_rows(tmp_path, "matbench_jdft2d"), "meV/atom").splitlines()
    assert [line.split()[2] for line in lines[1:]] == ["kgcnn", "kgcnn-torch-optimizer", "ours"]
    assert "0.800" in lines[2]  # 8 / 10


def kgcnn_graph(multiplicity, lengths):
    """A two-node graph as kgcnn's worker writes it: (receiver, sender) pairs and vectors."""
    edges = [[node, 1 - node] for node, node_lengths in enumerate(lengths) for _ in node_lengths]
    offsets = [[d, 0.0, 0.0] for node_lengths in lengths for d in node_lengths]
    return {"atomic_number": [8, 26], "multiplicity": multiplicity, "edge_indices": edges,
            "offset": offsets}


def test_graphs_compare_as_equal_up_to_a_multiplicity_factor_or_different(tmp_path):
    lengths = [[2.0, 2.5], [2.0, 3.0]]
    ours = [CrystalGraph(f"mb-jdft2d-00{i}", np.array([8, 26]), np.array([1, 2]),
                         np.array([1, 1, 0, 0]), np.array([0, 0, 1, 1]),
                         np.array([[d, 0.0, 0.0] for row in lengths for d in row]))
            for i in (1, 2, 3, 4)]
    CRYSTAL_GRAPHS.write(iter(ours), tmp_path / "g.parquet", {}, len(ours))
    theirs = [kgcnn_graph([1, 2], [[2.0, 2.5], [3.0, 2.0 + 1e-4]]),  # edge order, rounding
              kgcnn_graph([2, 4], lengths),  # conventional cell: multiplicities doubled
              kgcnn_graph([1, 2], [[2.0, 2.5], [2.0, 3.5]]),  # another 2nd neighbour
              kgcnn_graph([1, 2], [[2.0, 2.5, 2.5], [2.0, 3.0]])]  # a tie kept
    classes = compare_graphs(theirs, tmp_path / "g.parquet", "matbench_jdft2d")
    assert classes == {"equal": ["mb-jdft2d-001"],
                       "equal up to a multiplicity factor": ["mb-jdft2d-002"],
                       "different": ["mb-jdft2d-003", "mb-jdft2d-004"]}
