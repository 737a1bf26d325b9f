"""Resume state of a training job: saved every few epochs, loaded only by the very same job.

The state holds model, optimizer, scheduler (and AMP scaler) and the history so far, plus a
fingerprint of the job (data, fold, model, budget): a file left by another configuration is
ignored with a warning instead of silently continuing the wrong run.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from crystalbench.core.io import atomic_path

log = logging.getLogger(__name__)


def save_torch(obj: Any, path: str | os.PathLike) -> None:
    """torch.save, atomically."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def save_resume(
    path: Path, fingerprint: str, epoch: int, history: list[dict[str, float]],
    model: torch.nn.Module, optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler, scaler: torch.amp.GradScaler | None,
) -> None:
    """Write the state after ``epoch`` epochs (history as a float64 tensor: weights_only)."""
    columns = list(history[0])
    state = {
        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(), "epoch": epoch, "fingerprint": fingerprint,
        "history_columns": columns,
        "history": torch.tensor([[h[c] for c in columns] for h in history], dtype=torch.float64),
    }
    if scaler is not None:
        state["scaler"] = scaler.state_dict()
    save_torch(state, path)


def load_resume(
    path: Path, fingerprint: str, device: torch.device, model: torch.nn.Module,
    optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.amp.GradScaler | None,
) -> tuple[int, list[dict[str, float]]]:
    """Restore a matching state into the given objects; returns (start epoch, history)."""
    if not path.exists():
        return 0, []
    state = torch.load(path, map_location=device, weights_only=True)
    if state.get("fingerprint") != fingerprint:
        log.warning("%s belongs to another configuration; starting afresh", path)
        return 0, []
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and "scaler" in state:
        scaler.load_state_dict(state["scaler"])
    history = [dict(zip(state["history_columns"], row, strict=True))
               for row in state["history"].tolist()]
    for h in history:
        h["epoch"] = int(h["epoch"])
    return int(state["epoch"]), history


class ResumableRun:
    """The resume bookkeeping of one training job's epoch loop, for every fold runner.

    ``resume`` restores a matching state (``load_resume``) and returns the history so far;
    ``after_epoch`` saves the state every ``checkpoint_every`` epochs (not after the last: the
    job's outputs follow at once); ``finish`` removes the state once the outputs are written.
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

    def resume(self, device: torch.device) -> list[dict[str, float]]:
        self.start_epoch, history = load_resume(self.path, self.fingerprint, device,
                                                *self.state)
        if self.start_epoch:
            log.info("resuming %s from epoch %d", self.path.parent, self.start_epoch)
        return history

    def after_epoch(self, epoch: int, history: list[dict[str, float]]) -> None:
        """Call after 0-based ``epoch`` with the history that includes it."""
        done = epoch + 1
        if done % self.checkpoint_every == 0 and done < self.epochs:
            save_resume(self.path, self.fingerprint, done, history, *self.state)

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)
