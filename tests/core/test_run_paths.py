import pytest

from crystalbench.core.run_paths import RunKey, parse_run_path


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
