"""``crystalbench <step>``: the command line each Snakemake rule calls (one small module each)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger("crystalbench")

# what the structure table says about its dataset, carried into graphs, runs and tables
DATASET_INFO = ("task_type", "unit", "target", "verified", "sha256")


def cmd_demo(args: argparse.Namespace) -> None:
    from crystalbench.demo import generate_demo_alloys
    from crystalbench.structures import write_structure_table

    kept, rejected = write_structure_table(
        generate_demo_alloys(args.seed), args.out, args.rejects,
        {"dataset": "demo_alloys", "generator": "crystalbench.demo", "seed": args.seed,
         "target": "EMT energy per atom", "unit": "eV/atom", "task_type": "regression",
         "verified": True}, args.min_distance)
    log.info("demo_alloys: %d kept, %d rejected", kept, rejected)


def cmd_fetch(args: argparse.Namespace) -> None:
    from crystalbench.download import fetch_dataset

    result = fetch_dataset(args.task, args.out, args.record, args.local_dir,
                           args.allow_unverified)
    log.info("%s: sha256 %s, verified %s", args.task, result["sha256"], result["verified"])


def cmd_matbench_structures(args: argparse.Namespace) -> None:
    from crystalbench.matbench import read_matbench_json, task_metadata
    from crystalbench.structures import write_structure_table

    record = json.loads(Path(args.record).read_text())
    meta = task_metadata(args.task)
    kept, rejected = write_structure_table(
        read_matbench_json(args.dataset_file), args.out, args.rejects,
        {"dataset": args.task, "target": meta["target"], "unit": meta["unit"],
         "task_type": meta["task_type"], "sha256": record["sha256"],
         "verified": record["verified"]}, args.min_distance)
    log.info("%s: %d kept, %d rejected", args.task, kept, rejected)


def cmd_symmetry(args: argparse.Namespace) -> None:
    from crystalbench.structures import read_structure_table
    from crystalbench.symmetry import write_symmetry_table

    write_symmetry_table(read_structure_table(args.structures), args.out, args.symprec,
                         args.processes)


def cmd_splits(args: argparse.Namespace) -> None:
    import pyarrow.parquet as pq

    from crystalbench.splits import write_splits

    ids = pq.read_table(args.structures, columns=["id"])["id"].to_pylist()
    if args.matbench_task:
        from crystalbench.splits import write_matbench_splits

        write_matbench_splits(args.matbench_task, ids, args.out)
    else:
        write_splits(ids, args.out, args.folds, args.seed)


def cmd_graphs(args: argparse.Namespace) -> None:
    from crystalbench.config_check import ConfigError
    from crystalbench.graphs import GraphSpec, build_graphs, graph_metadata, write_graph_table
    from crystalbench.io import read_metadata
    from crystalbench.structures import read_structure_table
    from crystalbench.symmetry import read_symmetry_table

    try:
        spec = GraphSpec.from_config(json.loads(args.spec))
    except json.JSONDecodeError as err:
        raise SystemExit(f"graph spec: not valid JSON ({err}): {args.spec}") from None
    except ConfigError as err:
        raise SystemExit(str(err)) from None
    structures = read_structure_table(args.structures)
    symmetry = read_symmetry_table(args.symmetry)
    missing = [s.id for s in structures if s.id not in symmetry]
    if missing:
        raise SystemExit(f"{args.symmetry}: no symmetry row for {len(missing)} structures, "
                         f"e.g. {missing[:3]}")
    symprec = read_metadata(args.symmetry)["symprec"]
    graphs = build_graphs(structures, symmetry, spec, args.processes)
    metadata = graph_metadata(spec, symprec, args.dataset, args.name)
    source = read_metadata(args.structures)
    metadata["dataset_info"] = {k: source[k] for k in DATASET_INFO if k in source}
    n = write_graph_table(graphs, args.out, metadata, len(structures))
    log.info("%s: %d graphs written", args.out, n)


def cmd_train(args: argparse.Namespace) -> None:
    from crystalbench.train import TrainConfig, train_fold

    model = json.loads(args.model)
    train_fold(args.graphs, args.splits, args.fold, model["architecture"], model["params"],
               TrainConfig(**model["train"]), args.out_dir, args.device, args.threads)


def cmd_predict(args: argparse.Namespace) -> None:
    from crystalbench.predict import predict_cifs

    predict_cifs(args.checkpoint, args.input, args.output, args.device, args.batch_size)


def cmd_aggregate(args: argparse.Namespace) -> None:
    from crystalbench.aggregate import write_study_table
    from crystalbench.plots import bar_chart, parity_plot

    study = json.loads(args.study)
    units = json.loads(args.units)
    quantities = json.loads(args.quantities)
    title = study.get("title", args.name)
    summary = write_study_table(args.metrics, args.table_md, args.table_csv, title,
                                study.get("baseline"), units)
    parity_plot(args.predictions, args.parity, title, quantities)
    bar_chart(summary, args.bars, title, units)


def cmd_matbench_table(args: argparse.Namespace) -> None:
    from crystalbench.matbench_table import write_matbench_table

    write_matbench_table(args.metrics, args.reference_scores, args.reference_results, args.md,
                         args.csv)


def cmd_matbench_submission(args: argparse.Namespace) -> None:
    from crystalbench import __version__
    from crystalbench.submission import write_submission

    write_submission(args.predictions, args.data_dir, args.out, args.scores, {
        "algorithm": f"crystalbench {args.model} on {args.graph}",
        "crystalbench_version": __version__, "model": args.model, "graph": args.graph})


def cmd_bench_graphs(args: argparse.Namespace) -> None:
    from crystalbench.bench import bench_graphs

    bench_graphs(args.data_dir, args.k, args.symprec)


def cmd_graph_stats(args: argparse.Namespace) -> None:
    from crystalbench.graph_stats import write_graph_stats

    write_graph_stats(args.graphs, args.symmetry, args.table_md, args.table_csv,
                      args.figures_dir)


def cmd_bench_epochs(args: argparse.Namespace) -> None:
    from crystalbench.bench import bench_epochs

    bench_epochs(args.data_dir, args.epochs, args.batch_size, args.threads, args.device)


def cmd_bench_models(args: argparse.Namespace) -> None:
    from crystalbench.bench_models import bench_models

    bench_models(args.data_dir, args.config, args.study, args.limit, args.epochs,
                 args.batch_size, args.threads, args.device)


def cmd_bench_kgcnn(args: argparse.Namespace) -> None:
    from crystalbench.bench_kgcnn import bench_kgcnn

    bench_kgcnn(args.data_dir, args.venv, args.limit, args.repeat)


def cmd_publish(args: argparse.Namespace) -> None:
    from crystalbench.publish import publish

    publish(args.out, args.config, args.runs, args.reference_scores, args.data_dir)


def cmd_bench_kgcnn_train(args: argparse.Namespace) -> None:
    from crystalbench.bench_kgcnn_train import bench_kgcnn_train

    bench_kgcnn_train(args.dataset, args.folds, args.seeds, args.epochs, args.venv, args.out,
                      args.variants, args.scratch)


def add_training_job_arguments(s: argparse.ArgumentParser) -> None:
    """Arguments of one training job (crystal or force model): data, fold, model, output."""
    s.add_argument("--graphs", required=True)
    s.add_argument("--splits", required=True)
    s.add_argument("--fold", type=int, required=True)
    s.add_argument("--model", required=True, help="model config as JSON")
    s.add_argument("--out-dir", required=True)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=1)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crystalbench", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("demo", help="generate the offline demo dataset demo_alloys")
    s.add_argument("--out", required=True)
    s.add_argument("--rejects", required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--min-distance", type=float, default=0.5)
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("fetch", help="download or copy a MatBench file and verify its sha256")
    s.add_argument("--task", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--record", required=True, help="verification record (JSON) to write")
    s.add_argument("--local-dir", help="folder with official .json.gz files (offline)")
    s.add_argument("--allow-unverified", action="store_true",
                   help="accept a hash mismatch; every table then flags the task")
    s.set_defaults(func=cmd_fetch)

    s = sub.add_parser("matbench-structures", help="structure table of a MatBench task")
    s.add_argument("--task", required=True)
    s.add_argument("--dataset-file", required=True)
    s.add_argument("--record", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--rejects", required=True)
    s.add_argument("--min-distance", type=float, default=0.5)
    s.set_defaults(func=cmd_matbench_structures)

    s = sub.add_parser("symmetry", help="spglib orbits and symmetrised cells")
    s.add_argument("--structures", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--symprec", type=float, default=1e-4)
    s.add_argument("--processes", type=int, default=1, help="worker processes")
    s.set_defaults(func=cmd_symmetry)

    s = sub.add_parser("splits", help="KFold split table (id -> fold)")
    s.add_argument("--structures", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--folds", type=int, default=5)
    s.add_argument("--seed", type=int, default=18012019)
    s.add_argument("--matbench-task", help="use this task's official MatBench v0.1 folds")
    s.set_defaults(func=cmd_splits)

    s = sub.add_parser("graphs", help="build and cache cell or ASU graphs")
    s.add_argument("--structures", required=True)
    s.add_argument("--symmetry", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--spec", required=True, help="graph spec as JSON")
    s.add_argument("--dataset", required=True)
    s.add_argument("--name", required=True)
    s.add_argument("--processes", type=int, default=1, help="worker processes")
    s.set_defaults(func=cmd_graphs)

    s = sub.add_parser("train", help="train one model on one fold")
    add_training_job_arguments(s)
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("predict", help="predict with a trained checkpoint on CIF files")
    s.add_argument("--checkpoint", required=True, help="checkpoint.pt of a training run")
    s.add_argument("--input", required=True, help="a .cif file or a folder of *.cif files")
    s.add_argument("--output", required=True, help="CSV to write: id, prediction, error")
    s.add_argument("--device", default="auto")
    s.add_argument("--batch-size", type=int, default=64)
    s.set_defaults(func=cmd_predict)

    s = sub.add_parser("aggregate", help="study table and figures")
    s.add_argument("--name", required=True)
    s.add_argument("--study", required=True, help="study config as JSON")
    s.add_argument("--units", default="{}", help="JSON dataset -> unit")
    s.add_argument("--quantities", default="{}", help="JSON dataset -> quantity label")
    s.add_argument("--metrics", nargs="+", required=True)
    s.add_argument("--predictions", nargs="+", required=True)
    s.add_argument("--table-md", required=True)
    s.add_argument("--table-csv", required=True)
    s.add_argument("--parity", nargs="+", required=True)
    s.add_argument("--bars", nargs="+", required=True)
    s.set_defaults(func=cmd_aggregate)

    s = sub.add_parser("graph-stats", help="graph size statistics and ASU reduction figures")
    s.add_argument("--graphs", nargs="+", required=True)
    s.add_argument("--symmetry", nargs="+", required=True, help="one table per dataset")
    s.add_argument("--table-md", required=True)
    s.add_argument("--table-csv", required=True)
    s.add_argument("--figures-dir", required=True)
    s.set_defaults(func=cmd_graph_stats)

    s = sub.add_parser("matbench-table", help="MatBench table next to the paper's scores")
    s.add_argument("--metrics", nargs="+", required=True)
    s.add_argument("--reference-scores", required=True)
    s.add_argument("--reference-results", help="the paper's results.json.gz (per-fold)")
    s.add_argument("--md", required=True)
    s.add_argument("--csv", required=True)
    s.set_defaults(func=cmd_matbench_table)

    s = sub.add_parser("matbench-submission", help="results.json.gz via matbench's record")
    s.add_argument("--predictions", nargs="+", required=True)
    s.add_argument("--data-dir", required=True, help="folder of the verified dataset files")
    s.add_argument("--model", required=True)
    s.add_argument("--graph", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--scores", required=True)
    s.set_defaults(func=cmd_matbench_submission)

    s = sub.add_parser("publish", help="add finished runs to a tracked folder and rebuild its "
                       "tables, figures and submissions, with provenance")
    s.add_argument("--out", required=True)
    s.add_argument("--config", required=True, help="the config file the runs came from")
    s.add_argument("--runs", nargs="*", default=[], help="finished run folders to add")
    s.add_argument("--reference-scores", default="config/reference/matbench_scores.yaml")
    s.add_argument("--data-dir", help="verified dataset files (for MatBench submissions)")
    s.set_defaults(func=cmd_publish)

    s = sub.add_parser("bench-graphs", help="benchmark: ASU vs cell kNN graph building speed")
    s.add_argument("--data-dir", default="../shared/data/matbench")
    s.add_argument("--k", type=int, default=24)
    s.add_argument("--symprec", type=float, default=1e-4)
    s.set_defaults(func=cmd_bench_graphs)

    s = sub.add_parser("bench-epochs", help="benchmark: coGN epoch time, ASU vs cell graphs")
    s.add_argument("--data-dir", default="../shared/data/matbench")
    s.add_argument("--epochs", type=int, default=3, help="timed epochs after one warm-up")
    s.add_argument("--batch-size", type=int, default=64)
    s.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    s.add_argument("--device", default="auto")
    s.set_defaults(func=cmd_bench_epochs)

    s = sub.add_parser("bench-models", help="benchmark: every model's train and inference "
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

    s = sub.add_parser("bench-kgcnn", help="benchmark: ASU graphs vs kgcnn 3.0's preprocessors")
    s.add_argument("--data-dir", default="../shared/data/matbench")
    s.add_argument("--venv", default=".kgcnn-venv", help="throwaway venv for kgcnn (created)")
    s.add_argument("--limit", type=int, default=0, help="first N structures per dataset")
    s.add_argument("--repeat", type=int, default=3,
                   help="passes per side; the fastest counts (this VM's noise is ~20%%)")
    s.set_defaults(func=cmd_bench_kgcnn)

    s = sub.add_parser("bench-kgcnn-train", help="benchmark: kgcnn's reference coGN and ours "
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

    from crystalbench.forces.cli import add_force_commands

    add_force_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    args.func(args)


if __name__ == "__main__":
    main()
