"""Training speed as the tables report it: the median epoch, with the machine's load beside it.

A job's seconds per epoch depend on what else runs beside it. The median over epochs ignores a
few disturbed epochs (a pause, a neighbour's burst); the 1-min load average per CPU, recorded
every epoch, says how busy the machine was, and tables flag speeds from oversubscribed runs.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

# load per CPU above which a speed is flagged as load-sensitive: at 1 every CPU has a job, above
# it jobs queue for a core and slow each other down
OVERSUBSCRIBED = 1.25


def load_per_cpu() -> float:
    """The 1-min load average divided by the CPUs this process may run on."""
    return os.getloadavg()[0] / len(os.sched_getaffinity(0))


def median_load(values: Iterable[float | None]) -> float:
    """Median of the recorded loads, ignoring missing ones (nan when none was recorded)."""
    known = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    return statistics.median(known) if known else math.nan


def history_speed(history_path: str | os.PathLike) -> tuple[float, float]:
    """(median training-epoch seconds, median load per CPU) of a run's ``history.csv``; the
    load is nan for runs that did not record it."""
    history = pd.read_csv(Path(history_path))
    load = history["load_per_cpu"] if "load_per_cpu" in history else []
    return float(history["seconds"].median()), median_load(load)
