from importlib.metadata import version

import pytest
from conftest import require_data

from crystalbench.crystal.matbench import (
    STRUCTURE_TASKS,
    matbench_id,
    official_folds,
    read_matbench_json,
    task_metadata,
)


def test_matbench_is_pinned():
    """matbench 0.6 is installed with --no-deps over current matminer (its pins cannot
    install on Python 3.11); the folds and metadata we read ship inside this version."""
    assert version("matbench") == "0.6"


@pytest.mark.parametrize("task", STRUCTURE_TASKS)
def test_official_folds_equal_matbench_tasks(task):
    from matbench.bench import MatbenchBenchmark

    bench = MatbenchBenchmark(autoload=False, subset=[task])
    mb_task = bench.tasks_map[task]
    ours = official_folds(task)
    assert len(ours) == task_metadata(task)["n_samples"]
    for fold in mb_task.folds:
        split = mb_task.validation[mb_task.folds_map[fold]]
        assert sorted(ours.loc[ours["fold"] == fold, "id"]) == sorted(split.test)
        assert sorted(ours.loc[ours["fold"] != fold, "id"]) == sorted(split.train)


def test_ids_follow_matbench():
    assert matbench_id("matbench_jdft2d", 0, 636) == "mb-jdft2d-001"
    assert matbench_id("matbench_mp_is_metal", 4, 106113) == "mb-mp-is-metal-000005"


def test_reader_ids_cover_the_official_folds():
    structures = read_matbench_json(require_data("matbench/matbench_phonons.json.gz"))
    assert {s.id for s in structures} == set(official_folds("matbench_phonons")["id"])
    assert task_metadata("matbench_phonons")["task_type"] == "regression"
    assert task_metadata("matbench_mp_is_metal")["task_type"] == "classification"
