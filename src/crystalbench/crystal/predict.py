"""Predict with a trained model on new crystals given as CIF files.

The final ``checkpoint.pt`` of ``train_fold`` carries the architecture, its parameters, the
graph spec and symprec of the graph table the model was trained on, the task type and the
target scaling. A CIF therefore takes the training data's path: pymatgen -> ``Structure`` ->
validation -> symmetry at the training symprec -> ``build_graph`` with the training spec ->
model -> inverse standardisation (regression) or sigmoid (classification). A file that cannot
be read, is rejected or fails graph building gets a row with its reason: CIF files in =
predicted + rejected, nothing is silently dropped. A structure outside what the model was
trained on (elements it never saw, a cell far larger or smaller; ``crystal.domain``) is
predicted with a warning, in the log and in the CSV.
"""

from __future__ import annotations

import json
import logging
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from pymatgen.io.cif import CifParser

from crystalbench.core.io import write_text
from crystalbench.core.progress import Progress
from crystalbench.core.training import batches, pick_device
from crystalbench.core.validation import DEFAULT_MIN_DISTANCE
from crystalbench.crystal.domain import domain_warnings
from crystalbench.crystal.graphs import CRYSTAL_GRAPHS, GraphSpec, build_graph
from crystalbench.crystal.matbench import from_pymatgen, rejected_structure
from crystalbench.crystal.structures import Structure, rejection_reason
from crystalbench.crystal.symmetry import analyse_symmetry
from crystalbench.models import build_model

log = logging.getLogger(__name__)

CHECKPOINT_KEYS = ("model", "architecture", "model_params", "target_mean", "target_std",
                   "task_type", "graph_spec", "symprec")


def load_checkpoint(
    path: str | os.PathLike, device: torch.device
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The trained model (eval mode, on ``device``) and its checkpoint, read weights-only.

    Checkpoints written before the graph spec was stored cannot rebuild the graphs: an error
    says which keys are missing.
    """
    ckpt = torch.load(path, map_location=device, weights_only=True)
    missing = [k for k in CHECKPOINT_KEYS if k not in ckpt]
    if missing:
        raise ValueError(f"{path}: checkpoint lacks {missing}; it was written by an older "
                         "crystalbench train, retrain to predict from it")
    params = json.loads(ckpt["model_params"])
    model = build_model(ckpt["architecture"], params)
    try:
        model.load_state_dict(ckpt["model"])
    except RuntimeError as err:
        raise ValueError(
            f"{path}: its weights do not fit the {ckpt['architecture']} that its parameters "
            f"{params} build with this crystalbench; a default has changed since it was trained "
            "(coGN/coNGN now default to `elements: reference`: add `elements: pymatgen` to "
            "the parameters of a model trained before, or retrain)") from err
    return model.to(device).eval(), ckpt


def read_cif(path: str | os.PathLike) -> Structure:
    """One CIF file as a ``Structure`` whose id is the file stem.

    A file pymatgen cannot parse, or one with several structures, comes back with
    ``problem`` set, as readers do for inputs they cannot convert faithfully.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pymatgen's parser warnings; failures raise
            structures = CifParser(path).parse_structures(primitive=False, on_error="raise")
    except Exception as exc:  # pymatgen raises ValueError, KeyError, IndexError, ...
        message = re.sub(r"\s+", " ", str(exc)).strip() or type(exc).__name__
        return rejected_structure(path.stem, f"cannot read CIF: {message}")
    if len(structures) != 1:
        return rejected_structure(path.stem, f"CIF holds {len(structures)} structures; give "
                                  "one per file")
    # no target to predict from: 0.0 is a placeholder that passes validation's target check
    return from_pymatgen(path.stem, structures[0], 0.0)


def cif_files(inputs: str | os.PathLike) -> list[Path]:
    """``inputs`` itself when it is a file, else the ``*.cif`` files of the folder, sorted."""
    inputs = Path(inputs)
    if not inputs.exists():
        raise FileNotFoundError(f"{inputs}: no such CIF file or folder")
    if inputs.is_file():
        return [inputs]
    files = sorted(p for p in inputs.iterdir() if p.is_file() and p.suffix.lower() == ".cif")
    if not files:
        raise ValueError(f"{inputs}: folder holds no *.cif files")
    stems = [p.stem for p in files]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        raise ValueError(f"{inputs}: file stems are the ids and must be unique: {duplicates}")
    return files


def predict_cifs(
    checkpoint: str | os.PathLike, inputs: str | os.PathLike, output: str | os.PathLike,
    device: str = "auto", batch_size: int = 64, min_distance: float = DEFAULT_MIN_DISTANCE,
) -> pd.DataFrame:
    """Predict the checkpoint's target for a CIF file or a folder of them; write a CSV.

    Columns: ``id`` (file stem), ``prediction`` (NaN for a rejected file; in the CSV its
    header carries the unit, e.g. ``prediction (eV/atom)``), ``error`` (the reason, empty when
    fine) and ``warning`` (why the prediction extrapolates, empty when it does not; checkpoints
    written before the training domain was stored give none). Files are processed
    ``batch_size`` at a time, so memory does not grow with the folder.
    """
    files = cif_files(inputs)
    dev = pick_device(device)
    model, ckpt = load_checkpoint(checkpoint, dev)
    spec = GraphSpec.from_config(json.loads(ckpt["graph_spec"]))
    symprec = float(ckpt["symprec"])
    classification = ckpt["task_type"] == "classification"
    mean, std = float(ckpt["target_mean"]), float(ckpt["target_std"])
    domain = json.loads(ckpt["training_domain"]) if "training_domain" in ckpt else None
    if domain is None:
        log.warning("%s stores no training domain (older crystalbench): predictions outside "
                    "it are not flagged", checkpoint)
    log.info("predicting %s (%s on %s graphs, symprec %g) for %d CIF files on %s",
             checkpoint, ckpt["architecture"], spec.representation, symprec, len(files), dev)

    rows: list[dict[str, Any]] = []
    progress = Progress(f"predict {Path(inputs).name}", len(files), log)
    for start in range(0, len(files), batch_size):
        chunk = files[start:start + batch_size]
        data, kept = [], []
        for path in chunk:
            structure = read_cif(path)
            reason = rejection_reason(structure, min_distance)
            if reason is None:
                sym = analyse_symmetry(structure.lattice, structure.frac_coords,
                                       structure.atomic_numbers, symprec)
                if sym.fallback:  # still predicted, on the P1 (cell) graph, as in training
                    log.warning("%s: no symmetry, P1 fallback (%s)", path, sym.error)
                try:
                    data.append(CRYSTAL_GRAPHS.to_data(build_graph(structure, sym, spec)))
                    kept.append(len(rows))
                except ValueError as exc:
                    reason = str(exc)
            warning = ""
            if reason is not None:
                log.warning("%s: rejected: %s", path, reason)
            elif domain is not None:
                warning = "; ".join(domain_warnings(structure, domain))
                if warning:
                    log.warning("%s: extrapolates: %s", path, warning)
            rows.append({"id": structure.id, "prediction": float("nan"),
                         "error": reason or "", "warning": warning})
        if data:
            with torch.no_grad():
                raw = torch.cat([model(batch.to(dev)).squeeze(-1).double().cpu()
                                 for batch in batches(data, np.arange(len(data)),
                                                      batch_size, None)])
            pred = (torch.sigmoid(raw) if classification else raw).numpy() * std + mean
            for row, value in zip(kept, pred, strict=True):
                rows[row]["prediction"] = float(value)
        progress.step(len(chunk))

    frame = pd.DataFrame(rows, columns=["id", "prediction", "error", "warning"])
    n_rejected = int((frame["error"] != "").sum())
    n_predicted = len(frame) - n_rejected
    assert n_predicted + n_rejected == len(files)
    unit = ckpt.get("unit", "") or ("probability" if classification else "")
    header = f"prediction ({unit})" if unit else "prediction"
    write_text(output, frame.rename(columns={"prediction": header}).to_csv(index=False))
    log.info("%s: %d predicted (%d with a warning), %d rejected (%d CIF files)", output,
             n_predicted, int((frame["warning"] != "").sum()), n_rejected, len(files))
    return frame
