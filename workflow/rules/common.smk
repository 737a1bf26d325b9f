# Config validation, wildcard constraints and target lists (functions only, no rules).
import json
import os
import re
import shlex
import sys

from snakemake.utils import validate

try:
    from crystalbench.config_check import ConfigError, check_config
except ImportError:  # Snakemake outside the project's environment (e.g. --sdm conda)
    sys.path.insert(0, os.path.join(workflow.basedir, "src"))
    from crystalbench.config_check import ConfigError, check_config
from crystalbench.core.run_paths import (
    force_study_run_dirs,
    model_graph_pairs,
    study_run_dirs,
)
from crystalbench.crystal.sources import DATASET_SOURCES

# unknown keys with their path and nearest valid key, model params per architecture,
# nested --config values read as numbers; then the schema's defaults
try:
    check_config(
        config,
        os.path.join(workflow.basedir, "workflow", "schemas", "config.schema.yaml"),
        workflow.config_settings.config,
    )
except ConfigError as err:
    raise WorkflowError(f"invalid configuration:\n{err}") from None
validate(config, "../schemas/config.schema.yaml")


def _choice(names):
    """A wildcard pattern matching exactly these names (none: a pattern matching nothing)."""
    if not names:
        return "(?!)"
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


def datasets_of_source(source):
    return [name for name, d in config["datasets"].items() if d["source"] == source]


def dataset_files(wildcards):
    """The files a dataset's source reads, by role: the structures rule's inputs."""
    entry = config["datasets"][wildcards.dataset]
    return DATASET_SOURCES[entry["source"]].inputs(wildcards.dataset, entry)


def check_studies():
    """Every study must name datasets, models and graphs that the config defines."""
    for name, study in config["studies"].items():
        for key in ("datasets", "models", "graphs"):
            unknown = set(study[key]) - set(config[key])
            if unknown:
                raise ValueError(f"study {name!r}: unknown {key} {sorted(unknown)}")
        if study.get("paired") and len(study["models"]) != len(study["graphs"]):
            raise ValueError(
                f"study {name!r}: paired studies need one graph per model, got "
                f"{len(study['models'])} models and {len(study['graphs'])} graphs"
            )
        if study.get("baseline") and study["baseline"] not in study["graphs"]:
            raise ValueError(
                f"study {name!r}: baseline {study['baseline']!r} not in its graphs"
            )


check_studies()

# worker processes of the symmetry and graph steps (Snakemake caps them at --cores)
PREPROCESSING_THREADS = config["preprocessing"]["threads"]


def _numerics_flags(train):
    """Command-line flags of the training jobs' execution settings (config ``train:``)."""
    flags = [f"--precision {train['precision']}"]
    flags += [
        f"--{key.replace('_', '-')}"
        for key in ("tf32", "fused_adam", "deterministic")
        if train[key]
    ]
    return " ".join(flags)


# the crystal studies' jobs go before the force studies' when both are ready, so that the
# demo's first tables appear within minutes rather than after every force training
CRYSTAL_FIRST = 10


def _study_priorities():
    """Scheduling priority of each crystal study, its runs and its graphs.

    Studies finish in config order: every job of the first study outranks the jobs of the
    later ones (a run or graph shared by several studies takes its first study's rank), so
    the first table is written after that study's trainings, not after all of them.
    """
    ranks = {
        study: CRYSTAL_FIRST + len(config["studies"]) - i
        for i, study in enumerate(config["studies"])
    }
    runs, graphs, datasets = {}, {}, {}
    for study, rank in ranks.items():
        for run in study_run_dirs(config, study):
            runs.setdefault(run, rank)
        for dataset in config["studies"][study]["datasets"]:
            datasets.setdefault(dataset, rank)
            for graph in config["studies"][study]["graphs"]:
                graphs.setdefault((dataset, graph), rank)
    return ranks, runs, graphs, datasets


STUDY_PRIORITY, RUN_PRIORITY, GRAPH_PRIORITY, DATASET_PRIORITY = _study_priorities()


def dataset_priority(wildcards):
    """Priority of a dataset's preparation jobs: the rank of the first study that uses it."""
    return DATASET_PRIORITY.get(wildcards.dataset, CRYSTAL_FIRST)


def run_priority(wildcards):
    """Priority of a crystal training job: its first study's rank."""
    run = f"runs/{wildcards.dataset}/{wildcards.model}/{wildcards.graph}/fold{wildcards.fold}"
    return RUN_PRIORITY.get(run, CRYSTAL_FIRST)


def graph_priority(wildcards):
    """Priority of a graph-building job: the rank of the first study that trains on it."""
    return GRAPH_PRIORITY.get((wildcards.dataset, wildcards.graph), CRYSTAL_FIRST)


def study_priority(wildcards):
    """Priority of a study's table job: its own rank (above the next study's trainings)."""
    return STUDY_PRIORITY.get(wildcards.study, CRYSTAL_FIRST)


# precision, TF32, fused Adam, deterministic CUDA: how every training job computes
TRAIN_NUMERICS = _numerics_flags(config["train"])


wildcard_constraints:
    dataset=_choice(config["datasets"]),
    graph=_choice(config["graphs"]),
    model=_choice(config["models"]),
    study=_choice(config["studies"]),
    fold=r"\d+",


def study_runs(study, filename):
    """Files of every training run a study aggregates."""
    return [f"results/{run}/{filename}" for run in study_run_dirs(config, study)]


def study_outputs():
    """Tables and figures of every study: the default target."""
    out = []
    for study in config["studies"]:
        out += [f"results/tables/{study}.md", f"results/tables/{study}.csv"]
        out += [
            f"results/figures/{study}_{kind}.{ext}"
            for kind in ("parity", "bars")
            for ext in ("png", "svg")
        ]
    return out


def study_datasets():
    """Datasets used by any study, in config order."""
    used = {d for s in config["studies"].values() for d in s["datasets"]}
    return [d for d in config["datasets"] if d in used]


def study_graph_files():
    """Every graph file some study trains on."""
    pairs = {
        (d, g)
        for s in config["studies"].values()
        for d in s["datasets"]
        for g in s["graphs"]
    }
    return [f"results/graphs/{d}/{g}.parquet" for d, g in sorted(pairs)]


def graph_stats_outputs():
    return ["results/tables/graph_stats.md", "results/tables/graph_stats.csv"] + [
        f"results/figures/graph_stats_{d}.png" for d in study_datasets()
    ]


def as_json(section):
    """A params function passing one named config entry to the CLI as JSON."""
    key = {"graphs": "graph", "models": "model", "studies": "study"}[section]
    return lambda wc: json.dumps(config[section][getattr(wc, key)])


def model_json(wildcards):
    """The model's config entry as JSON, with its training budget for this dataset.

    ``train_by_dataset`` overrides training keys per dataset (coNGN: 50 epochs on
    mp_is_metal instead of 600).
    """
    model = dict(config["models"][wildcards.model])
    overrides = model.pop("train_by_dataset", {}).get(wildcards.dataset, {})
    model["train"] = {**model["train"], **overrides}
    return json.dumps(model)


def dataset_field(field):
    """JSON map dataset -> one field of its config (units, quantity labels)."""
    return json.dumps({d: c[field] for d, c in config["datasets"].items()})


# published MatBench scores shipped with the workflow (found from any working directory)
MATBENCH_REFERENCE_SCORES = os.path.join(
    workflow.basedir, "config", "reference", "matbench_scores.yaml"
)


def matbench_local_dir_arg(wildcards):
    """--local-dir for offline MatBench files, if the config names a folder."""
    folder = config.get("matbench", {}).get("local_dir")
    return f"--local-dir {folder}" if folder else ""


def matbench_study():
    """The study whose runs form the MatBench table and submission files, if any."""
    name = config.get("matbench", {}).get("study")
    if name and name not in config["studies"]:
        raise ValueError(f"matbench.study {name!r} is not a study of the config")
    return name


def matbench_outputs():
    """MatBench table and one submission file per (model, graph) of the MatBench study."""
    name = matbench_study()
    if not name:
        return []
    s = config["studies"][name]
    return ["results/tables/matbench.md", "results/tables/matbench.csv"] + [
        f"results/matbench/{m}-{g}/results.json.gz" for m, g in model_graph_pairs(s)
    ]


def publish_runs():
    """Every run of every study: what `publish` copies and rebuilds the tables from."""
    return sorted(
        {r for study in config["studies"] for r in study_runs(study, "metrics.json")}
    )


def matbench_runs(wildcards):
    """Predictions of one (model, graph) on every task and fold of the MatBench study."""
    s = config["studies"][matbench_study()]
    return [
        f"results/runs/{d}/{wildcards.model}/{wildcards.graph}/fold{k}/predictions.parquet"
        for d in s["datasets"]
        for k in range(config["folds"])
    ]


def matbench_datasets(wildcards):
    """Verified dataset files of the MatBench study's tasks (matbench loads them)."""
    s = config["studies"][matbench_study()]
    return [f"resources/datasets/{d}.json.gz" for d in s["datasets"]]


# the S2EF / ForceNet branch (optional section `forces`)
FORCES = config.get("forces")


def check_force_studies():
    """Force studies name known entries, and no name clashes with a crystal study."""
    for name, study in FORCES["studies"].items():
        if name in config["studies"]:
            raise ValueError(f"force study {name!r} has the name of a crystal study")
        for key in ("datasets", "models", "graphs"):
            unknown = set(study[key]) - set(FORCES[key])
            if unknown:
                raise ValueError(
                    f"force study {name!r}: unknown {key} {sorted(unknown)}"
                )
    bad = [k for k in FORCES.get("test_folds", []) if k >= FORCES["folds"]]
    if bad:
        raise ValueError(f"forces.test_folds {bad} outside 0..{FORCES['folds'] - 1}")


def force_study_runs(study):
    """metrics.json of every run a force study aggregates: dataset x model x graph x test
    fold x training-set size x seed."""
    return [
        f"results/forces/{run}/metrics.json"
        for run in force_study_run_dirs(FORCES, study)
    ]


def force_data_size_studies():
    """Force studies that vary the number of training systems."""
    return [n for n, s in FORCES["studies"].items() if len(s["train_systems"]) > 1]


def force_study_outputs():
    """Tables and figures of every force study (part of the default target)."""
    if not FORCES:
        return []
    outputs = [
        f"results/{kind}/{study}{suffix}"
        for study in FORCES["studies"]
        for kind, suffix in (
            ("tables", ".md"),
            ("tables", ".csv"),
            ("figures", "_time.png"),
            ("figures", "_time.svg"),
        )
    ]
    return outputs + [
        f"results/figures/{study}_data_size.{ext}"
        for study in force_data_size_studies()
        for ext in ("png", "svg")
    ]


def force_train_args(wc):
    """Seed and (for a data-size point) the number of training systems of one run."""
    args = f"--seed {wc.seed}"
    if wc.ftrain != "all":
        args += f" --train-systems {wc.ftrain}"
    return args


def force_json(section, key):
    """A params function passing one entry of forces.<section> to the CLI as JSON."""
    return lambda wc: json.dumps(FORCES[section][getattr(wc, key)])


def force_files(wc):
    return FORCES["datasets"][wc.fdataset].get("files", [])


def force_frames_args(wc):
    d = FORCES["datasets"][wc.fdataset]
    args = [f"--source {d['source']}"]
    if d["source"] == "emt":
        args += [f"--seed {d['seed']}", f"--systems {d['systems']}"]
    if d.get("allow_pickle"):
        args.append("--allow-pickle")
    return " ".join(args)


if FORCES:
    check_force_studies()
