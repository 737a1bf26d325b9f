"""Control: does the OC20 sample's one extreme frame keep ForceNet on the zero-force plateau?

The second frame of trajectory random1000120 places an O atom 0.70 Å from a C atom; its DFT force on
that O is 308 eV/Å, against at most 45 eV/Å in every other frame. It raises the training
force scale (standard deviation over free atoms) from 0.86 to 3.34 eV/Å, so the typical
target (median frame mean |F| about 0.05 eV/Å) becomes tiny. This script trains
``forcenet-oc20-demo`` of ``config/oc20_sample.yaml`` on test fold 0 twice per seed, once
without the training frames whose largest force exceeds 50 eV/Å (``drop``) and once with every
frame but the scale of the others (``scale``), and prints the final training loss against the
zero-force training loss and the held-out L2MAE next to zero force, keeping the rows in
``outlier_control.csv`` beside this script.

    python benchmarks/oc20_sample/outlier_control.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

import crystalbench.forces.train as force_train
from crystalbench_bench.bench_force_speed import merged_config

ROOT = Path(__file__).resolve().parents[2]
GRAPHS = ROOT / "results/forces/graphs/oc20_sample/radius6-max50.parquet"
SPLITS = ROOT / "results/forces/splits/oc20_sample.parquet"
OUT = ROOT / "results/checks/oc20-outlier"
TABLE = ROOT / "benchmarks/oc20_sample/outlier_control.csv"
MAX_FORCE = 50.0  # eV/Å
MODEL = "forcenet-oc20-demo"


def extreme_frames() -> set[int]:
    """Rows of the graph table whose largest atomic force exceeds ``MAX_FORCE``."""
    data = force_train.FORCE_GRAPHS.read(GRAPHS).to_data()
    return {i for i, d in enumerate(data) if float(d.forces.norm(dim=1).max()) > MAX_FORCE}


def patch(mode: str, extreme: set[int]) -> None:
    """Make the trainer drop the extreme frames (``drop``) or only leave them out of the
    force scale (``scale``)."""
    fold_indices, fit_scales = force_train.fold_indices, force_train.fit_scales
    if mode == "drop":
        def without_extreme(*args, **kwargs):
            train, test = fold_indices(*args, **kwargs)
            return np.array([i for i in train if i not in extreme]), test
        force_train.fold_indices = without_extreme
    else:
        force_train.fit_scales = lambda data, idx: fit_scales(
            data, np.array([i for i in idx if i not in extreme]))


def train(mode: str, seed: int) -> dict:
    out = OUT / mode / f"seed{seed}"
    if not (out / "metrics.json").exists():
        model = merged_config([ROOT / "config/demo.yaml",
                               ROOT / "config/oc20_sample.yaml"])["forces"]["models"][MODEL]
        cfg = force_train.ForceTrainConfig(**{**model["train"], "seed": seed})
        force_train.train_force_fold(GRAPHS, SPLITS, 0, model["architecture"],
                                     model["params"], cfg, out, "cpu", 1)
    return json.loads((out / "metrics.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--mode", choices=["drop", "scale"], nargs="+",
                        default=["drop", "scale"])
    args = parser.parse_args()
    extreme = extreme_frames()
    print(f"training-table rows with a force above {MAX_FORCE:g} eV/Å: {sorted(extreme)}")
    originals = force_train.fold_indices, force_train.fit_scales
    rows = []
    for mode in args.mode:
        patch(mode, extreme)
        for seed in args.seeds:
            m = train(mode, seed)
            history = pd.read_csv(OUT / mode / f"seed{seed}" / "history.csv")
            rows.append({"mode": mode, "seed": seed,
                         "final train loss": history["train_loss"].iloc[-1],
                         "zero-force train loss": m["zero_force_train_loss"],
                         "plateau steps": m["plateau_steps"],
                         "held-out L2MAE": m["forces_l2mae"],
                         "zero-force L2MAE": m["zero_force_l2mae"],
                         "cos": m["forces_cos"]})
        force_train.fold_indices, force_train.fit_scales = originals
    table = pd.DataFrame(rows)
    table.to_csv(TABLE, index=False)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    print("train losses are in units of each run's force scale; plateau steps: empty where "
          "the run never left the zero-force level")


if __name__ == "__main__":
    main()
