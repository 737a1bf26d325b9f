"""Trains kgcnn's reference coGN on MatBench folds; executed by ``crystalbench-bench kgcnn-train``
inside its throwaway kgcnn/TensorFlow venv, so it imports nothing from crystalbench.

The protocol is the MatBench coGN submission's: ``KNNAsymmetricUnitCell(24)`` graphs,
``make_model(**model_default)``, targets scaled with ``StandardScaler``, MAE loss, Adam with a
linear (polynomial power 1) decay from ``lr`` to ``lr_end`` over ``epochs * n_train / batch``
steps, shuffled batches, last-epoch weights. A run with ``"optimizer": "torch"`` takes our
trainer's settings instead (Adam epsilon 1e-8, decay over ``epochs * ceil(n_train / batch)``
steps), so the bench can tell whether those differences matter.

Usage: python kgcnn_train_worker.py SPEC_JSON
SPEC_JSON: {"data": matbench json.gz, "threads": int, "batch_size": int, "lr": float,
"lr_end": float, "graphs_out": optional path, "runs": [{"train": [row], "test": [row],
"seed": int, "epochs": int, "optimizer": "keras" | "torch", "out": path}]}. With
``graphs_out`` kgcnn's graphs are written there as JSON first. Each run writes its ``out``
JSON (written to a temporary name, then renamed) with test and train MAE, seconds per
epoch, the loss history and the test predictions.
"""

import gzip
import json
import math
import os
import sys
import time
import warnings
from importlib.metadata import version
from pathlib import Path


def load_rows(path):
    with gzip.open(path, "rt") as f:
        return json.load(f)["data"]


def build_graphs(rows):
    """kgcnn's ASU kNN-24 graph of every structure as plain arrays (source, target order)."""
    from kgcnn.crystal.preprocessor import KNNAsymmetricUnitCell
    from pymatgen.core import Structure

    preprocessor = KNNAsymmetricUnitCell(24)
    graphs = []
    tic = time.perf_counter()
    for i, row in enumerate(rows):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = preprocessor(Structure.from_dict(row[0]))
        nodes = sorted(graph.nodes)
        position = {n: k for k, n in enumerate(nodes)}
        edges = list(graph.edges(data="offset"))
        graphs.append({
            "atomic_number": [int(graph.nodes[n]["atomic_number"]) for n in nodes],
            "multiplicity": [int(graph.nodes[n]["multiplicity"]) for n in nodes],
            # kgcnn's models read edge_indices as (receiver, sender)
            "edge_indices": [[position[v], position[u]] for u, v, _ in edges],
            "offset": [list(map(float, o)) for _, _, o in edges],
        })
        if (i + 1) % 200 == 0:
            print(f"kgcnn graphs: {i + 1}/{len(rows)} ({time.perf_counter() - tic:.0f} s)",
                  file=sys.stderr, flush=True)
    return graphs


def ragged_inputs(graphs, rows):
    import numpy as np
    import tensorflow as tf

    def ragged(key, dtype):
        values = [np.asarray(graphs[i][key], dtype=dtype) for i in rows]
        return tf.RaggedTensor.from_row_lengths(np.concatenate(values),
                                                [len(v) for v in values])

    return {"atomic_number": ragged("atomic_number", "int32"),
            "multiplicity": ragged("multiplicity", "int32"),
            "edge_indices": ragged("edge_indices", "int32"),
            "offset": ragged("offset", "float32")}


def train_run(spec, run, graphs, targets):
    import numpy as np
    import tensorflow as tf
    import tensorflow.keras as ks
    from kgcnn.literature.coGN import make_model, model_default
    from kgcnn.training.schedule import KerasPolynomialDecaySchedule
    from sklearn.preprocessing import StandardScaler

    ks.utils.set_random_seed(run["seed"])
    model = make_model(**model_default)
    train, test = run["train"], run["test"]
    x_train, x_test = ragged_inputs(graphs, train), ragged_inputs(graphs, test)
    y_train = np.asarray([targets[i] for i in train], dtype=float).reshape(-1, 1)
    scaler = StandardScaler()
    y_scaled = scaler.fit_transform(y_train)
    if run.get("optimizer", "keras") == "torch":  # our trainer's whole batches and epsilon
        steps = run["epochs"] * math.ceil(len(train) / spec["batch_size"])
        schedule = ks.optimizers.schedules.PolynomialDecay(spec["lr"], steps, spec["lr_end"])
        epsilon = 1e-8
    else:
        schedule = KerasPolynomialDecaySchedule(len(train), spec["batch_size"], run["epochs"],
                                                lr_start=spec["lr"], lr_stop=spec["lr_end"])
        epsilon = 1e-7  # Keras' default
    model.compile(optimizer=ks.optimizers.Adam(learning_rate=schedule, epsilon=epsilon),
                  loss=ks.losses.MeanAbsoluteError())

    class EpochTimes(ks.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.tic = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.tic)
            losses.append(float(logs["loss"]))
            if (epoch + 1) % max(1, run["epochs"] // 10) == 0:
                print(f"kgcnn seed {run['seed']} epoch {epoch + 1}/{run['epochs']}: "
                      f"loss {losses[-1]:.4f}, {seconds[-1]:.2f} s", file=sys.stderr, flush=True)

    seconds, losses = [], []
    model.fit(x_train, y_scaled, batch_size=spec["batch_size"], epochs=run["epochs"],
              verbose=0, callbacks=[EpochTimes()])

    def predict(x):
        return scaler.inverse_transform(model.predict(x, batch_size=spec["batch_size"],
                                                      verbose=0)).ravel()

    pred_test, pred_train = predict(x_test), predict(x_train)
    y_test = np.asarray([targets[i] for i in test], dtype=float)
    seconds_sorted = sorted(seconds)
    result = {
        "implementation": "kgcnn", "kgcnn": version("kgcnn"),
        "tensorflow": tf.__version__, "seed": run["seed"], "epochs": run["epochs"],
        "optimizer": run.get("optimizer", "keras"), "adam_epsilon": epsilon,
        "parameters": int(model.count_params()),
        "test_mae": float(np.abs(pred_test - y_test).mean()),
        "train_mae": float(np.abs(pred_train - y_train.ravel()).mean()),
        "seconds_per_epoch": seconds_sorted[len(seconds_sorted) // 2],
        "train_seconds": sum(seconds), "train_loss": losses,
        "test_rows": test, "test_predictions": pred_test.tolist(),
        "provenance": spec.get("provenance", {}),
    }
    out = Path(run["out"])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(result))
    os.replace(tmp, out)
    print(f"kgcnn seed {run['seed']} {run['epochs']} epochs: test MAE {result['test_mae']:.4f}",
          file=sys.stderr, flush=True)


def main():
    spec = json.loads(Path(sys.argv[1]).read_text())
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(spec["threads"])
    tf.config.threading.set_inter_op_parallelism_threads(spec["threads"])
    rows = load_rows(spec["data"])
    targets = [float(row[1]) for row in rows]
    graphs = build_graphs(rows)
    if spec.get("graphs_out"):
        out = Path(spec["graphs_out"])
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_name(out.name + ".tmp").write_text(json.dumps(graphs))
        os.replace(out.with_name(out.name + ".tmp"), out)
    for run in spec["runs"]:
        train_run(spec, run, graphs, targets)


if __name__ == "__main__":
    main()
