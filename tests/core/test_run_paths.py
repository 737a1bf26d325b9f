import pytest

from crystalbench.core.run_paths import (
    RunKey,
    force_study_run_dirs,
    parse_run_path,
    study_run_dirs,
)


def test_crystal_and_force_runs_are_read_the_same_way():
    assert parse_run_path("results/runs/matbench_jdft2d/cogn/asu-knn24/fold3/metrics.json") == \
        RunKey("matbench_jdft2d", "cogn", "asu-knn24", 3)
    assert parse_run_path(
        "results/forces/runs/emt/forcenet-demo/radius6-max50/fold0/systems-14/seed2/x.json"
    ) == RunKey("emt", "forcenet-demo", "radius6-max50", 0, "14", 2)
    assert parse_run_path("a/runs/d/m/g/fold1/systems-all/seed0/m.json").systems == "all"


@pytest.mark.parametrize("path", [
    "results/runs/d/m/fold0/metrics.json",  # no graph level
    "results/runs/d/m/g/fold/metrics.json",  # fold without a number
    "results/rums/d/m/g/fold0/metrics.json",
    "results/runs/d/m/g/fold0/seed1/metrics.json",  # seed without systems
])
def test_other_shapes_are_named_errors(path):
    with pytest.raises(ValueError, match="not inside runs/<dataset>/<model>/<graph>/fold<k>/"):
        parse_run_path(path)


def test_study_run_dirs_pair_or_cross_models_and_graphs():
    study = {"datasets": ["d"], "models": ["m1", "m2"], "graphs": ["g1", "g2"]}
    config = {"folds": 2, "studies": {"cross": study, "paired": study | {"paired": True}}}
    assert study_run_dirs(config, "paired") == [
        "runs/d/m1/g1/fold0", "runs/d/m1/g1/fold1", "runs/d/m2/g2/fold0", "runs/d/m2/g2/fold1"]
    assert study_run_dirs(config, "cross") == [
        "runs/d/m1/g1/fold0", "runs/d/m1/g1/fold1", "runs/d/m1/g2/fold0", "runs/d/m1/g2/fold1",
        "runs/d/m2/g1/fold0", "runs/d/m2/g1/fold1", "runs/d/m2/g2/fold0", "runs/d/m2/g2/fold1"]
    with pytest.raises(ValueError):  # a paired study needs as many graphs as models
        study_run_dirs({"folds": 1, "studies": {"s": study | {"paired": True,
                                                               "graphs": ["g1"]}}}, "s")


def test_force_study_run_dirs_order_and_defaults():
    forces = {"folds": 4, "test_folds": [0],
              "models": {"a": {"train": {"seed": 7}}, "b": {"train": {}}},
              "studies": {"sized": {"datasets": ["d"], "models": ["a", "b"], "graphs": ["g"],
                                    "train_systems": [7, "all"], "seeds": [0, 1]},
                          "plain": {"datasets": ["d"], "models": ["a", "b"], "graphs": ["g"]}}}
    assert force_study_run_dirs(forces, "sized") == [
        f"runs/d/{m}/g/fold0/systems-{n}/seed{s}" for m in "ab" for n in (7, "all")
        for s in (0, 1)]
    # no seeds: each model's own train.seed (0 when unset); no train_systems: all systems
    assert force_study_run_dirs(forces, "plain") == ["runs/d/a/g/fold0/systems-all/seed7",
                                                     "runs/d/b/g/fold0/systems-all/seed0"]
    del forces["test_folds"]
    assert len(force_study_run_dirs(forces, "plain")) == 2 * 4
