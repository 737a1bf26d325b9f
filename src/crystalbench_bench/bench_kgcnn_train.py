"""Benchmark (not a test): kgcnn's reference coGN and ours trained side by side on MatBench folds.

kgcnn is not a dependency: it is installed from PyPI into a throwaway venv (kgcnn 3.0.2 with
TensorFlow 2.15 CPU; the coGN of the MatBench submission is unchanged there). Both sides
start from the same files: the pipeline builds our graphs and the official splits
(``config/matbench_reduced.yaml``'s data folder, through Snakemake), and kgcnn's worker reads
the very dataset file the pipeline fetched and the fold rows of the official fold file. Same
protocol on both sides: ASU kNN-24 graphs, standardised targets, MAE loss, Adam 5e-4 -> 1e-5
linear per step, batch 64, last-epoch weights; each side single-threaded, the two running
at the same time on two cores, so their epoch times are measured under the same load.

Every run's result is kept as JSON under ``out`` and reused when the bench is run again, so
a long comparison can be done in parts; a run is redone only when its file is deleted.
``variants`` adds our coGN with each reference-faithful default switched back to PyTorch's
(``init: torch``, ``elements: pymatgen``, both), and kgcnn with our trainer's optimizer
settings (Adam epsilon 1e-8 for Keras' 1e-7, the decay spread over whole batches per epoch),
to measure which difference matters. The graphs kgcnn trains on are compared with ours
crystal by crystal, so a gap cannot hide in the graph construction.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crystalbench.core.io import write_json
from crystalbench.core.provenance import provenance
from crystalbench.crystal.matbench import task_metadata

KGCNN_TRAIN_STACK = [  # kgcnn 3.0.2 and TensorFlow 2.15 with the crystal stack of spring 2023
    ["tensorflow-cpu==2.15.1"],
    ["--no-deps", "kgcnn==3.0.2", "pymatgen==2023.3.23", "pyxtal==0.5.9"],
    ["numpy<2", "scipy<1.12", "pandas<2.2", "monty<2024", "ruamel.yaml<0.18", "matplotlib<3.9",
     "ase<3.23", "spglib==2.0.2", "networkx", "sympy", "scikit-learn", "uncertainties",
     "tabulate", "palettable", "pyyaml", "requests"],
]
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "TF_CPP_MIN_LOG_LEVEL": "2"}
CONFIG = "config/matbench_reduced.yaml"  # offline data folder, official folds
GRAPH = "asu-knn24"
KGCNN = {"kgcnn": "keras", "kgcnn-torch-optimizer": "torch"}  # variant -> worker's optimizer
OURS = {"ours": {}, "ours-init-torch": {"init": "torch"},
        "ours-elements-pymatgen": {"elements": "pymatgen"},
        "ours-torch-defaults": {"init": "torch", "elements": "pymatgen"}}
VARIANTS = [*KGCNN, *OURS]  # table order
PROTOCOL = {"batch_size": 64, "lr": 5e-4, "lr_end": 1e-5}


@dataclass(frozen=True)
class Run:
    """One training run of the comparison: which side, which fold, seed and budget."""

    variant: str  # a key of KGCNN or OURS
    fold: int
    seed: int
    epochs: int

    def path(self, out: Path, dataset: str) -> Path:
        return (out / dataset / f"fold{self.fold}" / f"epochs{self.epochs}" / self.variant
                / f"seed{self.seed}.json")


def kgcnn_train_python(venv: Path) -> Path:
    """The venv's python, creating the venv and installing kgcnn's training stack if needed."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import tensorflow, kgcnn.literature.coGN, "
             "kgcnn.crystal.preprocessor, kgcnn.training.schedule, sklearn.preprocessing"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"installing kgcnn 3.0.2 and TensorFlow 2.15 into {venv} (about 2 minutes)",
          file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    for args in KGCNN_TRAIN_STACK:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *args], check=True)
    subprocess.run(probe, check=True)
    return python


def pipeline_inputs(dataset: str, cores: int) -> dict[str, Path]:
    """Our graph table, the official split table and the fetched dataset file, made by the
    pipeline itself (nothing to do when they are up to date)."""
    paths = {"graphs": Path(f"results/graphs/{dataset}/{GRAPH}.parquet"),
             "splits": Path(f"results/splits/{dataset}.parquet"),
             "data": Path(f"resources/datasets/{dataset}.json.gz")}
    subprocess.run(["snakemake", "--cores", str(cores), "--quiet", "rules",
                    "--configfile", CONFIG, "--", *map(str, paths.values())], check=True)
    return paths


def fold_rows(splits: Path, fold: int) -> tuple[list[int], list[int]]:
    """Row numbers (MatBench id mb-task-N is row N - 1) of a fold's train and test ids."""
    import pyarrow.parquet as pq

    table = pq.read_table(splits).to_pandas()
    rows = table["id"].str.rsplit("-", n=1).str[1].astype(int) - 1
    return (sorted(rows[table["fold"] != fold].tolist()),
            sorted(rows[table["fold"] == fold].tolist()))


def check_element_table(python: Path) -> float:
    """Largest difference between our reference element table and kgcnn's installed one."""
    from crystalbench.models.elements import element_feature_table

    script = ("import json; from kgcnn.crystal.periodic_table.periodic_table import "
              "PeriodicTable as P; p = P(); print(json.dumps([p.get_atomic_mass(), "
              "p.get_atomic_radius(), p.get_electronegativity(), p.get_ionization_energy(), "
              "p.get_oxidation_states()]))")
    out = subprocess.run([str(python), "-c", script], check=True, capture_output=True,
                         text=True, env={**os.environ, **ONE_THREAD}).stdout
    mass, radius, electronegativity, ionisation, states = json.loads(out.splitlines()[-1])
    theirs = np.column_stack([mass, radius, electronegativity, ionisation, np.array(states)])
    return float(np.abs(element_feature_table("reference")[1:] - theirs).max())


def node_signatures(atomic_numbers: list[int], multiplicity: list[int],
                    receivers: list[int], lengths: list[float]) -> list[tuple[Any, ...]]:
    """Per ASU node: Z, multiplicity divided by the crystal's smallest, and the sorted
    lengths of its incoming edges; sorted, so two graphs compare without matching nodes."""
    incoming: list[list[float]] = [[] for _ in atomic_numbers]
    for node, length in zip(receivers, lengths, strict=True):
        incoming[node].append(length)
    smallest = min(multiplicity)
    return sorted((int(z), m / smallest, tuple(sorted(d)))
                  for z, m, d in zip(atomic_numbers, multiplicity, incoming, strict=True))


def same_graph(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]], tolerance: float) -> bool:
    """Same nodes (Z, relative multiplicity) and edge lengths within ``tolerance`` (Angstrom)."""
    return len(a) == len(b) and all(
        x[:2] == y[:2] and len(x[2]) == len(y[2])
        and np.allclose(x[2], y[2], rtol=0, atol=tolerance) for x, y in zip(a, b, strict=True))


def compare_graphs(theirs: list[dict[str, Any]], graphs: Path, dataset: str,
                   tolerance: float = 0.01) -> dict[str, list[str]]:
    """kgcnn's graphs (the worker's JSON, in dataset row order) against our graph table:
    ids whose graphs are equal, equal but for one multiplicity factor over the whole crystal
    (kgcnn builds on the conventional cell; the multiplicity-weighted mean readout cancels
    it), or different."""
    from crystalbench.crystal.graphs import CRYSTAL_GRAPHS
    from crystalbench.crystal.matbench import matbench_id

    table = CRYSTAL_GRAPHS.read(graphs)
    row_of = {id_: i for i, id_ in enumerate(table.ids)}
    classes: dict[str, list[str]] = {"equal": [], "equal up to a multiplicity factor": [],
                                     "different": []}
    n_rows = task_metadata(dataset)["n_samples"]
    for row, graph in enumerate(theirs):
        id_ = matbench_id(dataset, row, n_rows)
        graph_ours = table.graph(row_of[id_])
        ours = node_signatures(graph_ours.atomic_numbers.tolist(),
                               graph_ours.multiplicity.tolist(), graph_ours.edge_dst.tolist(),
                               np.linalg.norm(graph_ours.edge_vec, axis=1).tolist())
        kgcnn = node_signatures(graph["atomic_number"], graph["multiplicity"],
                                [e[0] for e in graph["edge_indices"]],
                                np.linalg.norm(np.asarray(graph["offset"]).reshape(-1, 3),
                                               axis=1).tolist())
        if not same_graph(ours, kgcnn, tolerance):
            classes["different"].append(id_)
        elif sorted(graph_ours.multiplicity.tolist()) == sorted(graph["multiplicity"]):
            classes["equal"].append(id_)
        else:
            classes["equal up to a multiplicity factor"].append(id_)
    return classes


def kgcnn_graphs(python: Path, paths: dict[str, Path], scratch: Path) -> list[dict[str, Any]]:
    """kgcnn's ASU kNN-24 graphs of the dataset file, built by its worker (kept in scratch)."""
    graphs_out = scratch / "kgcnn_graphs.json"
    if not graphs_out.exists() or graphs_out.stat().st_mtime < paths["data"].stat().st_mtime:
        spec_path = scratch / "kgcnn_graphs_spec.json"
        write_json(spec_path, {"data": str(paths["data"]), "threads": 1,
                               "graphs_out": str(graphs_out), "runs": []})
        worker = Path(__file__).with_name("kgcnn_train_worker.py")
        subprocess.run([str(python), str(worker), str(spec_path)], check=True,
                       env={**os.environ, **ONE_THREAD})
    return json.loads(graphs_out.read_text())


def start_kgcnn(python: Path, runs: list[Run], out: Path, dataset: str,
                paths: dict[str, Path]) -> subprocess.Popen | None:
    """Start kgcnn's worker on the missing kgcnn runs (one process, sequentially)."""
    if not runs:
        return None
    specs = []
    for run in runs:
        train, test = fold_rows(paths["splits"], run.fold)
        specs.append({"train": train, "test": test, "seed": run.seed, "epochs": run.epochs,
                      "optimizer": KGCNN[run.variant], "out": str(run.path(out, dataset))})
    spec_path = out / dataset / "kgcnn_spec.json"
    write_json(spec_path, {"data": str(paths["data"]), "threads": 1, **PROTOCOL,
                           "provenance": provenance(()), "runs": specs})
    worker = Path(__file__).with_name("kgcnn_train_worker.py")
    log = open(out / dataset / "kgcnn_worker.log", "a")  # noqa: SIM115 (closed by the child)
    return subprocess.Popen([str(python), str(worker), str(spec_path)], stdout=log,
                            stderr=subprocess.STDOUT, env={**os.environ, **ONE_THREAD})


def train_ours(run: Run, out: Path, dataset: str, paths: dict[str, Path],
               scratch: Path) -> None:
    """Train our coGN (reference defaults, or a variant) and write the run's JSON."""
    import pandas as pd
    import torch

    from crystalbench.core.training import batches, fold_indices
    from crystalbench.crystal.graphs import CRYSTAL_GRAPHS
    from crystalbench.crystal.predict import load_checkpoint
    from crystalbench.crystal.train import TrainConfig, train_fold

    run_dir = scratch / dataset / f"fold{run.fold}" / f"epochs{run.epochs}" / run.variant / \
        f"seed{run.seed}"
    cfg = TrainConfig(epochs=run.epochs, seed=run.seed, checkpoint_every=25, **PROTOCOL)
    metrics = train_fold(paths["graphs"], paths["splits"], run.fold, "cogn", OURS[run.variant],
                         cfg, run_dir, device="cpu", threads=1)
    model, ckpt = load_checkpoint(run_dir / "checkpoint.pt", torch.device("cpu"))
    table = CRYSTAL_GRAPHS.read(paths["graphs"])
    data = table.to_data()
    train_idx, _ = fold_indices(table.ids, paths["splits"], run.fold)
    with torch.no_grad():
        raw = torch.cat([model(b).squeeze(-1) for b in batches(data, train_idx, 64, None)])
    pred_train = raw.double().numpy() * ckpt["target_std"] + ckpt["target_mean"]
    history = pd.read_csv(run_dir / "history.csv")
    predictions = pd.read_parquet(run_dir / "predictions.parquet")
    write_json(run.path(out, dataset), {
        "implementation": "crystalbench", "variant": run.variant, "params": OURS[run.variant],
        "torch": torch.__version__, "seed": run.seed, "epochs": run.epochs,
        "parameters": metrics["parameters"], "test_mae": metrics["mae"],
        "train_mae": float(np.abs(pred_train - table.column("target")[train_idx]).mean()),
        "seconds_per_epoch": metrics["seconds_per_epoch"],
        "train_seconds": metrics["train_seconds"],
        "train_loss": history["train_loss"].tolist(),
        "test_ids": predictions["id"].tolist(),
        "test_predictions": predictions["prediction"].tolist(),
        "provenance": provenance(),
    })


def summary_rows(out: Path, dataset: str) -> list[dict[str, Any]]:
    """One row per (fold, budget, variant) found under ``out``, this invocation's or an
    earlier one's: mean and std over seeds of each measurement."""
    groups: dict[tuple[int, int, str], list[dict[str, Any]]] = {}
    for path in sorted((out / dataset).glob("fold*/epochs*/*/seed*.json")):
        fold, epochs, variant = path.parts[-4:-1]
        groups.setdefault((int(fold[4:]), int(epochs[6:]), variant), []).append(
            json.loads(path.read_text()))
    rows = []
    for (fold, epochs, variant), results in groups.items():
        row: dict[str, Any] = {"fold": fold, "epochs": epochs, "variant": variant,
                               "seeds": sorted(r["seed"] for r in results)}
        for key in ("test_mae", "train_mae", "seconds_per_epoch"):
            values = [r[key] for r in results]
            row[key] = statistics.fmean(values)
            row[key + "_std"] = statistics.stdev(values) if len(values) > 1 else float("nan")
            row[key + "_each"] = values
        rows.append(row)
    return rows


def format_table(rows: list[dict[str, Any]], unit: str) -> str:
    """Side-by-side table: per fold and budget, kgcnn, then ours with ratios to kgcnn."""
    lines = [f"{'fold':>4} {'epochs':>6}  {'implementation':<24}{'seeds':>6}  "
             f"{'test MAE (' + unit + ')':>22}  {'train MAE':>16}  {'s/epoch':>8}  "
             f"{'test/kgcnn':>10}  {'time/kgcnn':>10}  per seed (test MAE)"]
    keyed = {(r["fold"], r["epochs"], r["variant"]): r for r in rows}
    for fold, epochs in sorted({(r["fold"], r["epochs"]) for r in rows}):
        ref = keyed.get((fold, epochs, "kgcnn"))
        for variant in VARIANTS:
            r = keyed.get((fold, epochs, variant))
            if r is None:
                continue
            ratio = (f"{r['test_mae'] / ref['test_mae']:>10.3f}  "
                     f"{r['seconds_per_epoch'] / ref['seconds_per_epoch']:>10.2f}"
                     if ref and variant != "kgcnn" else f"{'':>10}  {'':>10}")
            each = " ".join(f"{v:.2f}" for v in r["test_mae_each"])
            lines.append(
                f"{fold:>4} {epochs:>6}  {variant:<24}{len(r['seeds']):>6}  "
                f"{r['test_mae']:>13.2f} ± {r['test_mae_std']:>5.2f}  "
                f"{r['train_mae']:>8.2f} ± {r['train_mae_std']:>5.2f}  "
                f"{r['seconds_per_epoch']:>8.2f}  {ratio}  {each}")
    return "\n".join(lines)


def predictions_by_id(path: Path, dataset: str) -> dict[str, float]:
    """id -> test prediction of one run (kgcnn's runs name rows, ours ids)."""
    from crystalbench.crystal.matbench import matbench_id

    result = json.loads(path.read_text())
    n_rows = task_metadata(dataset)["n_samples"]
    ids = result.get("test_ids") or [matbench_id(dataset, r, n_rows)
                                     for r in result["test_rows"]]
    return dict(zip(ids, result["test_predictions"], strict=True))


def gap_decomposition(out: Path, dataset: str, targets: dict[str, float], top: int = 3,
                      ) -> list[str]:
    """Where the test-MAE gap between kgcnn and ours comes from, per (fold, budget): the mean
    gap, the median per-structure gap and the structures that contribute most (errors
    averaged over the seeds both sides have)."""
    lines = []
    for kgcnn_dir in sorted((out / dataset).glob("fold*/epochs*/kgcnn")):
        seeds = sorted(p.name for p in kgcnn_dir.glob("seed*.json")
                       if (kgcnn_dir.parent / "ours" / p.name).exists())
        if not seeds:
            continue
        runs = {side: [predictions_by_id(kgcnn_dir.parent / side / s, dataset)
                       for s in seeds] for side in ("kgcnn", "ours")}
        ids = sorted(runs["kgcnn"][0])
        if any(sorted(r) != ids for side_runs in runs.values() for r in side_runs):
            raise ValueError(f"{kgcnn_dir.parent}: the runs were tested on different crystals")
        errors = {side: np.array([[abs(r[i] - targets[i]) for i in ids] for r in side_runs]
                                 ).mean(0) for side, side_runs in runs.items()}
        gap = errors["kgcnn"] - errors["ours"]
        order = np.argsort(-np.abs(gap))[:top]
        share = gap[order].sum() / len(gap)
        fold, epochs = kgcnn_dir.parts[-3:-1]
        lines.append(
            f"{fold} {epochs}, {len(seeds)} seed(s): MAE gap kgcnn - ours {gap.mean():+.2f}, "
            f"median per-structure gap {np.median(gap):+.2f}; the {top} largest contribute "
            f"{share:+.2f}: " + "; ".join(
                f"{ids[i]} (target {targets[ids[i]]:.1f}: kgcnn error {errors['kgcnn'][i]:.1f},"
                f" ours {errors['ours'][i]:.1f})" for i in order))
    return lines


def curves_figure(out: Path, dataset: str, path: Path) -> None:
    """Training loss (MAE of standardised targets) per epoch, mean over seeds with the seeds'
    range shaded: one panel per (fold, budget), one line per side and variant."""
    import matplotlib.pyplot as plt

    from crystalbench.core.figures import save_figure

    groups: dict[tuple[int, int], dict[str, list[list[float]]]] = {}
    for file in sorted((out / dataset).glob("fold*/epochs*/*/seed*.json")):
        fold, epochs, variant = file.parts[-4:-1]
        curve = json.loads(file.read_text())["train_loss"]
        groups.setdefault((int(fold[4:]), int(epochs[6:])), {}).setdefault(
            variant, []).append(curve)
    panels = sorted(groups)
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for ax, (fold, epochs) in zip(axes[0], panels, strict=True):
        for variant in VARIANTS:
            curves = groups[(fold, epochs)].get(variant)
            if not curves:
                continue
            values = np.array(curves)
            x = np.arange(1, values.shape[1] + 1)
            line, = ax.plot(x, values.mean(0), lw=1.2, color=f"C{VARIANTS.index(variant)}",
                            label=f"{variant} ({len(curves)} seed{'s' * (len(curves) > 1)})")
            if len(curves) > 1:
                ax.fill_between(x, values.min(0), values.max(0), color=line.get_color(),
                                alpha=0.2, lw=0)
        ax.set(xlabel="epoch", ylabel="training loss (MAE, standardised target)",
               yscale="log", title=f"{dataset} fold {fold}, {epochs} epochs")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("coGN training curves: kgcnn 3.0.2 and crystalbench (mean, seed range)")
    save_figure(fig, [path])


def bench_kgcnn_train(dataset: str, folds: list[int], seeds: list[int], epochs: list[int],
                      venv: str, out: str, variants: list[str] | None, scratch: str) -> str:
    """Train what is missing, then print and return the side-by-side table. ``variants``:
    None for kgcnn and ours only, [] for every variant, or the variants to add."""
    out_dir, scratch_dir = Path(out), Path(scratch)
    python = kgcnn_train_python(Path(venv))
    difference = check_element_table(python)
    if difference > 1e-5:
        raise SystemExit(f"our reference element table differs from kgcnn's by {difference:.2g}")
    print(f"element table: largest difference from kgcnn's installed table {difference:.1e}",
          file=sys.stderr)
    paths = pipeline_inputs(dataset, cores=2)
    classes = compare_graphs(kgcnn_graphs(python, paths, scratch_dir / dataset),
                             paths["graphs"], dataset)
    print("graphs, kgcnn's against ours: " + ", ".join(
        f"{len(ids)} {name}" for name, ids in classes.items())
        + (f" ({', '.join(classes['different'])})" if classes["different"] else ""))
    extra = [v for v in VARIANTS if v not in ("kgcnn", "ours")] if variants == [] else \
        variants or []
    names = list(dict.fromkeys(["kgcnn", "ours", *extra]))
    # variant by variant, so a comparison cut short lacks whole variants, not seeds
    runs = [Run(v, f, s, e) for v in names for e in epochs for f in folds for s in seeds]
    missing = [r for r in runs if not r.path(out_dir, dataset).exists()]
    worker = start_kgcnn(python, [r for r in missing if r.variant in KGCNN], out_dir,
                         dataset, paths)
    for run in missing:
        if run.variant in OURS:
            print(f"ours: {run}", file=sys.stderr, flush=True)
            train_ours(run, out_dir, dataset, paths, scratch_dir)
    if worker is not None and worker.wait() != 0:
        raise SystemExit(f"kgcnn's worker failed: see {out_dir / dataset / 'kgcnn_worker.log'}")
    rows = summary_rows(out_dir, dataset)
    write_json(out_dir / dataset / "summary.json", rows)
    curves_figure(out_dir, dataset, out_dir / dataset / "training_curves.png")
    table = format_table(rows, task_metadata(dataset)["unit"])
    print(f"{dataset}: kgcnn 3.0.2 coGN vs crystalbench coGN, ASU kNN-24, batch 64, "
          f"Adam 5e-4 -> 1e-5; mean ± std over seeds; one thread per side, both sides at once")
    print(table)
    from crystalbench.crystal.matbench import read_matbench_json

    targets = {s.id: s.target for s in read_matbench_json(paths["data"])}
    for line in gap_decomposition(out_dir, dataset, targets):
        print(line)
    return table
