"""``crystalbench-bench <name>``: benchmarks, outside the pipeline's command line.

Each prints ratios against a baseline measured in the same run; outputs that are kept go to
``benchmarks/``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def cmd_bench_graphs(args: argparse.Namespace) -> None:
    from crystalbench_bench.bench import bench_graphs

    bench_graphs(args.data_dir, args.k, args.symprec)


def cmd_bench_epochs(args: argparse.Namespace) -> None:
    from crystalbench_bench.bench import bench_epochs

    bench_epochs(args.data_dir, args.epochs, args.batch_size, args.threads, args.device,
                 args.models)


def cmd_bench_numerics(args: argparse.Namespace) -> None:
    from crystalbench_bench.bench_numerics import bench_numerics

    bench_numerics(args.data_dir, args.epochs, args.batch_size, args.threads, args.device,
                   args.models)


def cmd_bench_models(args: argparse.Namespace) -> None:
    from crystalbench_bench.bench_models import bench_models

    bench_models(args.data_dir, args.config, args.study, args.limit, args.epochs,
                 args.batch_size, args.threads, args.device)


def cmd_bench_force_speed(args: argparse.Namespace) -> None:
    from crystalbench_bench.bench_force_speed import bench_force_speed

    bench_force_speed(args.configs, args.study, args.graphs, args.splits, args.epochs,
                      args.threads, args.device)


def cmd_bench_force_overfit(args: argparse.Namespace) -> None:
    from crystalbench_bench.bench_force_overfit import bench_force_overfit

    bench_force_overfit(args.configs, args.study, args.graphs, args.frames, args.steps,
                        args.threads)


def cmd_bench_kgcnn(args: argparse.Namespace) -> None:
    from crystalbench_bench.bench_kgcnn import bench_kgcnn

    bench_kgcnn(args.data_dir, args.venv, args.limit, args.repeat)


def cmd_bench_kgcnn_train(args: argparse.Namespace) -> None:
    from crystalbench_bench.bench_kgcnn_train import bench_kgcnn_train

    bench_kgcnn_train(args.dataset, args.folds, args.seeds, args.epochs, args.venv, args.out,
                      args.variants, args.scratch)


def cmd_augmentation(args: argparse.Namespace) -> None:
    from crystalbench_bench.bench_augmentation import bench_augmentation

    bench_augmentation(args.steps, args.copies, args.seed, args.threads)


def add_epoch_timing_arguments(s: argparse.ArgumentParser) -> None:
    """Arguments of the benchmarks that time reference coGN/coNGN epochs on MatBench files."""
    s.add_argument("--data-dir", default="../shared/data/matbench")
    s.add_argument("--epochs", type=int, default=3, help="timed epochs after one warm-up")
    s.add_argument("--batch-size", type=int, default=64)
    s.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    s.add_argument("--device", default="auto")
    s.add_argument("--models", nargs="+", default=["cogn"], choices=["cogn", "congn"])


def add_force_study_arguments(s: argparse.ArgumentParser) -> None:
    """Arguments of the benchmarks that run a force study's models on the pipeline's graphs."""
    s.add_argument("--configs", nargs="+", default=["config/demo.yaml"],
                   help="config and overlays, merged as Snakemake merges --configfile")
    s.add_argument("--study", default="forcenet_vs_physics")
    s.add_argument("--graphs", default=None, help="graph table (default: the study's first "
                   "dataset and graph, results/forces/graphs/<dataset>/<graph>.parquet)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crystalbench-bench", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("graphs", help="benchmark: ASU vs cell kNN graph building speed")
    s.add_argument("--data-dir", default="../shared/data/matbench")
    s.add_argument("--k", type=int, default=24)
    s.add_argument("--symprec", type=float, default=1e-4)
    s.set_defaults(func=cmd_bench_graphs)

    s = sub.add_parser("epochs", help="benchmark: coGN/coNGN epoch time, ASU vs cell graphs, "
                       "old (collated) vs new (device-resident) data path")
    add_epoch_timing_arguments(s)
    s.set_defaults(func=cmd_bench_epochs)

    s = sub.add_parser("numerics", help="benchmark: coGN/coNGN epoch time under each execution "
                       "setting (TF32, bfloat16, float16, fused Adam, deterministic) vs float32")
    add_epoch_timing_arguments(s)
    s.set_defaults(func=cmd_bench_numerics)

    s = sub.add_parser("models", help="benchmark: every model's train and inference "
                       "graphs per second, ASU vs cell")
    s.add_argument("--data-dir", default="../shared/data/matbench")
    s.add_argument("--config", default="config/config.yaml")
    s.add_argument("--study", default="models", help="study whose models and graphs to time")
    s.add_argument("--limit", type=int, default=256, help="structures per dataset")
    s.add_argument("--epochs", type=int, default=2, help="timed passes after one warm-up")
    s.add_argument("--batch-size", type=int, default=64)
    s.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    s.add_argument("--device", default="auto")
    s.set_defaults(func=cmd_bench_models)

    s = sub.add_parser("force-speed", help="benchmark: a force study's models, train s/step "
                       "and inference structures/s, each model alone")
    add_force_study_arguments(s)
    s.add_argument("--splits", default=None, help="split table (default: the study's first "
                   "dataset's, results/forces/splits/<dataset>.parquet)")
    s.add_argument("--epochs", type=int, default=3, help="epochs per model (median counts)")
    s.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    s.add_argument("--device", default="auto")
    s.set_defaults(func=cmd_bench_force_speed)

    s = sub.add_parser("force-overfit", help="benchmark: can each model of a force study fit "
                       "a few frames of one system (the first check when a model underperforms)")
    add_force_study_arguments(s)
    s.add_argument("--frames", type=int, default=8, help="frames of the first system")
    s.add_argument("--steps", type=int, default=300, help="full-batch AdamW steps")
    s.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    s.set_defaults(func=cmd_bench_force_overfit)

    s = sub.add_parser("kgcnn", help="benchmark: ASU graphs vs kgcnn 3.0's preprocessors")
    s.add_argument("--data-dir", default="../shared/data/matbench")
    s.add_argument("--venv", default=".kgcnn-venv", help="throwaway venv for kgcnn (created)")
    s.add_argument("--limit", type=int, default=0, help="first N structures per dataset")
    s.add_argument("--repeat", type=int, default=3,
                   help="passes per side; the fastest counts (this VM's noise is ~20%%)")
    s.set_defaults(func=cmd_bench_kgcnn)

    s = sub.add_parser("kgcnn-train", help="benchmark: kgcnn's reference coGN and ours "
                       "trained side by side on MatBench folds")
    s.add_argument("--dataset", default="matbench_jdft2d",
                   choices=["matbench_jdft2d", "matbench_phonons"])
    s.add_argument("--folds", type=int, nargs="+", default=[0])
    s.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    s.add_argument("--epochs", type=int, nargs="+", default=[200])
    s.add_argument("--variants", nargs="*", metavar="VARIANT",
                   choices=["kgcnn-torch-optimizer", "ours-init-torch",
                            "ours-elements-pymatgen", "ours-torch-defaults"],
                   help="also train these variants (all when none is named): ours with init: "
                   "torch, elements: pymatgen or both; kgcnn with our optimizer settings")
    s.add_argument("--venv", default=".kgcnn-train-venv",
                   help="throwaway venv for kgcnn and TensorFlow (created)")
    s.add_argument("--out", default="benchmarks/kgcnn_train",
                   help="one JSON per run; existing runs are reused")
    s.add_argument("--scratch", default="results/bench/kgcnn_train",
                   help="our runs' checkpoints and resume files")
    s.set_defaults(func=cmd_bench_kgcnn_train)

    s = sub.add_parser("augmentation", help="ForceNet with and without rotation augmentation, "
                       "error on rotated copies")
    s.add_argument("--steps", type=int, default=400)
    s.add_argument("--copies", type=int, default=8, help="rotated copies of the test frames")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--threads", type=int, default=2)
    s.set_defaults(func=cmd_augmentation)
    return p


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args.func(args)


if __name__ == "__main__":
    main()
