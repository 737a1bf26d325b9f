import json
import os
import time

from crystalbench.cli import main
from crystalbench.core.live_status import PROGRESS_FILE, report_progress, status_lines


def history(epochs_done, held_out_every=None):
    rows = []
    for e in range(1, epochs_done + 1):
        row = {"epoch": e, "train_loss": 1.0 / e, "seconds": 2.0}
        if held_out_every:
            row["val_forces_l2mae"] = 0.5 / e if e % held_out_every == 0 else float("nan")
        rows.append(row)
    return rows


def test_progress_reports_epoch_latest_held_out_score_and_eta(tmp_path):
    report_progress(tmp_path, history(7, held_out_every=5), epochs=20)
    progress = json.loads((tmp_path / PROGRESS_FILE).read_text())
    assert progress["epoch"] == 7 and progress["epochs"] == 20
    assert progress["held_out"] == 0.1  # epoch 5's, not the NaN of epochs 6-7
    assert progress["seconds_per_epoch"] == 2.0 and progress["eta_seconds"] == 26.0


def test_status_lists_running_stopped_and_done_jobs(tmp_path, capsys):
    runs = {name: tmp_path / "runs" / name for name in ("done", "stopped", "running")}
    for folder in runs.values():
        folder.mkdir(parents=True)
        report_progress(folder, history(3), epochs=10)
    (runs["done"] / "metrics.json").write_text("{}")
    old = time.time() - 3600
    os.utime(runs["stopped"] / PROGRESS_FILE, (old, old))
    lines = status_lines(tmp_path)
    assert [line.split()[0] for line in lines] == ["running", "stopped", "done"]
    assert "epoch    3/10" in lines[0] and "ETA 14 s" in lines[0]
    assert "held-out" not in lines[0]  # a crystal run: no held-out score per epoch
    main(["status", str(tmp_path)])
    assert capsys.readouterr().out.splitlines() == lines
    main(["status", str(tmp_path / "nothing")])
    assert "no training job has reported" in capsys.readouterr().out
