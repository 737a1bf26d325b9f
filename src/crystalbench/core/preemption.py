"""Stopping a training job cleanly when the scheduler asks: SIGTERM (SLURM's time limit,
``scancel``, a preemption) or SIGUSR1 (``sbatch --signal=USR1@120``: a warning before the
limit). The handler only records the request; the training loop checks it at each step
boundary, writes ``resume.pt`` with the position inside the epoch, and exits with
128 + the signal's number, so that Snakemake's retry resumes the run where it stopped.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

STOP_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


@dataclass
class EpochProgress:
    """How far an epoch got: steps taken, the float64 sum of their losses and what that sum
    is divided by for the epoch's mean (graphs for the crystal runner, steps for the force
    runner), and the wall seconds spent."""

    steps: int = 0
    loss_sum: float = 0.0
    count: int = 0
    seconds: float = 0.0


class Preempted(Exception):  # noqa: N818 - a request, not an error
    """Raised at a step boundary after a stop signal, with the epoch's progress so far."""

    def __init__(self, signum: int, progress: EpochProgress) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum, self.progress = signum, progress


class StopRequest:
    """Which stop signal arrived, if any (see the module docstring)."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __bool__(self) -> bool:
        return self.signum is not None


@contextmanager
def stop_signals() -> Iterator[StopRequest]:
    """Record SIGTERM/SIGUSR1 instead of dying, for the duration of the block; the previous
    handlers come back afterwards."""
    request = StopRequest()

    def record(signum: int, frame: object) -> None:
        request.signum = signum

    previous = {s: signal.signal(s, record) for s in STOP_SIGNALS}
    try:
        yield request
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
