"""Where does the OC20 sample's held-out error come from: atoms of trained or untrained elements?

On test fold 0 most free atoms of the two held-out catalysts are of elements that no training
frame has (Na, Tl, Mo, Rh), whose embeddings stay at their initial values; only the adsorbate
atoms (H, O) are of trained elements. This script splits every finished run's held-out L2MAE
(free atoms, the pipeline's ``force_metrics``) into those two groups of atoms, with the
zero-force predictor's error of each group beside it, and prints mean ± sample std over
seeds per model. It reads the runs' ``predictions.parquet`` (under ``results/forces/runs`` or
the kept ``runs/`` beside this script) and the atomic numbers from the pipeline's frame
table, and keeps one row per run and group in ``element_errors.csv`` beside this script.

    python benchmarks/oc20_sample/element_errors.py --runs benchmarks/oc20_sample/runs
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from crystalbench.core.run_paths import force_study_run_dirs
from crystalbench.forces.metrics import force_metrics
from crystalbench_bench.bench_force_speed import merged_config

ROOT = Path(__file__).resolve().parents[2]
FRAMES = ROOT / "results/forces/frames/oc20_sample.parquet"
TABLE = ROOT / "benchmarks/oc20_sample/element_errors.csv"
CONFIGS = [ROOT / "config/demo.yaml", ROOT / "config/oc20_sample.yaml"]


def group_errors(predictions: Path, numbers: pd.Series) -> list[dict]:
    """L2MAE of a run's held-out free atoms whose element training saw / never saw."""
    frames = pd.read_parquet(predictions)
    trained = set(np.concatenate(numbers[~numbers.index.isin(frames["id"])].to_numpy()))
    true = np.concatenate([np.stack(f) for f in frames["forces"]])
    pred = np.concatenate([np.stack(f) for f in frames["forces_pred"]])
    fixed = np.concatenate([np.asarray(f, bool) for f in frames["fixed"]])
    z = np.concatenate([numbers[i] for i in frames["id"]])
    seen = np.isin(z, list(trained))
    rows = []
    for group, atoms in (("trained elements", seen), ("untrained elements", ~seen)):
        skip = fixed | ~atoms
        rows.append({"atoms": group, "free atoms": int((~skip).sum()),
                     "forces_l2mae": force_metrics(pred, true, skip)["forces_l2mae"],
                     "zero_force_l2mae": force_metrics(0 * true, true, skip)["forces_l2mae"]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="results/forces/runs",
                        help="folder holding runs/<dataset>/... as the pipeline writes it")
    parser.add_argument("--study", default="oc20_demo_width")
    args = parser.parse_args()
    forces = merged_config(CONFIGS)["forces"]
    numbers = pd.read_parquet(FRAMES, columns=["id", "atomic_numbers"]).set_index("id")[
        "atomic_numbers"]
    base = Path(args.runs).parent if Path(args.runs).name == "runs" else Path(args.runs)
    rows = []
    for run in force_study_run_dirs(forces, args.study):
        predictions = base / run / "predictions.parquet"
        if predictions.exists():
            model, seed = run.split("/")[2], int(run.rsplit("seed", 1)[1])
            rows += [{"model": model, "seed": seed, **r}
                     for r in group_errors(predictions, numbers)]
    table = pd.DataFrame(rows)
    table.to_csv(TABLE, index=False)
    summary = table.groupby(["model", "atoms"], sort=False).agg(
        seeds=("seed", "size"), free_atoms=("free atoms", "first"),
        l2mae_mean=("forces_l2mae", "mean"), l2mae_std=("forces_l2mae", "std"),
        zero_force=("zero_force_l2mae", "first"))
    print(summary.to_string(float_format=lambda x: f"{x:.4f}"))
    print("L2MAE in eV/Å over the held-out frames' free atoms of each group; std over seeds")


if __name__ == "__main__":
    main()
