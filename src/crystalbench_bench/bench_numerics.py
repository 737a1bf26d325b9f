"""Benchmark of the execution settings (``core.numerics``): epoch time of the reference
coGN/coNGN on ASU graphs under each setting, against float32 measured in the same run, and
how far each setting moves the numbers (the forward pass from the same weights, and the
training loss after the timed epochs)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from crystalbench.core.numerics import Numerics

# (label, settings); the first row is the baseline of the ratios
SETTINGS: list[tuple[str, Numerics]] = [
    ("float32", Numerics()),
    ("tf32", Numerics(tf32=True)),
    ("bfloat16", Numerics("bfloat16")),
    ("float16", Numerics("float16")),
    ("fused_adam", Numerics(fused_adam=True)),
    ("tf32+bf16+fused", Numerics("bfloat16", tf32=True, fused_adam=True)),
    ("deterministic", Numerics(deterministic=True)),
]


def bench_numerics(data_dir: str, epochs: int = 3, batch_size: int = 64, threads: int = 2,
                   device: str = "auto", models: Sequence[str] = ("cogn",)) -> None:
    """Per dataset and model: each setting's median epoch time after one warm-up, its ratio to
    float32, the largest relative change of the untrained model's output on the first batch,
    and the relative change of the last epoch's training loss. Settings the device does not
    honour (float16 and TF32 off CUDA, deterministic on CPU, where it is always on) are listed
    as such, not timed."""
    import torch

    from crystalbench.core.device_batches import DeviceGraphs
    from crystalbench.core.training import pick_device
    from crystalbench.crystal.train import train_epoch
    from crystalbench.models import build_model
    from crystalbench_bench.bench import EPOCH_MODELS, matbench_graph_tables

    torch.set_num_threads(threads)
    dev = pick_device(device)
    print(f"execution settings, reference models on ASU graphs, batch {batch_size}, device "
          f"{dev}, {threads} threads; median of {epochs} epochs after one warm-up; ratios "
          "against float32 in this run")
    print(f"{'dataset':<18}{'model':<7}{'setting':<17}{'s/epoch':>9}{'speed-up':>10}"
          f"{'output dev.':>13}{'loss dev.':>11}{'peak MB':>9}")
    for path in sorted(Path(data_dir).glob("matbench_*.json.gz")):
        name = path.name.split(".")[0]
        for model_name in models:
            params, edges = EPOCH_MODELS[model_name]
            table = matbench_graph_tables(path, edges, ("asu",))["asu"]
            graphs = DeviceGraphs(table, dev)
            targets = graphs.fields["y"]
            graphs.fields["y"] = (targets - targets.mean()) / targets.std()
            idx = np.arange(len(table))
            first = next(iter(graphs.batches(idx, batch_size, None)))
            base: dict[str, float] = {}
            for label, asked in SETTINGS:
                numerics = asked
                if asked.unsupported_on(dev) or (asked.deterministic and dev.type == "cpu"):
                    print(f"{name:<18}{model_name:<7}{label:<17}{'not on ' + dev.type:>9}")
                    continue
                torch.use_deterministic_algorithms(dev.type == "cpu")
                numerics.configure(dev)
                torch.manual_seed(0)
                model = build_model(model_name, params).to(dev)
                with torch.no_grad(), numerics.autocast(dev):
                    out = model(first).float()
                if dev.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(dev)
                optimizer = numerics.adam(list(model.parameters()), 5e-4)
                scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
                runs = [train_epoch(model, graphs.batches(idx, batch_size,
                                                          np.random.default_rng([0, e])),
                                    optimizer, scheduler, torch.nn.functional.l1_loss, dev,
                                    None, numerics, numerics.grad_scaler(dev))
                        for e in range(epochs + 1)]
                seconds = statistics.median(r[1] for r in runs[1:])
                loss = runs[-1][0]
                if not base:
                    base = {"seconds": seconds, "loss": loss}
                    reference_out = out
                deviation = float(((out - reference_out).abs().max()
                                   / reference_out.abs().max()).cpu())
                peak = (f"{torch.cuda.max_memory_allocated(dev) / 2**20:>9.0f}"
                        if dev.type == "cuda" else f"{'-':>9}")
                print(f"{name:<18}{model_name:<7}{label:<17}{seconds:>9.2f}"
                      f"{base['seconds'] / seconds:>9.2f}x{deviation:>13.1e}"
                      f"{abs(loss - base['loss']) / base['loss']:>11.1e}{peak}")
            torch.use_deterministic_algorithms(dev.type == "cpu")
            if dev.type == "cuda":
                torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
