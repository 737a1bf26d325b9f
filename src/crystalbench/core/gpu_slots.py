"""Which GPU a training job uses when a machine has several: slots claimed with file locks.

Snakemake bounds how many training jobs run at once (``--resources gpu=N``) but does not say
which GPU each gets. With ``jobs_per_gpu`` slots per visible device, a job claims the first
free slot, in the order device 0, device 1, ..., then the second slot of each device, so jobs
spread over the GPUs before they share one. A slot is an ``flock`` on a file, so it is freed
when the job ends, however it ends. With one visible device (a workstation with one GPU, or a
SLURM job given its own) every job simply uses it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

_held: list[IO[bytes]] = []  # the claimed slot's open lock file, kept for the process's life


def default_lock_dir() -> Path:
    """``$CRYSTALBENCH_GPU_LOCKS``, else a per-user folder in the system's temporary folder."""
    return Path(os.environ.get("CRYSTALBENCH_GPU_LOCKS")
                or Path(tempfile.gettempdir()) / f"crystalbench-gpu-slots-{os.getuid()}")


def claim_device(n_devices: int, jobs_per_gpu: int, lock_dir: Path | None = None) -> int:
    """Index of the device whose free slot this process now holds (see the module docstring).

    When every slot is taken (more jobs than ``n_devices * jobs_per_gpu``), the job shares
    device 0 and a warning says so: raise ``--resources gpu`` no higher than the slots.
    """
    if n_devices < 1 or jobs_per_gpu < 1:
        raise ValueError(f"need at least one device and one job per GPU, got {n_devices} "
                         f"devices and jobs_per_gpu={jobs_per_gpu}")
    if n_devices == 1:
        return 0
    folder = lock_dir or default_lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for slot in range(jobs_per_gpu):
        for device in range(n_devices):
            handle = open(folder / f"cuda{device}-slot{slot}.lock", "ab")  # noqa: SIM115
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            _held.append(handle)
            return device
    log.warning("all %d GPU slots (%d devices x %d jobs) are taken: this job shares cuda:0; "
                "run Snakemake with --resources gpu=%d at most", n_devices * jobs_per_gpu,
                n_devices, jobs_per_gpu, n_devices * jobs_per_gpu)
    return 0


def job_device(requested: str, jobs_per_gpu: int) -> str:
    """The device a training job uses: ``auto`` or ``cuda`` on a machine with CUDA become
    ``cuda:<k>`` of a claimed slot; anything else (``cpu``, ``cuda:1``) is kept."""
    import torch

    if requested in ("auto", "cuda") and torch.cuda.is_available():
        return f"cuda:{claim_device(torch.cuda.device_count(), jobs_per_gpu)}"
    return requested


def release_all() -> None:
    """Free the slots this process holds (they are freed at exit anyway)."""
    while _held:
        _held.pop().close()
