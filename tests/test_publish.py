import json

from crystalbench.io import write_json, write_text
from crystalbench.publish import publish


def make_run(root, name, seconds):
    run = root / "results" / "runs" / "ds" / "cogn" / "asu-knn24" / name
    write_json(run / "metrics.json", {"mae": 1.0, "train_seconds": seconds,
                                      "predict_seconds": 1.0, "device": "cpu",
                                      "epochs": 800})
    write_text(run / "history.csv", "epoch,train_loss\n1,0.5\n")
    write_text(run / "predictions.parquet", "not read, only copied")
    return run


def test_publish_copies_runs_and_files_and_says_what_is_missing(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("models: {}\n")
    table = tmp_path / "results" / "tables" / "reproduction.md"
    write_text(table, "| table |\n")
    done = make_run(tmp_path, "fold0", 100.0)
    pending = done.parent / "fold1"
    out = tmp_path / "published"
    record = publish(out, config, [table, tmp_path / "results" / "tables" / "absent.md"],
                     [done, pending])
    assert (out / "tables" / "reproduction.md").read_text() == "| table |\n"
    for name in ("metrics.json", "history.csv", "predictions.parquet"):
        assert (out / "runs" / "ds" / "cogn" / "asu-knn24" / "fold0" / name).exists()
    assert not (out / "runs" / "ds" / "cogn" / "asu-knn24" / "fold1").exists()
    written = json.loads((out / "provenance.json").read_text())
    assert written == json.loads(json.dumps(record))
    assert not written["complete"]
    assert sorted(written["missing"]) == sorted([str(tmp_path / "results/tables/absent.md"),
                                                 str(pending)])
    assert written["config"]["text"] == "models: {}\n"
    assert written["train_and_predict_seconds"] == 101.0
    assert written["runs"][str(done)]["epochs"] == 800
