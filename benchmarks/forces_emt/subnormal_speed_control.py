"""Control for the force-speed bench: the same bench with subnormal flushing off and on.

``prepare_torch`` makes CPU arithmetic flush subnormal floats to zero. The tails of narrow
Gaussian distance bases (SchNet's and ForceNet's ``gauss``) are subnormal, and x86 kernels slow
down severalfold on them, so speeds measured before the flush was added are not comparable with
those after. This script runs ``crystalbench-bench force-speed``'s function for one study twice,
with ``torch.set_flush_denormal`` forced off and then on, in the same process and run.

    python benchmarks/forces_emt/subnormal_speed_control.py --study emt_systems
"""

from __future__ import annotations

import argparse

import torch

from crystalbench_bench.bench_force_speed import bench_force_speed

GRAPHS = "results/forces/graphs/emt_slabs/radius6-max50.parquet"
SPLITS = "results/forces/splits/emt_slabs.parquet"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="emt_systems")
    args = parser.parse_args()
    set_flush = torch.set_flush_denormal
    for flush in (False, True):
        print(f"subnormal flushing {'on' if flush else 'off'}")
        torch.set_flush_denormal = lambda _requested, flush=flush: set_flush(flush)
        bench_force_speed(["config/demo.yaml", "config/forces_emt.yaml"], args.study, GRAPHS,
                          SPLITS)
    torch.set_flush_denormal = set_flush


if __name__ == "__main__":
    main()
