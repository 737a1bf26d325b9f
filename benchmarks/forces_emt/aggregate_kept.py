"""Write a force study's kept table, curves and data-size figure from kept runs.

The pipeline aggregates a study from ``results/forces/runs``; a study trained over several
sessions is aggregated from the runs kept in ``runs/`` (``keep_runs.py``) with the same
commands the ``s2ef_aggregate`` and ``s2ef_data_size`` rules run, on the same runs in the
same order (dataset, model, graph, test fold, training systems, seed).

    python benchmarks/forces_emt/aggregate_kept.py --study emt_systems
    python benchmarks/forces_emt/aggregate_kept.py --configs config/demo.yaml \
        config/oc20_sample.yaml --study oc20_demo_width --runs benchmarks/oc20_sample/runs \
        --out benchmarks/oc20_sample
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from crystalbench.core.run_paths import force_study_run_dirs
from crystalbench_bench.bench_force_speed import merged_config

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def study_metrics(forces: dict[str, Any], study: str, runs: Path) -> list[Path]:
    """metrics.json of every run of ``study`` under ``runs``, in the pipeline's order."""
    if runs.name != "runs":
        raise ValueError(f"{runs}: kept runs live in a folder named runs/ (the pipeline's "
                         "layout, runs/<dataset>/<model>/...)")
    return [runs.parent / run / "metrics.json" for run in force_study_run_dirs(forces, study)]


def aggregate_kept(configs: list[str], study: str, runs: Path, out: Path) -> list[Path]:
    """Run the pipeline's aggregation commands on the kept runs; return the files written."""
    forces = merged_config(configs)["forces"]
    s = forces["studies"][study]
    metrics = study_metrics(forces, study, runs)
    missing = [str(p) for p in metrics if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"study {study!r}: {len(missing)} of {len(metrics)} runs are "
                                f"not kept: {', '.join(missing)}")
    title = s.get("title", study)
    written = [out / f"{study}.md", out / f"{study}.csv", out / f"{study}_curves.csv"]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["crystalbench", "s2ef-aggregate", "--title", title, "--metrics",
                        *map(str, metrics), "--table-md", str(written[0]), "--table-csv",
                        str(written[1]), "--curves-csv", str(written[2]), "--figure",
                        str(out / f"{study}_time.png"), f"{tmp}/time.svg"], check=True)
        written.append(out / f"{study}_time.png")
        if len(s.get("train_systems", ["all"])) > 1:
            written.append(out / f"{study}_data_size.png")
            subprocess.run(["crystalbench", "s2ef-data-size", "--title", title, "--metrics",
                            *map(str, metrics), "--figure", str(written[-1]),
                            f"{tmp}/data_size.svg"], check=True)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["config/demo.yaml",
                                                         "config/forces_emt.yaml"])
    parser.add_argument("--study", required=True)
    parser.add_argument("--runs", type=Path, default=HERE / "runs",
                        help="kept runs' root (default: runs/ beside this script)")
    parser.add_argument("--out", type=Path, default=HERE,
                        help="folder for the table, CSVs and figures")
    args = parser.parse_args()
    configs = [str(ROOT / c) for c in args.configs]
    for path in aggregate_kept(configs, args.study, args.runs.resolve(), args.out.resolve()):
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
