"""Atomic file writes and the Parquet list<->flat-array conversions every table uses.

Every output is written to a temporary file in the target folder and renamed into place, so an
interrupted job never leaves a file that looks complete. The file gets the mode the umask
gives a new file (``mkstemp`` alone would leave it private), and the temporary files that a
killed job left for the same target are removed when the target is written again.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

METADATA_KEY = b"crystalbench"


def new_file_mode() -> int:
    """The permission bits a new file gets under the current umask (0o666 & ~umask)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _temp_pattern(target: Path) -> re.Pattern[str]:
    # mkstemp's names below: "." + name + "." + 8 random characters + ".tmp" + suffixes
    return re.compile(rf"\.{re.escape(target.name)}\.[A-Za-z0-9_]{{8}}\.tmp"
                      rf"{re.escape(''.join(target.suffixes))}")


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Delete temporary files that an interrupted write of ``target`` left behind."""
    pattern = _temp_pattern(target)
    stale = [p for p in target.parent.glob(f".{target.name}.*") if pattern.fullmatch(p.name)]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    # keep the suffixes: some writers (matbench's to_file) choose the format from them
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + "".join(
        target.suffixes), dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, new_file_mode())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write JSON atomically, pretty-printed so diffs and humans can read it."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_parquet(
    table: pa.Table, path: str | os.PathLike, metadata: dict[str, Any] | None = None,
    row_group_size: int = 4096,
) -> None:
    """Write ``table`` atomically with zstd and our metadata (JSON) in the schema."""
    if metadata is not None:
        existing = dict(table.schema.metadata or {})
        existing[METADATA_KEY] = json.dumps(metadata, sort_keys=True).encode()
        table = table.replace_schema_metadata(existing)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", row_group_size=row_group_size)


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Return the crystalbench metadata stored in a Parquet file's schema."""
    schema = pq.read_schema(path)
    raw = (schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise ValueError(f"{path}: no crystalbench metadata in the Parquet schema")
    return json.loads(raw)


def list_array(values: np.ndarray, offsets: np.ndarray, width: int | None = None) -> pa.Array:
    """Build ``list<T>`` (or ``list<fixed_size_list<T, width>>``) from flat values + offsets."""
    flat = pa.array(np.ascontiguousarray(values).reshape(-1))
    if width is not None:
        flat = pa.FixedSizeListArray.from_arrays(flat, width)
    return pa.ListArray.from_arrays(pa.array(np.asarray(offsets, dtype=np.int32)), flat)


def fixed_array(values: np.ndarray, *shape: int) -> pa.Array:
    """Build nested fixed-size lists, e.g. shape (3, 3) for one lattice matrix per row."""
    arr = pa.array(np.ascontiguousarray(values).reshape(-1))
    for width in reversed(shape):
        arr = pa.FixedSizeListArray.from_arrays(arr, width)
    return arr


def flatten_list_column(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Return (flat numpy values, offsets of length n_rows + 1) of a list column.

    Nested fixed-size lists are flattened to their scalars; the offsets count outer elements.
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = column.flatten()
    while pa.types.is_fixed_size_list(values.type) or pa.types.is_list(values.type):
        values = values.flatten()
    return values.to_numpy(zero_copy_only=False), offsets


def fixed_column(column: pa.ChunkedArray | pa.Array, *shape: int) -> np.ndarray:
    """Return a fixed-size-list column as a numpy array of shape (n_rows, *shape)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    values = column
    for _ in shape:
        values = values.flatten()
    return values.to_numpy(zero_copy_only=False).reshape(len(column), *shape)
