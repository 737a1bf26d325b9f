from crystalbench.core.table_format import number


def test_numbers_follow_one_rounding_rule():
    assert [number(v) for v in (6888, 2190.4, 111.54, 3.6216, 0.0123, float("nan"), 12.0)] == [
        "6,888", "2,190", "111.5", "3.62", "0.0123", "-", "12"]
