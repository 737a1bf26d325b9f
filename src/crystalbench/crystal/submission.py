"""MatBench submission files written through matbench's own ``record`` and ``to_file``.

matbench loads each task's data with matminer from ``MATMINER_DATA``, which we point at our
verified copies. After recording, matbench's scores must equal ours (metrics.json of each run)
to 1e-9, or the submission is refused: two independent scorers, one answer.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from crystalbench.core.io import atomic_path, write_json
from crystalbench.crystal.aggregate import run_key

log = logging.getLogger(__name__)

MATBENCH_METRICS = {
    "regression": ("mae", "rmse", "mape", "max_error"),
    "classification": ("accuracy", "balanced_accuracy", "f1", "rocauc"),
}


def _run_files(prediction_paths: Sequence[str | os.PathLike]) -> dict[str, list[Path]]:
    """Group ``results/runs/{task}/{model}/{graph}/fold{k}/predictions.parquet`` by task."""
    grouped: dict[str, list[Path]] = {}
    for path in map(Path, prediction_paths):
        grouped.setdefault(run_key(path)[0], []).append(path)
    return grouped


def write_submission(
    prediction_paths: Sequence[str | os.PathLike], data_dir: str | os.PathLike,
    out: str | os.PathLike, scores_out: str | os.PathLike, metadata: dict[str, Any],
) -> dict[str, dict[str, dict[str, float]]]:
    """Record every fold of every task and write ``results.json.gz`` and a scores JSON."""
    os.environ["MATMINER_DATA"] = str(Path(data_dir).resolve())
    from matbench.bench import MatbenchBenchmark

    runs = _run_files(prediction_paths)
    bench = MatbenchBenchmark(autoload=False, subset=sorted(runs))
    scores: dict[str, dict[str, dict[str, float]]] = {}
    for task_name, paths in runs.items():
        task = bench.tasks_map[task_name]
        task.load()
        frames = {int(pq.read_table(p)["fold"][0].as_py()): p for p in paths}
        if sorted(frames) != list(task.folds):
            raise ValueError(f"{task_name}: runs for folds {sorted(frames)}, need {task.folds}")
        for fold in task.folds:
            predictions = pq.read_table(frames[fold]).to_pandas().set_index("id")["prediction"]
            test_ids = list(task.validation[f"fold_{fold}"].test)
            missing = sorted(set(test_ids) - set(predictions.index))
            if missing:
                raise ValueError(f"{task_name} fold {fold}: no prediction for {len(missing)} "
                                 f"test ids, e.g. {missing[:3]}")
            task.record(fold, predictions.loc[test_ids].to_numpy(dtype=np.float64))
        scores[task_name] = {}
        for fold in task.folds:
            recorded = task.results[f"fold_{fold}"].scores
            ours = json.loads((frames[fold].parent / "metrics.json").read_text())
            for metric in MATBENCH_METRICS[task.metadata.task_type]:
                if abs(float(recorded[metric]) - ours[metric]) > 1e-9:
                    raise ValueError(f"{task_name} fold {fold}: matbench {metric} "
                                     f"{recorded[metric]} != ours {ours[metric]}")
            scores[task_name][f"fold_{fold}"] = {k: float(v) for k, v in recorded.items()}
    bench.add_metadata(metadata)
    with atomic_path(out) as tmp:
        bench.to_file(str(tmp))
    write_json(scores_out, scores)
    log.info("%s: %d tasks recorded; matbench's scores equal ours", out, len(scores))
    return scores
