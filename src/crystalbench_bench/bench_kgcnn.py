"""Benchmark (not a test): our ASU graph building against kgcnn 3.0's reference preprocessors.

kgcnn is not a dependency: it is installed from PyPI into a throwaway venv with the stack of
the MatBench coGN/coNGN submissions (kgcnn 3.0.0, pyxtal 0.5.5, pymatgen 2023.3.23, spring
2023). Its crystal preprocessors need no TensorFlow, so kgcnn goes in with ``--no-deps`` and
only the crystal stack beside it. Both sides run single process on the same structures;
structure parsing is not timed. Ours includes symmetry detection and symmetrisation.

Each side makes ``repeat`` passes over the structures and the fastest counts, as timeit does:
on this virtual machine one pass can run 20% slower than the next for no reason of its own.
Our naming cache (``symmetry.SPACE_GROUP_NUMBERS``) is emptied before every pass, so each
starts as a fresh pipeline run would.

kgcnn's worker runs with its BLAS pinned to one thread: unpinned, OpenBLAS's idle threads
spin on this 2-core machine and cost kgcnn a fifth of its speed (47 vs 61 jdft2d kNN graphs
per second). Our side makes only small matrix products, which OpenBLAS keeps on one thread.

kgcnn builds its graph on pyxtal's standardised conventional cell, we on the input cell, so
node and edge counts are compared only where both use the same cell (kgcnn's multiplicities
add up to the input's atoms) and find the same space group; every other structure is counted
in its disagreement class.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from crystalbench.crystal.graphs import GraphSpec, build_graph
from crystalbench.crystal.matbench import read_matbench_json
from crystalbench.crystal.symmetry import SPACE_GROUP_NUMBERS, analyse_symmetry

KGCNN_STACK = [  # the submissions' kgcnn and the crystal stack of its time (Python 3.11 wheels)
    ["--no-deps", "--ignore-requires-python", "kgcnn==3.0.0", "pyxtal==0.5.5",
     "pymatgen==2023.3.23"],
    ["numpy==1.24.3", "scipy==1.10.1", "networkx==3.1", "spglib==2.0.2", "ase==3.22.1",
     "pyshtools==4.10.3", "monty==2023.5.8", "ruamel.yaml==0.17.26", "uncertainties==3.1.7",
     "tabulate==0.9.0", "palettable==3.3.3", "pandas==2.0.1", "sympy==1.12"],
]
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
VARIANTS = {"asu-knn24": GraphSpec("asu", "knn", k=24),
            "asu-voronoi": GraphSpec("asu", "voronoi", min_area=1e-6)}


def kgcnn_python(venv: Path) -> Path:
    """The venv's python, creating the venv and installing kgcnn's stack if needed."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import kgcnn.crystal.preprocessor"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"installing kgcnn 3.0.0 into {venv} (about a minute)", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    for args in KGCNN_STACK:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *args], check=True)
    subprocess.run(probe, check=True)
    return python


def run_kgcnn(python: Path, dataset: Path, limit: int, repeat: int) -> dict:
    worker = Path(__file__).with_name("kgcnn_worker.py")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "kgcnn.json"
        # pyxtal prints bare numbers to stdout; the worker's progress goes to stderr
        subprocess.run([str(python), str(worker), str(dataset), str(limit), str(out),
                        str(repeat)],
                       check=True, stdout=subprocess.DEVNULL, env={**os.environ, **ONE_THREAD})
        return json.loads(out.read_text())


def run_ours(dataset: Path, limit: int, repeat: int) -> dict:
    structures = read_matbench_json(dataset)
    structures = structures[:limit] if limit > 0 else structures
    results = {}
    for name, spec in VARIANTS.items():
        passes = []
        for _ in range(repeat):
            SPACE_GROUP_NUMBERS.clear()  # every pass starts as a fresh pipeline run
            graphs = []
            tic = time.perf_counter()
            for s in structures:
                sym = analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
                graph = build_graph(s, sym, spec)
                graphs.append({"nodes": graph.n_nodes, "edges": graph.n_edges,
                               "spacegroup": sym.spacegroup, "cell_atoms": s.n_atoms})
            passes.append(time.perf_counter() - tic)
        results[name] = {"seconds": min(passes), "graphs": graphs}
    return results


def disagreement_class(ours: dict, theirs: dict) -> str:
    if theirs["cell_atoms"] != ours["cell_atoms"]:
        return "kgcnn used another cell (conventional or primitive)"
    if theirs["spacegroup"] != ours["spacegroup"]:
        return "different space group"
    if (theirs["nodes"], theirs["edges"]) == (ours["nodes"], ours["edges"]):
        return "agree"
    if theirs["nodes"] != ours["nodes"]:
        return "same cell and group, different nodes"
    return "same cell and group, different edges"


def bench_kgcnn(data_dir: str, venv: str, limit: int = 0, repeat: int = 3) -> None:
    """Print structures per second for kgcnn and ours, the ratio, and count agreement."""
    python = kgcnn_python(Path(venv))
    print("ASU graph building, single process, structures per second (parsing not timed), "
          f"fastest of {repeat} passes")
    print(f"{'dataset':<18}{'variant':<13}{'n':>6}{'kgcnn/s':>9}{'ours/s':>9}{'ratio':>8}"
          f"{'agree':>7}  disagreements")
    for dataset in sorted(Path(data_dir).glob("matbench_*.json.gz")):
        theirs_all = run_kgcnn(python, dataset, limit, repeat)
        ours_all = run_ours(dataset, limit, repeat)
        for name in VARIANTS:
            theirs, ours = theirs_all[name], ours_all[name]
            n = len(ours["graphs"])
            classes = Counter(disagreement_class(o, t) for o, t in
                              zip(ours["graphs"], theirs["graphs"], strict=True))
            agree = classes.pop("agree", 0)
            rate_theirs, rate_ours = n / theirs["seconds"], n / ours["seconds"]
            others = "; ".join(f"{c}: {k}" for c, k in classes.most_common())
            print(f"{dataset.name.split('.')[0]:<18}{name:<13}{n:>6}{rate_theirs:>9.1f}"
                  f"{rate_ours:>9.1f}{rate_ours / rate_theirs:>7.1f}x{agree:>7}  {others}")
