"""Keep finished force runs in ``benchmarks/forces_emt/runs/`` without their checkpoints.

A session's ``results/`` does not always survive into the next one, and some studies take
longer than one session to train. This copies each run's ``metrics.json``, ``history.csv``
and ``predictions.parquet`` to the same relative path under ``runs/``, so that
``crystalbench s2ef-aggregate`` and ``per_system_errors.py`` can read them later (``--into``
keeps another study folder's runs, e.g. ``benchmarks/oc20_sample/runs``). Runs written
before ``metrics.json`` carried the model parameters get them from their ``checkpoint.pt``
(the value ``s2ef-aggregate`` would read there), so the kept copy needs no checkpoint.

    python benchmarks/forces_emt/keep_runs.py \
        results/forces/runs/emt_slabs/forcenet-emt/radius6-max50/fold0/systems-7/seed0 ...
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from crystalbench.forces.aggregate import read_run_metrics

ROOT = Path(__file__).resolve().parents[2]
RUNS = ROOT / "results" / "forces" / "runs"
KEPT = Path(__file__).resolve().parent / "runs"


def keep_run(run_dir: Path, kept_root: Path = KEPT, runs_root: Path = RUNS) -> Path:
    """Copy one finished run's metrics, history and predictions to the same path under
    ``kept_root`` as under ``runs_root``; return the kept folder."""
    run_dir, runs_root = run_dir.resolve(), runs_root.resolve()
    if not run_dir.is_relative_to(runs_root):
        raise ValueError(f"{run_dir}: not a run folder under {runs_root}")
    metrics = read_run_metrics(run_dir)
    target = kept_root / run_dir.relative_to(runs_root)
    target.mkdir(parents=True, exist_ok=True)
    for name in ("history.csv", "predictions.parquet"):
        shutil.copy2(run_dir / name, target / name)
    tmp = target / "metrics.json.tmp"
    tmp.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    tmp.replace(target / "metrics.json")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+", type=Path,
                        help="finished run folders under results/forces/runs")
    parser.add_argument("--into", type=Path, default=KEPT,
                        help="kept runs' root folder (default: runs/ beside this script)")
    args = parser.parse_args()
    for run_dir in args.run_dirs:
        print(keep_run(run_dir, args.into.resolve()).relative_to(ROOT))


if __name__ == "__main__":
    main()
