"""``crystalbench s2ef-*``: the commands of the force branch's Snakemake rules."""

from __future__ import annotations

import argparse
import json
import logging

from crystalbench.core.job_arguments import add_training_job_arguments, numerics_of

log = logging.getLogger("crystalbench")


def cmd_frames(args: argparse.Namespace) -> None:
    """Frame table from the EMT demo generator, OC20 extxyz/traj files or OC20 LMDBs."""
    from crystalbench.forces.frames import write_frame_table

    meta = {"dataset": args.dataset, "source": args.source}
    if args.source != "emt" and not args.files:
        raise SystemExit(f"{args.dataset}: no {args.source} files given (--files)")
    if args.source == "emt":
        from crystalbench.forces.emt_demo import generate_emt_frames

        if args.seed is None or args.systems is None:
            raise SystemExit(f"{args.dataset}: the EMT source needs --seed and --systems")

        frames = generate_emt_frames(args.seed, args.systems)
        meta |= {"generator": "crystalbench.forces.emt_demo", "seed": args.seed,
                 "energy": "EMT total energy (eV)", "tags": "set by the generator"}
    elif args.source == "oc20":
        from crystalbench.forces.oc20 import read_ase_frames

        frames, warnings = read_ase_frames(args.files, args.dataset)
        meta |= {"files": [str(f) for f in args.files], "warnings": warnings}
    else:
        from crystalbench.forces.oc20 import read_lmdb_frames

        frames = [f for path in args.files for f in read_lmdb_frames(path, args.allow_pickle)]
        meta |= {"files": [str(f) for f in args.files], "allow_pickle": args.allow_pickle}
    kept, rejected = write_frame_table(frames, args.out, args.rejects, meta)
    log.info("%s: %d frames kept, %d rejected", args.dataset, kept, rejected)


def cmd_splits(args: argparse.Namespace) -> None:
    import numpy as np
    import pyarrow.parquet as pq

    from crystalbench.forces.splits import slab_composition, write_system_splits

    table = pq.read_table(args.frames, columns=["id", "system", "atomic_numbers", "tags"])
    strata = [slab_composition(np.asarray(z), np.asarray(t)) for z, t in
              zip(table["atomic_numbers"].to_pylist(), table["tags"].to_pylist(), strict=True)]
    write_system_splits(table["id"].to_pylist(), table["system"].to_pylist(), args.out,
                        args.folds, args.seed, strata)


def cmd_graphs(args: argparse.Namespace) -> None:
    from crystalbench.core.io import read_metadata
    from crystalbench.forces.frames import read_frame_table
    from crystalbench.forces.graphs import (
        ForceGraphSpec,
        force_graph_metadata,
        write_force_graph_table,
    )

    spec = ForceGraphSpec.from_config(json.loads(args.spec))
    frames = read_frame_table(args.frames)
    source = read_metadata(args.frames).get("source", "")
    write_force_graph_table(frames, spec, args.out,
                            force_graph_metadata(spec, args.dataset, args.name, source),
                            args.processes)


def cmd_train(args: argparse.Namespace) -> None:
    from crystalbench.core.gpu_slots import job_device
    from crystalbench.forces.train import ForceTrainConfig, train_force_fold

    model = json.loads(args.model)
    cfg = ForceTrainConfig(**model["train"])
    if args.seed is not None:
        cfg.seed = args.seed
    train_force_fold(args.graphs, args.splits, args.fold, model["architecture"],
                     model["params"], cfg, args.out_dir,
                     job_device(args.device, args.jobs_per_gpu), args.threads,
                     args.train_systems, numerics_of(args))


def cmd_aggregate(args: argparse.Namespace) -> None:
    from crystalbench.forces.aggregate import load_force_runs, write_force_study_table
    from crystalbench.forces.plots import accuracy_vs_time

    write_force_study_table(args.metrics, args.table_md, args.table_csv, args.curves_csv,
                            args.title)
    accuracy_vs_time(load_force_runs(args.metrics), args.figure, args.title)


def cmd_data_size(args: argparse.Namespace) -> None:
    from crystalbench.forces.aggregate import load_force_runs
    from crystalbench.forces.plots import accuracy_vs_data_size

    accuracy_vs_data_size(load_force_runs(args.metrics), args.figure, args.title)


def add_force_commands(sub: argparse._SubParsersAction) -> None:
    """Register the s2ef-* subcommands."""
    s = sub.add_parser("s2ef-frames", help="S2EF frame table (EMT demo, OC20 files, LMDB)")
    s.add_argument("--dataset", required=True)
    s.add_argument("--source", choices=("emt", "oc20", "lmdb"), required=True)
    s.add_argument("--files", nargs="*", default=[], help="OC20 extxyz/traj files or LMDB")
    s.add_argument("--seed", type=int, help="EMT demo seed (config: forces.datasets.*.seed)")
    s.add_argument("--systems", type=int, help="EMT demo systems")
    s.add_argument("--allow-pickle", action="store_true",
                   help="unpickle OC20 LMDB entries (pickles can run code: trusted files only)")
    s.add_argument("--out", required=True)
    s.add_argument("--rejects", required=True)
    s.set_defaults(func=cmd_frames)

    s = sub.add_parser("s2ef-splits", help="folds by system (id -> fold)")
    s.add_argument("--frames", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--folds", type=int, required=True)
    s.add_argument("--seed", type=int, required=True)
    s.set_defaults(func=cmd_splits)

    s = sub.add_parser("s2ef-graphs", help="full-cell radius graphs of S2EF frames")
    s.add_argument("--frames", required=True)
    s.add_argument("--spec", required=True, help="graph spec as JSON")
    s.add_argument("--dataset", required=True)
    s.add_argument("--name", required=True)
    s.add_argument("--processes", type=int, default=1)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_graphs)

    s = sub.add_parser("s2ef-train", help="train one force model on one fold")
    add_training_job_arguments(s)
    s.add_argument("--seed", type=int, help="training seed (replaces train.seed)")
    s.add_argument("--train-systems", type=int,
                   help="train on the first N training systems of the fold (data-size curve)")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("s2ef-aggregate", help="force-study table and accuracy-vs-time figure")
    s.add_argument("--title", required=True)
    s.add_argument("--metrics", nargs="+", required=True)
    s.add_argument("--table-md", required=True)
    s.add_argument("--table-csv", required=True)
    s.add_argument("--curves-csv", required=True,
                   help="held-out error per run and evaluated epoch (Figure 1's data)")
    s.add_argument("--figure", nargs="+", required=True, help="png and/or svg paths")
    s.set_defaults(func=cmd_aggregate)

    s = sub.add_parser("s2ef-data-size", help="force error against training systems")
    s.add_argument("--title", required=True)
    s.add_argument("--metrics", nargs="+", required=True)
    s.add_argument("--figure", nargs="+", required=True, help="png and/or svg paths")
    s.set_defaults(func=cmd_data_size)
