"""benchmarks/oc20_sample/element_errors.py: held-out error split by whether training saw the
atom's element."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import load_script


@pytest.fixture(scope="module")
def element_errors():
    return load_script("benchmarks/oc20_sample/element_errors.py")


def test_groups_follow_the_elements_of_the_training_frames(element_errors, tmp_path):
    # training frame "a/0": H and Cu; held-out frame "b/0": H (trained), Na (untrained),
    # Cu (trained but fixed, so not scored)
    numbers = pd.Series({"a/0": np.array([1, 29]), "b/0": np.array([1, 11, 29])})
    true = np.array([[1.0, 0, 0], [0, 2.0, 0], [5.0, 5, 5]])
    pred = np.array([[1.0, 0, 0], [0, 0, 0], [0.0, 0, 0]])
    pd.DataFrame({"id": ["b/0"], "system": ["b"], "forces": [list(true)],
                  "forces_pred": [list(pred)], "fixed": [[False, False, True]]}).to_parquet(
        tmp_path / "predictions.parquet")
    rows = {r["atoms"]: r for r in element_errors.group_errors(tmp_path / "predictions.parquet",
                                                               numbers)}
    assert rows["trained elements"]["free atoms"] == 1
    assert rows["trained elements"]["forces_l2mae"] == pytest.approx(0.0)
    assert rows["trained elements"]["zero_force_l2mae"] == pytest.approx(1.0)
    assert rows["untrained elements"]["free atoms"] == 1
    assert rows["untrained elements"]["forces_l2mae"] == pytest.approx(2.0)
