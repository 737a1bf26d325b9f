"""Where a published result came from: code commit, machine, date and library versions."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from typing import Any


def git_commit(cwd: str | os.PathLike = ".") -> dict[str, Any]:
    """HEAD's commit and whether tracked files differ from it (None outside a git checkout)."""
    def git(*args: str) -> str | None:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(dirty) if dirty is not None else None}


def cpu_model() -> str:
    """The CPU's model name (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(packages: tuple[str, ...] = ("torch", "torch-geometric", "pymatgen", "spglib"),
               ) -> dict[str, Any]:
    """Commit, date (UTC), machine (CPU model, cores, GPU if torch sees one) and versions."""
    versions = {}
    for pkg in ("crystalbench", *packages):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return git_commit() | {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "gpu": gpu,
                    "python": platform.python_version()},
        "versions": versions,
    }
