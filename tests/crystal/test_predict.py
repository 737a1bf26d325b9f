import json
import logging
import re

import numpy as np
import pandas as pd
import pytest
import torch
from pymatgen.core import Structure as PmgStructure
from scipy.spatial.transform import Rotation

import crystalbench
from crystalbench.cli import main
from crystalbench.core.training import batches
from crystalbench.crystal.graphs import CRYSTAL_GRAPHS, GraphSpec, build_graph, graph_metadata
from crystalbench.crystal.predict import predict_cifs
from crystalbench.crystal.splits import write_splits
from crystalbench.crystal.symmetry import analyse_symmetry
from crystalbench.crystal.train import TrainConfig, train_fold
from crystalbench.models import build_model

PARAMS = {"width": 16, "blocks": 2, "edge_mlp_depth": 2, "node_mlp_depth": 1}


def train_tiny(folder, structures, classification=False):
    """A 2-epoch coGN on ASU kNN-12 graphs of ``structures``; returns its checkpoint path."""
    spec = GraphSpec("asu", k=12)
    graphs = [build_graph(s, analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers), spec)
              for s in structures]
    meta = graph_metadata(spec, 1e-4, "demo", "asu-knn12")
    meta["dataset_info"] = {"unit": "eV/atom"}
    if classification:
        median = np.median([g.target for g in graphs])
        for g in graphs:
            g.target = float(g.target > median)
        meta["dataset_info"] = {"task_type": "classification"}
    CRYSTAL_GRAPHS.write(iter(graphs), folder / "g.parquet", meta, len(graphs))
    write_splits([s.id for s in structures], folder / "s.parquet")
    train_fold(folder / "g.parquet", folder / "s.parquet", 0, "cogn", PARAMS,
               TrainConfig(epochs=2, batch_size=16, lr=1e-3), folder / "run")
    return folder / "run" / "checkpoint.pt"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, demo_structures):
    return train_tiny(tmp_path_factory.mktemp("predict"), demo_structures[::4])


def to_pymatgen(s):
    return PmgStructure(s.lattice, s.atomic_numbers.tolist(), s.frac_coords)


def write_cifs(folder, structures):
    folder.mkdir(exist_ok=True)
    for s in structures:
        to_pymatgen(s).to(filename=str(folder / f"{s.id}.cif"))
    return folder


def expected(checkpoint, structures):
    """The model's predictions on graphs built the usual way (no CIF round trip)."""
    ckpt = torch.load(checkpoint, weights_only=True)
    spec = GraphSpec(**json.loads(ckpt["graph_spec"]))
    model = build_model(ckpt["architecture"], json.loads(ckpt["model_params"]))
    model.load_state_dict(ckpt["model"])
    model.eval()
    data = [CRYSTAL_GRAPHS.to_data(build_graph(
        s, analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers, ckpt["symprec"]), spec))
        for s in structures]
    with torch.no_grad():
        raw = torch.cat([model(b).squeeze(-1).double()
                         for b in batches(data, np.arange(len(data)), 8, None)])
    if ckpt["task_type"] == "classification":
        raw = torch.sigmoid(raw)
    return dict(zip([s.id for s in structures],
                    raw.numpy() * ckpt["target_std"] + ckpt["target_mean"], strict=True))


@pytest.fixture(scope="module")
def sample(demo_structures):
    """Structures of many kinds: symmetric bulk, strained, slabs, substituted, rattled."""
    return demo_structures[1::23]


def test_predictions_equal_the_models_on_the_usual_graphs(checkpoint, sample, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="crystalbench.crystal.predict"):
        frame = predict_cifs(checkpoint, write_cifs(tmp_path / "cifs", sample),
                             tmp_path / "out.csv")
    assert re.search(rf"{len(sample)} predicted \(\d+ with a warning\), 0 rejected", caplog.text)
    assert frame["id"].tolist() == sorted(s.id for s in sample)
    assert (frame["error"] == "").all()
    want = expected(checkpoint, sample)
    spread = np.std(list(want.values()))
    for sid, value in zip(frame["id"], frame["prediction"], strict=True):
        assert value == pytest.approx(want[sid], rel=1e-5, abs=1e-5 * spread), sid
    saved = pd.read_csv(tmp_path / "out.csv", keep_default_na=False,
                        dtype={"id": str, "error": str})
    assert saved["id"].tolist() == frame["id"].tolist()
    np.testing.assert_allclose(saved["prediction (eV/atom)"].astype(float),
                               frame["prediction"], rtol=1e-12)
    # the checkpoint saw a quarter of the demo: a sample structure may hold an element it
    # never saw, and then says so
    assert all(w == "" or w.startswith("elements absent from training: ")
               for w in frame["warning"])


def test_moved_rebased_and_supercell_copies_predict_the_same(checkpoint, sample, tmp_path):
    """The model is invariant and reads out a (multiplicity-weighted) mean over atoms, so
    rigid motions, a permutation, a change of cell basis and a supercell change nothing.
    (A CIF keeps only cell lengths and angles, so the rotation itself does not survive the
    file; translation, permutation, the new basis and the supercell do.)"""
    folder = tmp_path / "cifs"
    folder.mkdir()
    rng = np.random.default_rng(7)
    originals = sample
    for s in originals:
        pmg = to_pymatgen(s)
        pmg.to(filename=str(folder / f"{s.id}.cif"))
        rotation = Rotation.random(random_state=rng).as_matrix()
        order = rng.permutation(len(pmg))
        moved = PmgStructure(pmg.lattice.matrix @ rotation.T,
                             [pmg.species[i] for i in order],
                             (pmg.frac_coords[order] + rng.random(3)) % 1.0)
        moved.to(filename=str(folder / f"{s.id}__moved.cif"))
        a, b, c = pmg.lattice.matrix
        rebased = PmgStructure(np.array([a + b, b, c]), pmg.species, pmg.cart_coords,
                               coords_are_cartesian=True)
        rebased.to(filename=str(folder / f"{s.id}__rebased.cif"))
        (pmg * (2, 1, 1)).to(filename=str(folder / f"{s.id}__supercell.cif"))
    frame = predict_cifs(checkpoint, folder, tmp_path / "out.csv").set_index("id")
    assert (frame["error"] == "").all() and len(frame) == 4 * len(originals)
    spread = frame["prediction"].std()
    for s in originals:
        for variant in ("moved", "rebased", "supercell"):
            assert frame.loc[f"{s.id}__{variant}", "prediction"] == pytest.approx(
                frame.loc[s.id, "prediction"], rel=1e-5, abs=1e-5 * spread), (s.id, variant)


def test_unreadable_and_rejected_cifs_get_error_rows(checkpoint, sample, tmp_path, caplog):
    folder = write_cifs(tmp_path / "cifs", sample[:2])
    (folder / "garbage.cif").write_text("this is not a CIF file\n")
    close = PmgStructure(np.eye(3) * 4.0, ["Cu", "Cu"], [[0, 0, 0], [0.075, 0, 0]])
    close.to(filename=str(folder / "close.cif"))
    (folder / "notes.txt").write_text("not a CIF, ignored")
    with caplog.at_level(logging.INFO, logger="crystalbench.crystal.predict"):
        frame = predict_cifs(checkpoint, folder, tmp_path / "out.csv")
    frame = frame.set_index("id")
    assert len(frame) == 4
    assert frame.loc["garbage", "error"].startswith("cannot read CIF")
    assert "are 0.3000 Å apart" in frame.loc["close", "error"]
    assert frame.loc[["garbage", "close"], "prediction"].isna().all()
    assert frame.loc[[s.id for s in sample[:2]], "prediction"].notna().all()
    assert "garbage.cif: rejected: cannot read CIF" in caplog.text
    assert "close.cif: rejected: atoms 0 and 1" in caplog.text
    assert "2 predicted (0 with a warning), 2 rejected (4 CIF files)" in caplog.text


def test_missing_input_and_empty_folder_are_clear_errors(checkpoint, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such CIF file or folder"):
        predict_cifs(checkpoint, tmp_path / "nowhere", tmp_path / "out.csv")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no \\*.cif files"):
        predict_cifs(checkpoint, tmp_path / "empty", tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_classification_checkpoint_predicts_probabilities(tmp_path, demo_structures, sample):
    checkpoint = train_tiny(tmp_path, demo_structures[::8], classification=True)
    frame = predict_cifs(checkpoint, write_cifs(tmp_path / "cifs", sample[:4]),
                         tmp_path / "out.csv")
    want = expected(checkpoint, sample[:4])
    assert frame["prediction"].between(0, 1).all()
    for sid, value in zip(frame["id"], frame["prediction"], strict=True):
        assert value == pytest.approx(want[sid], rel=1e-5), sid


def test_cli_predict_runs_end_to_end(checkpoint, sample, tmp_path):
    cif = write_cifs(tmp_path / "cifs", sample[:1]) / f"{sample[0].id}.cif"
    main(["predict", "--checkpoint", str(checkpoint), "--input", str(cif),
          "--output", str(tmp_path / "one.csv"), "--device", "cpu"])
    saved = pd.read_csv(tmp_path / "one.csv", keep_default_na=False, dtype={"error": str})
    assert saved.columns.tolist() == ["id", "prediction (eV/atom)", "error", "warning"]
    assert saved["id"].tolist() == [sample[0].id] and saved["error"].tolist() == [""]
    want = expected(checkpoint, sample)
    spread = np.std(list(want.values()))  # a prediction near 0 needs an absolute tolerance
    assert float(saved["prediction (eV/atom)"][0]) == pytest.approx(
        want[sample[0].id], rel=1e-5, abs=1e-5 * spread)



def test_structures_outside_the_training_domain_are_predicted_with_a_warning(
        checkpoint, sample, tmp_path, caplog):
    """NaCl (elements the demo never has) and a 4x4x4 supercell (far more atoms than any
    training cell) are predicted, and flagged in the log and in the CSV."""
    salt = PmgStructure.from_spacegroup("Fm-3m", [[5.64, 0, 0], [0, 5.64, 0], [0, 0, 5.64]],
                                        ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    folder = write_cifs(tmp_path / "cifs", sample[:1])
    salt.to(filename=str(folder / "salt.cif"))
    big = to_pymatgen(sample[0]) * (4, 4, 4)
    big.to(filename=str(folder / "big.cif"))
    with caplog.at_level(logging.WARNING, logger="crystalbench.crystal.predict"):
        frame = predict_cifs(checkpoint, folder, tmp_path / "out.csv").set_index("id")
    assert frame.loc["salt", "warning"] == "elements absent from training: Na, Cl"
    assert re.fullmatch(r"\d+ atoms per cell, training had \d+-\d+", frame.loc["big", "warning"])
    assert frame.loc[sample[0].id, "warning"] == ""
    assert frame["prediction"].notna().all() and (frame["error"] == "").all()
    assert "salt.cif: extrapolates: elements absent from training: Na, Cl" in caplog.text
    saved = pd.read_csv(tmp_path / "out.csv", keep_default_na=False).set_index("id")
    assert saved.loc["salt", "warning"] == frame.loc["salt", "warning"]


@pytest.mark.parametrize("problem", ["missing input", "empty folder", "missing checkpoint"])
def test_cli_predict_bad_input_exits_2_with_one_line(checkpoint, tmp_path, capsys, problem):
    (tmp_path / "empty").mkdir()
    args = {"missing input": (checkpoint, tmp_path / "nowhere"),
            "empty folder": (checkpoint, tmp_path / "empty"),
            "missing checkpoint": (tmp_path / "none.pt", tmp_path / "empty")}[problem]
    with pytest.raises(SystemExit) as stopped:
        main(["predict", "--checkpoint", str(args[0]), "--input", str(args[1]),
              "--output", str(tmp_path / "out.csv")])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("crystalbench predict: error: "), err


def test_version(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.strip() == f"crystalbench {crystalbench.__version__}"
