"""Does the one numerical difference between our sphallmul and ocp's change the result?

Our ``sphallmul`` edge basis equals ocp's ``Basis("sphallmul")`` up to a signed permutation
of the 9 harmonics (``tests/models/test_forcenet_basis_reference.py``), except that ocp feeds
the real and imaginary parts of the *complex* harmonics, so its 6 components with m != 0 are
1/sqrt(2) of ours (orthonormal real harmonics). After the learned Linear(36 -> hidden) this is
only a different initial scale. This script trains ``forcenet-emt`` of
``config/forces_emt.yaml`` with ocp's scale (our harmonics, m != 0 divided by sqrt(2)) for the
given seeds through the pipeline's own ``s2ef-train`` command, and prints the held-out errors
next to the kept runs with our scale (``emt_forcenet_vs_physics.csv``), and keeps the rows in
``sphallmul_reference_scale.csv`` beside this script.

    python benchmarks/forces_emt/sphallmul_reference_scale.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd
import torch
import yaml

import crystalbench.models.forcenet_basis as forcenet_basis
from crystalbench.cli import main as crystalbench_main
from crystalbench.models.spherical import real_spherical_harmonics

ROOT = Path(__file__).resolve().parents[2]
KEPT = ROOT / "benchmarks/forces_emt/emt_forcenet_vs_physics.csv"
TABLE = ROOT / "benchmarks/forces_emt/sphallmul_reference_scale.csv"
GRAPHS = ROOT / "results/forces/graphs/emt_slabs/radius6-max50.parquet"
SPLITS = ROOT / "results/forces/splits/emt_slabs.parquet"
OUT = ROOT / "results/checks/sphallmul-reference-scale"


def reference_scaled_harmonics(unit: torch.Tensor, max_n: int = 3) -> torch.Tensor:
    """Our real harmonics with the m != 0 components divided by sqrt(2): |Re Y_l^m|, |Im Y_l^m|
    of the complex harmonics, the scale ocp's SphericalSmearing feeds."""
    sph = real_spherical_harmonics(unit, max_n)
    m_is_zero = torch.tensor([m == 0 for deg in range(max_n) for m in range(-deg, deg + 1)])
    return torch.where(m_is_zero, sph, sph / math.sqrt(2.0))


def model_spec() -> dict:
    config = yaml.safe_load((ROOT / "config/forces_emt.yaml").read_text())
    spec = config["forces"]["models"]["forcenet-emt"]
    return {"architecture": spec["architecture"], "params": spec["params"], "train": spec["train"]}


def train(seed: int) -> dict:
    out = OUT / f"seed{seed}"
    if not (out / "metrics.json").exists():
        crystalbench_main(["s2ef-train", "--graphs", str(GRAPHS), "--splits", str(SPLITS),
                           "--fold", "0", "--seed", str(seed), "--model", json.dumps(model_spec()),
                           "--out-dir", str(out), "--device", "cpu", "--threads", "1"])
    return json.loads((out / "metrics.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    forcenet_basis.real_spherical_harmonics = reference_scaled_harmonics
    kept = pd.read_csv(KEPT).query("model == 'forcenet-emt'").set_index("seed")
    rows = []
    for seed in args.seeds:
        m = train(seed)
        rows.append({"seed": seed, "L2MAE ocp scale": m["forces_l2mae"],
                     "L2MAE ours": kept.loc[seed, "forces_l2mae"],
                     "cos ocp scale": m["forces_cos"], "cos ours": kept.loc[seed, "forces_cos"],
                     "plateau ocp scale": m["plateau_steps"],
                     "plateau ours": kept.loc[seed, "plateau_steps"]})
    table = pd.DataFrame(rows).set_index("seed")
    table.to_csv(TABLE)
    print(table.to_string(float_format=lambda x: f"{x:.4f}"))
    summary = table.agg(["mean", "std"]).loc[:, ["L2MAE ocp scale", "L2MAE ours"]]
    print(summary.to_string(float_format=lambda x: f"{x:.4f}"))


if __name__ == "__main__":
    main()
