"""Runs kgcnn 3.0's reference crystal preprocessors; executed by ``crystalbench-bench kgcnn``
inside its throwaway kgcnn venv, so it imports nothing from crystalbench (standard library,
pymatgen and kgcnn only).

Usage: python kgcnn_worker.py MATBENCH_JSON_GZ LIMIT OUT_JSON REPEAT
Writes per preprocessor the seconds spent in its calls (structure parsing excluded) in the
fastest of REPEAT passes over the structures and, per structure, node count, edge count,
space group and the atoms of the cell it built on.
"""

import gzip
import json
import sys
import time
import warnings


def main() -> None:
    path, limit, out, repeat = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    from kgcnn.crystal.preprocessor import KNNAsymmetricUnitCell, VoronoiAsymmetricUnitCell
    from pymatgen.core import Structure

    with gzip.open(path, "rt") as f:
        rows = json.load(f)["data"]
    rows = rows[:limit] if limit > 0 else rows
    structures = [Structure.from_dict(row[0]) for row in rows]
    results = {}
    for name, preprocessor in (("asu-knn24", KNNAsymmetricUnitCell(24)),
                               ("asu-voronoi", VoronoiAsymmetricUnitCell(1e-6))):
        passes = []
        for run in range(repeat):
            graphs, seconds = [], 0.0
            for i, structure in enumerate(structures):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    tic = time.perf_counter()
                    graph = preprocessor(structure)
                    seconds += time.perf_counter() - tic
                graphs.append({
                    "index": i,
                    "nodes": graph.number_of_nodes(),
                    "edges": graph.number_of_edges(),
                    "spacegroup": int(getattr(graph, "spacegroup", 0)),
                    "cell_atoms": int(sum(m for _, m in graph.nodes(data="multiplicity"))),
                })
                if (i + 1) % 200 == 0:
                    print(f"{name} pass {run + 1}/{repeat}: {i + 1}/{len(structures)} "
                          f"({(i + 1) / seconds:.1f}/s)", file=sys.stderr, flush=True)
            passes.append(seconds)
        results[name] = {"seconds": min(passes), "graphs": graphs}
    with open(out, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
