import math

import pandas as pd
import pytest

from crystalbench.core.speed import history_speed, load_per_cpu, median_load


def test_load_per_cpu_is_a_finite_non_negative_number():
    load = load_per_cpu()
    assert math.isfinite(load) and load >= 0


def test_median_load_ignores_epochs_without_a_record():
    assert median_load([1.0, None, float("nan"), 3.0, 2.0]) == 2.0
    assert math.isnan(median_load([])) and math.isnan(median_load([None]))


def test_history_speed_is_robust_to_a_disturbed_epoch(tmp_path):
    pd.DataFrame({"epoch": [1, 2, 3], "seconds": [2.0, 2.2, 30.0],
                  "load_per_cpu": [0.5, 0.6, 4.0]}).to_csv(tmp_path / "h.csv", index=False)
    assert history_speed(tmp_path / "h.csv") == (pytest.approx(2.2), pytest.approx(0.6))
    pd.DataFrame({"epoch": [1], "seconds": [2.0]}).to_csv(tmp_path / "old.csv", index=False)
    seconds, load = history_speed(tmp_path / "old.csv")  # a run from before loads were kept
    assert seconds == 2.0 and math.isnan(load)
