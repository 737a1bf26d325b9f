"""Progress lines for long steps: count, rate and time left, at most every few seconds."""

from __future__ import annotations

import logging
import time


class Progress:
    """Log ``label: i/total (rate/s, ETA)`` to a logger, throttled to one line per interval."""

    def __init__(self, label: str, total: int, logger: logging.Logger, interval: float = 5.0):
        self.label, self.total, self.log, self.interval = label, total, logger, interval
        self.done = 0
        self.start = self.last = time.perf_counter()

    def step(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if now - self.last >= self.interval or self.done >= self.total:
            self.last = now
            rate = self.done / max(now - self.start, 1e-9)
            left = (self.total - self.done) / rate if rate > 0 else float("inf")
            self.log.info("%s: %d/%d (%.1f/s, %.0f s left)", self.label, self.done, self.total,
                          rate, left)
