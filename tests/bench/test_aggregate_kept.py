"""benchmarks/forces_emt/aggregate_kept.py: the kept data-size tables follow from the kept
runs, listed in the pipeline's order."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import REPO, load_script

from crystalbench_bench.bench_force_speed import merged_config

KEPT = REPO / "benchmarks/forces_emt"
CONFIGS = [str(REPO / "config/demo.yaml"), str(REPO / "config/forces_emt.yaml")]


@pytest.fixture(scope="module")
def aggregate_kept():
    return load_script("benchmarks/forces_emt/aggregate_kept.py")


def test_runs_are_listed_model_then_size_then_seed(aggregate_kept, tmp_path):
    forces = merged_config(CONFIGS)["forces"]
    paths = aggregate_kept.study_metrics(forces, "emt_systems", tmp_path / "runs")
    assert len(paths) == 3 * 3 * 3
    keys = [(p.parts[-6], p.parts[-3], p.parts[-2]) for p in paths]
    assert keys[:4] == [("forcenet-emt", "systems-7", f"seed{s}") for s in (0, 1, 2)] + [
        ("forcenet-emt", "systems-14", "seed0")]
    assert keys[-1] == ("dimenetpp-forces-emt", "systems-all", "seed2")


def test_a_study_with_runs_missing_is_refused_with_their_paths(aggregate_kept, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"27 of 27 runs are not kept: .*seed0"):
        aggregate_kept.aggregate_kept(CONFIGS, "emt_systems", tmp_path / "runs", tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("study", ["emt_systems", "emt_systems_steps"])
def test_kept_table_equals_a_fresh_aggregation_of_the_kept_runs(aggregate_kept, tmp_path,
                                                                 study):
    written = aggregate_kept.aggregate_kept(CONFIGS, study, KEPT / "runs", tmp_path)
    assert [p.name for p in written] == [f"{study}.md", f"{study}.csv", f"{study}_curves.csv",
                                         f"{study}_time.png", f"{study}_data_size.png"]
    fresh = pd.read_csv(tmp_path / f"{study}.csv").drop(columns="run_dir", errors="ignore")
    kept = pd.read_csv(KEPT / f"{study}.csv").drop(columns="run_dir", errors="ignore")
    pd.testing.assert_frame_equal(fresh, kept)
    assert (tmp_path / f"{study}.md").read_text() == (KEPT / f"{study}.md").read_text()
