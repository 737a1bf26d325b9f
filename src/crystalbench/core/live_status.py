"""Where each training job stands, while it runs: every epoch a job rewrites
``progress.json`` in its run folder (epoch i/N, training loss, latest held-out score, seconds
per epoch, ETA), and ``crystalbench status`` prints one line per job from those files, so a
long demo or study shows its progress in one place rather than in dozens of logs."""

from __future__ import annotations

import json
import math
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crystalbench.core.io import write_json

PROGRESS_FILE = "progress.json"
HELD_OUT_KEY = "val_forces_l2mae"  # the force runner's held-out score per evaluated epoch
RECENT_EPOCHS = 10  # seconds per epoch: the median over the last this many epochs


def report_progress(out_dir: str | os.PathLike, history: list[dict[str, Any]],
                    epochs: int) -> None:
    """Rewrite the run folder's progress file from the history so far."""
    last = history[-1]
    held_out = [h[HELD_OUT_KEY] for h in history
                if HELD_OUT_KEY in h and not math.isnan(h[HELD_OUT_KEY])]
    per_epoch = statistics.median(h["seconds"] for h in history[-RECENT_EPOCHS:])
    write_json(Path(out_dir) / PROGRESS_FILE, {
        "epoch": int(last["epoch"]), "epochs": epochs,
        "train_loss": float(last["train_loss"]),
        "held_out": held_out[-1] if held_out else None,
        "seconds_per_epoch": per_epoch,
        "eta_seconds": per_epoch * (epochs - int(last["epoch"])),
        "updated": datetime.now(UTC).isoformat(timespec="seconds"),
    })


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def status_lines(results: str | os.PathLike, stale_after: float = 600) -> list[str]:
    """One line per run folder under ``results`` that has a progress file: running (updated
    within ``stale_after`` seconds), stopped (not updated since), or done (its metrics are
    written); running jobs first."""
    rows = []
    now = time.time()
    for path in sorted(Path(results).rglob(PROGRESS_FILE)):
        progress = json.loads(path.read_text())
        folder = path.parent
        if (folder / "metrics.json").exists():
            state = "done"
        elif now - path.stat().st_mtime <= stale_after:
            state = "running"
        else:
            state = "stopped"
        held_out = progress["held_out"]
        line = (f"{state:<8} epoch {progress['epoch']:>4}/{progress['epochs']:<4} "
                f"loss {progress['train_loss']:.4g}"
                + (f"  held-out {held_out:.4g}" if held_out is not None else "")
                + f"  {progress['seconds_per_epoch']:.2f} s/epoch"
                + (f"  ETA {_duration(progress['eta_seconds'])}" if state == "running" else "")
                + f"  {folder}")
        rows.append(({"running": 0, "stopped": 1, "done": 2}[state], str(folder), line))
    return [line for *_, line in sorted(rows)]
