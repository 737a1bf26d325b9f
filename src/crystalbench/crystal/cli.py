"""The crystal pipeline's commands: one per Snakemake rule, each calling one small module."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from crystalbench.core.job_arguments import add_training_job_arguments, numerics_of

log = logging.getLogger("crystalbench")

# what the structure table says about its dataset, carried into graphs, runs and tables
DATASET_INFO = ("task_type", "unit", "target", "verified", "sha256")


def cmd_structures(args: argparse.Namespace) -> None:
    from crystalbench.crystal.sources import write_dataset

    files = dict(item.split("=", 1) for item in args.files)
    kept, rejected = write_dataset(args.dataset, json.loads(args.entry), files, args.out,
                                   args.rejects, args.min_distance)
    log.info("%s: %d kept, %d rejected", args.dataset, kept, rejected)


def cmd_fetch(args: argparse.Namespace) -> None:
    from crystalbench.crystal.download import fetch_dataset

    result = fetch_dataset(args.task, args.out, args.record, args.local_dir,
                           args.allow_unverified)
    log.info("%s: sha256 %s, verified %s", args.task, result["sha256"], result["verified"])


def cmd_symmetry(args: argparse.Namespace) -> None:
    from crystalbench.crystal.structures import read_structure_table
    from crystalbench.crystal.symmetry import write_symmetry_table

    write_symmetry_table(read_structure_table(args.structures), args.out, args.symprec,
                         args.processes)


def cmd_splits(args: argparse.Namespace) -> None:
    import pyarrow.parquet as pq

    from crystalbench.crystal.splits import write_splits

    ids = pq.read_table(args.structures, columns=["id"])["id"].to_pylist()
    if args.matbench_task:
        from crystalbench.crystal.splits import write_matbench_splits

        write_matbench_splits(args.matbench_task, ids, args.out)
    else:
        write_splits(ids, args.out, args.folds, args.seed)


def cmd_graphs(args: argparse.Namespace) -> None:
    from crystalbench.core.io import read_metadata
    from crystalbench.core.schema import ConfigError
    from crystalbench.crystal.graphs import (
        CRYSTAL_GRAPHS,
        GraphSpec,
        build_graphs,
        graph_metadata,
    )
    from crystalbench.crystal.structures import read_structure_table
    from crystalbench.crystal.symmetry import read_symmetry_table

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
    n = CRYSTAL_GRAPHS.write(graphs, args.out, metadata, len(structures))
    log.info("%s: %d graphs written", args.out, n)


def cmd_train(args: argparse.Namespace) -> None:
    from crystalbench.core.gpu_slots import job_device
    from crystalbench.crystal.train import TrainConfig, train_fold

    model = json.loads(args.model)
    train_fold(args.graphs, args.splits, args.fold, model["architecture"], model["params"],
               TrainConfig(**model["train"]), args.out_dir,
               job_device(args.device, args.jobs_per_gpu), args.threads, numerics_of(args))


def cmd_predict(args: argparse.Namespace) -> None:
    from crystalbench.crystal.predict import predict_cifs

    try:
        predict_cifs(args.checkpoint, args.input, args.output, args.device, args.batch_size)
    except (FileNotFoundError, ValueError) as err:  # bad input: one line, no traceback
        print(f"crystalbench predict: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_aggregate(args: argparse.Namespace) -> None:
    from crystalbench.crystal.aggregate import write_study_table
    from crystalbench.crystal.plots import bar_chart, parity_plot

    study = json.loads(args.study)
    units = json.loads(args.units)
    quantities = json.loads(args.quantities)
    title = study.get("title", args.name)
    summary = write_study_table(args.metrics, args.table_md, args.table_csv, title,
                                study.get("baseline"), units)
    parity_plot(args.predictions, args.parity, title, quantities)
    bar_chart(summary, args.bars, title, units)


def cmd_matbench_table(args: argparse.Namespace) -> None:
    from crystalbench.crystal.matbench_table import write_matbench_table

    write_matbench_table(args.metrics, args.reference_scores, args.reference_results, args.md,
                         args.csv)


def cmd_matbench_submission(args: argparse.Namespace) -> None:
    from crystalbench import __version__
    from crystalbench.crystal.submission import write_submission

    write_submission(args.predictions, args.data_dir, args.out, args.scores, {
        "algorithm": f"crystalbench {args.model} on {args.graph}",
        "crystalbench_version": __version__, "model": args.model, "graph": args.graph})


def cmd_graph_stats(args: argparse.Namespace) -> None:
    from crystalbench.crystal.graph_stats import write_graph_stats

    write_graph_stats(args.graphs, args.symmetry, args.table_md, args.table_csv,
                      args.figures_dir)


def cmd_publish(args: argparse.Namespace) -> None:
    from crystalbench.crystal.publish import publish

    publish(args.out, args.config, args.runs, args.reference_scores, args.data_dir)


def add_crystal_commands(sub: argparse._SubParsersAction) -> None:
    """Register the crystal pipeline's subcommands."""
    s = sub.add_parser("structures", help="structure table of a dataset, read by its source")
    s.add_argument("--dataset", required=True, help="the dataset's name in the config")
    s.add_argument("--entry", required=True, help="its config entry as JSON (source, ...)")
    s.add_argument("--files", nargs="*", default=[], metavar="ROLE=PATH",
                   help="the files its source reads")
    s.add_argument("--out", required=True)
    s.add_argument("--rejects", required=True)
    s.add_argument("--min-distance", type=float, required=True, help="Å (config: min_distance)")
    s.set_defaults(func=cmd_structures)

    s = sub.add_parser("fetch", help="download or copy a MatBench file and verify its sha256")
    s.add_argument("--task", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--record", required=True, help="verification record (JSON) to write")
    s.add_argument("--local-dir", help="folder with official .json.gz files (offline)")
    s.add_argument("--allow-unverified", action="store_true",
                   help="accept a hash mismatch; every table then flags the task")
    s.set_defaults(func=cmd_fetch)

    s = sub.add_parser("symmetry", help="spglib orbits and symmetrised cells")
    s.add_argument("--structures", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--symprec", type=float, required=True, help="Å (config: symprec)")
    s.add_argument("--processes", type=int, default=1, help="worker processes")
    s.set_defaults(func=cmd_symmetry)

    s = sub.add_parser("splits", help="KFold split table (id -> fold)")
    s.add_argument("--structures", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--folds", type=int, required=True)
    s.add_argument("--seed", type=int, required=True, help="KFold random_state")
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
