from crystalbench.core.provenance import provenance


def test_provenance_names_commit_machine_and_date():
    record = provenance()
    assert len(record["commit"]) == 40  # the tests run inside the project's checkout
    assert record["machine"]["cores"] >= 1 and record["machine"]["cpu"]
    assert record["date"].endswith("+00:00")
    assert record["versions"]["torch"]
