"""Which held-out systems drive a force study's averages?

The study tables average the held-out L2MAE over all frames of the test fold (7 systems, one
per metal). Two models can reach similar means by being good on different systems, and one
hard system can decide a ranking. This script scores every finished run of the given models
per held-out system with the pipeline's own metric (``force_metrics``, free atoms), averages
over seeds, and prints and keeps one row per (model, training systems, held-out system), with
the zero-force predictor's error of that system beside it. It reads the runs' own
``predictions.parquet``, under ``results/forces/runs`` or the kept ``runs/`` beside it.

    python benchmarks/forces_emt/per_system_errors.py --study emt_systems \
        --runs benchmarks/forces_emt/runs --out benchmarks/forces_emt/emt_systems_per_system.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from crystalbench.core.run_paths import parse_run_path
from crystalbench.forces.metrics import force_metrics

ROOT = Path(__file__).resolve().parents[2]


def system_errors(predictions: Path) -> pd.DataFrame:
    """One row per held-out system of a run: its L2MAE and the zero-force L2MAE."""
    frames = pd.read_parquet(predictions)
    rows = []
    for system, group in frames.groupby("system"):
        true = np.concatenate([np.stack(f) for f in group["forces"]])
        pred = np.concatenate([np.stack(f) for f in group["forces_pred"]])
        fixed = np.concatenate([np.asarray(f) for f in group["fixed"]])
        rows.append({"system": system,
                     "forces_l2mae": force_metrics(pred, true, fixed)["forces_l2mae"],
                     "zero_force_l2mae": force_metrics(0 * true, true, fixed)["forces_l2mae"]})
    return pd.DataFrame(rows)


def study_system_errors(study: str, runs_root: Path) -> pd.DataFrame:
    """Per-system errors of every run of ``study`` (config/forces_emt.yaml), seeds averaged."""
    spec = yaml.safe_load((ROOT / "config/forces_emt.yaml").read_text())["forces"]
    study_spec = spec["studies"][study]
    runs = []
    for model in study_spec["models"]:
        for path in sorted((runs_root / "emt_slabs" / model).glob("*/fold0/systems-*/seed*/"
                                                              "predictions.parquet")):
            key = parse_run_path(path.with_name("metrics.json"))
            runs.append(system_errors(path).assign(
                model=model, train_systems=key.systems,
                seed=key.seed))
    if not runs:
        raise SystemExit(f"no finished runs of {study} under {runs_root}")
    table = pd.concat(runs, ignore_index=True)
    size = table["train_systems"].map(lambda n: float("inf") if n == "all" else int(n))
    table = table.assign(size=size).sort_values(["size", "system"], kind="stable")
    return (table.groupby(["model", "train_systems", "system"], sort=False)
            .agg(forces_l2mae=("forces_l2mae", "mean"), seeds=("seed", "nunique"),
                 zero_force_l2mae=("zero_force_l2mae", "first"))
            .reset_index())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="emt_systems")
    parser.add_argument("--runs", type=Path, default=ROOT / "results/forces/runs",
                        help="folder of run folders: runs/<dataset>/<model>/...")
    parser.add_argument("--out", type=Path, help="CSV to keep the rows in")
    args = parser.parse_args()
    table = study_system_errors(args.study, args.runs)
    wide = table.pivot_table(index=["model", "train_systems"], columns="system",
                             values="forces_l2mae", sort=False)
    zero = table.groupby("system")["zero_force_l2mae"].first().rename(("zero force", ""))
    print(pd.concat([wide, zero.to_frame().T]).round(3).to_string())
    if args.out:
        table.round(5).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
