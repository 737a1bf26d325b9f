"""Fetch MatBench dataset files and verify their sha256 against matminer's metadata.

matminer downloads from its own host and checks the hash after a download, but trusts a file
already in its data folder without checking it; so every file is hashed here, whatever its
origin. A mismatch stops with an error naming the file, the expected and the actual hash,
unless the task is explicitly allowed unverified: then the verification record says so and
every table built from the task carries the flag.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from crystalbench.core.io import atomic_path, write_json

log = logging.getLogger(__name__)


class HashMismatchError(RuntimeError):
    """A dataset file's sha256 differs from the published one."""


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def expected_sha256(task: str) -> str:
    """The published sha256 of ``task``'s file, from matminer's dataset metadata."""
    text = (importlib.resources.files("matminer.datasets") / "dataset_metadata.json").read_text()
    metadata = json.loads(text)
    if task not in metadata:
        raise KeyError(f"{task!r} is not a matminer dataset")
    return metadata[task]["hash"]


def verify(path: str | os.PathLike, task: str, allow_unverified: bool) -> dict[str, Any]:
    """Check ``path`` against the published hash; return the verification record."""
    expected, actual = expected_sha256(task), sha256(path)
    verified = expected == actual
    if not verified and not allow_unverified:
        raise HashMismatchError(
            f"{path}: sha256 mismatch for {task}: expected {expected}, actual {actual} "
            f"(list {task} under allow_unverified to use it anyway)")
    if not verified:
        log.warning("%s: UNVERIFIED (sha256 %s, published %s), allowed by config",
                    path, actual, expected)
    return {"task": task, "sha256": actual, "expected_sha256": expected, "verified": verified}


DOWNLOAD_ATTEMPTS = 3
RETRY_WAIT = 5.0  # seconds before the second attempt, doubling after


def network_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a transient network failure raises (requests' and the OS's)."""
    import requests

    return (requests.RequestException, ConnectionError, TimeoutError)


def download_with_matminer(task: str, folder: Path) -> Path:
    """Download ``task`` with matminer's loader into ``folder`` (needs network).

    Network errors are retried (``DOWNLOAD_ATTEMPTS`` in all, waiting longer each time);
    anything else, such as a file that fails its hash, is deterministic and raised at once.
    """
    from matminer.datasets import load_dataset

    for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
        try:
            load_dataset(task, data_home=str(folder), download_if_missing=True)
            return folder / f"{task}.json.gz"
        except network_errors() as exc:
            if attempt == DOWNLOAD_ATTEMPTS:
                raise
            wait = RETRY_WAIT * 2 ** (attempt - 1)
            log.warning("%s: download attempt %d of %d failed (%s); retrying in %.0f s",
                        task, attempt, DOWNLOAD_ATTEMPTS, exc, wait)
            time.sleep(wait)
    raise AssertionError("unreachable")


def _copy_verified(
    task: str, source: Path, out: Path, allow_unverified: bool
) -> dict[str, Any]:
    """Check ``source``, copy it atomically to ``out``, check the copy; return the record."""
    result = verify(source, task, allow_unverified) | {"source": str(source)}
    with atomic_path(out) as part:
        shutil.copyfile(source, part)
        if sha256(part) != result["sha256"]:
            raise HashMismatchError(f"{out}: the copy of {source} changed while copying")
    return result


def fetch_dataset(
    task: str, out: str | os.PathLike, record: str | os.PathLike,
    local_dir: str | os.PathLike | None = None, allow_unverified: bool = False,
) -> dict[str, Any]:
    """Put a verified copy of ``task`` at ``out`` and its verification record at ``record``.

    With ``local_dir`` the file is taken from there (offline); otherwise matminer downloads it.
    """
    out = Path(out)
    if local_dir is not None:
        source = Path(local_dir) / f"{task}.json.gz"
        if not source.exists():
            raise FileNotFoundError(f"{source}: no local copy of {task}")
        result = _copy_verified(task, source, out, allow_unverified)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            source = download_with_matminer(task, Path(tmp))
            result = _copy_verified(task, source, out, allow_unverified)
    write_json(record, result)
    return result
