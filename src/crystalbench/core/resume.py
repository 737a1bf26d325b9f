"""Resume state of a training job: saved every few epochs, and inside an epoch when a stop
signal arrives (``core.preemption``); loaded only by the very same job.

The state holds model, optimizer, scheduler (and float16 scaler) and the history so far, plus
a fingerprint of the job (data, fold, model, budget): a file left by another configuration is
ignored with a warning instead of silently continuing the wrong run. A state written inside an
epoch also holds the epoch's progress, so the resumed job replays that epoch's remaining
steps exactly.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from crystalbench.core.io import atomic_path
from crystalbench.core.preemption import EpochProgress, Preempted

log = logging.getLogger(__name__)


def save_torch(obj: Any, path: str | os.PathLike) -> None:
    """torch.save, atomically."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def save_resume(
    path: Path, fingerprint: str, epoch: int, history: list[dict[str, float]],
    model: torch.nn.Module, optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler, scaler: torch.amp.GradScaler | None,
    progress: EpochProgress | None = None,
) -> None:
    """Write the state after ``epoch`` epochs, and ``progress`` into the next one when given
    (history as a float64 tensor, so that the file loads with weights_only)."""
    columns = list(history[0]) if history else []
    state = {
        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(), "epoch": epoch, "fingerprint": fingerprint,
        "history_columns": columns,
        "history": torch.tensor([[h[c] for c in columns] for h in history], dtype=torch.float64),
    }
    if scaler is not None:
        state["scaler"] = scaler.state_dict()
    if progress is not None:
        state["progress"] = {"steps": int(progress.steps), "count": int(progress.count),
                             "loss_sum": torch.tensor(progress.loss_sum, dtype=torch.float64),
                             "seconds": torch.tensor(progress.seconds, dtype=torch.float64)}
    save_torch(state, path)


def load_resume(
    path: Path, fingerprint: str, device: torch.device, model: torch.nn.Module,
    optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler | None,
) -> tuple[int, list[dict[str, float]], EpochProgress | None]:
    """Restore a matching state into the given objects; returns (start epoch, history, the
    start epoch's progress when the state was written inside it)."""
    if not path.exists():
        return 0, [], None
    state = torch.load(path, map_location=device, weights_only=True)
    if state.get("fingerprint") != fingerprint:
        log.warning("%s belongs to another configuration; starting afresh", path)
        return 0, [], None
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and "scaler" in state:
        scaler.load_state_dict(state["scaler"])
    history = [dict(zip(state["history_columns"], row, strict=True))
               for row in state["history"].tolist()]
    for h in history:
        h["epoch"] = int(h["epoch"])
    progress = None
    if "progress" in state:
        saved = state["progress"]
        progress = EpochProgress(int(saved["steps"]), float(saved["loss_sum"]),
                                 int(saved["count"]), float(saved["seconds"]))
    return int(state["epoch"]), history, progress


class ResumableRun:
    """The resume bookkeeping of one training job's epoch loop, for every fold runner.

    ``resume`` restores a matching state (``load_resume``) and returns the history so far,
    with ``progress`` set when the state was written inside ``start_epoch``; ``after_epoch``
    saves the state every ``checkpoint_every`` epochs (not after the last: the job's outputs
    follow at once); ``stopped`` saves it inside an epoch after a stop signal and exits;
    ``finish`` removes the state once the outputs are written.
    """

    def __init__(
        self, path: Path, fingerprint: str, model: torch.nn.Module,
        optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
        scaler: torch.amp.GradScaler | None, epochs: int, checkpoint_every: int,
    ) -> None:
        self.path, self.fingerprint, self.epochs = path, fingerprint, epochs
        self.checkpoint_every = checkpoint_every
        self.state = (model, optimizer, scheduler, scaler)
        self.start_epoch = 0
        self.progress: EpochProgress | None = None

    def resume(self, device: torch.device) -> list[dict[str, float]]:
        self.start_epoch, history, self.progress = load_resume(
            self.path, self.fingerprint, device, *self.state)
        if self.start_epoch or self.progress:
            steps = self.progress.steps if self.progress else 0
            log.info("resuming %s from epoch %d, step %d", self.path.parent,
                     self.start_epoch, steps)
        return history

    def epoch_progress(self, epoch: int) -> EpochProgress:
        """Where 0-based ``epoch`` starts: the saved progress when it was interrupted."""
        if self.progress is not None and epoch == self.start_epoch:
            return self.progress
        return EpochProgress()

    def stopped(self, epoch: int, history: list[dict[str, float]], stop: Preempted) -> None:
        """Save the state inside 0-based ``epoch`` and exit with 128 + the signal's number."""
        save_resume(self.path, self.fingerprint, epoch, history, *self.state, stop.progress)
        log.warning("%s: %s at epoch %d, step %d; resume.pt written, the rerun continues",
                    self.path.parent, stop, epoch + 1, stop.progress.steps)
        raise SystemExit(128 + stop.signum)

    def after_epoch(self, epoch: int, history: list[dict[str, float]]) -> None:
        """Call after 0-based ``epoch`` with the history that includes it."""
        done = epoch + 1
        if done % self.checkpoint_every == 0 and done < self.epochs:
            save_resume(self.path, self.fingerprint, done, history, *self.state)

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)
