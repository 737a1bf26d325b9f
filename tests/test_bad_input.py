"""Awkward and broken inputs through the real CLI steps: nothing crashes, every bad row is a
reject with its id and a reason, counts reconcile, and the good rows come out exactly as from
a file without the bad ones (with ASU == cell on their graphs).

Crystals go through ``structures -> symmetry -> graphs``; S2EF frames through
``s2ef-frames``. Config mistakes are covered by ``test_config_check.py``.
"""

from __future__ import annotations

import copy
import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.constraints import FixAtoms
from conftest import require_data
from pymatgen.core import Lattice
from pymatgen.core import Structure as PmgStructure

from crystalbench.crystal.graphs import (
    CRYSTAL_GRAPHS,
    GraphSpec,
    asu_graph,
    build_graph,
    select_edges,
)
from crystalbench.crystal.structures import read_structure_table
from crystalbench.crystal.symmetry import analyse_symmetry

MATBENCH_ENTRY = json.dumps({"source": "matbench", "quantity": "exfoliation energy",
                             "unit": "meV/atom"})
GRAPH_SPECS = {"asu-knn24": {"representation": "asu", "edges": "knn", "k": 24},
               "cell-knn24": {"representation": "cell", "edges": "knn", "k": 24}}


def cli(*args: str) -> subprocess.CompletedProcess:
    """Run ``crystalbench`` in a subprocess, as the workflow does; fail with its stderr."""
    result = subprocess.run([sys.executable, "-m", "crystalbench", *args], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def crystal(species: list, coords: list, a: float = 4.0, lattice=None) -> dict:
    lattice = lattice if lattice is not None else Lattice.cubic(a)
    return PmgStructure(lattice, species, coords).as_dict()


def good_rows() -> list[tuple[str, dict, object]]:
    """(case, structure dict, target) that must be kept."""
    nacl = crystal(["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]], 5.6)
    ions = copy.deepcopy(nacl)  # species with oxidation states, as some MatBench rows have
    ions["sites"][0]["species"][0]["oxidation_state"] = 1
    ions["sites"][1]["species"][0]["oxidation_state"] = -1
    return [
        ("rocksalt", nacl, 1.5),
        ("oxidation states", ions, 2.0),
        ("one atom", crystal(["Cu"], [[0, 0, 0]], 2.5), -0.5),
        ("coordinates outside the cell", crystal(["Si", "Si"], [[1.0, 2.0, -1.0],
                                                               [0.25, 5.25, 0.25]], 5.4), 3),
        ("skewed cell", crystal(["Al", "Ni"], [[0, 0, 0], [0.5, 0.5, 0.5]], lattice=Lattice(
            [[3.0, 0, 0], [2.9, 0.8, 0], [0.1, 0.2, 3.1]])), 0.25),
        ("integer target", crystal(["Mg", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]], 4.2), 7),
        ("boolean target", crystal(["Fe"], [[0, 0, 0]], 2.9), True),
    ]


def bad_rows() -> list[tuple[str, object, str]]:
    """(case, raw row, pattern of the reject reason)."""
    ok = crystal(["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]], 5.6)

    def edited(edit) -> dict:
        d = copy.deepcopy(ok)
        edit(d)
        return d

    def species(symbol: str):
        return lambda d: d["sites"][1]["species"][0].update(element=symbol)

    def occupancy(d):
        d["sites"][1]["species"][0]["occu"] = 0.5

    return [
        ("no sites", [edited(lambda d: d.update(sites=[])), 1.0], "has no sites"),
        ("dummy species", [edited(species("X0+")), 1.0], r"site 1: 'X0\+' is not a chemical"),
        ("unknown element", [edited(species("Xx")), 1.0], "site 1: 'Xx' is not a chemical"),
        ("site without species", [edited(lambda d: d["sites"][0].update(species=[])), 1.0],
         "site 0 has no species"),
        ("null target (pandas' NaN)", [ok, None], r"target is missing \(null\)"),
        ("string target", [ok, "abc"], "target 'abc' is not a number"),
        ("list target", [ok, [1.0]], r"target \[1.0\] is not a number"),
        ("NaN target", [ok, float("nan")], "target is NaN or infinite"),
        ("infinite target", [ok, float("inf")], "target is NaN or infinite"),
        ("partial occupancy", [edited(occupancy), 1.0], "disordered sites"),
        ("no lattice", [edited(lambda d: d.pop("lattice")), 1.0], "pymatgen cannot read"),
        ("structure is a string", ["NaCl", 1.0], "not a pymatgen dict"),
        ("row of three", [ok, 1.0, 2.0], r"not a \[structure, target\] pair"),
        ("singular lattice", [crystal(["Cu", "Cu"], [[0, 0, 0], [0.5, 0.5, 0.5]], lattice=Lattice(
            [[3, 0, 0], [3, 0, 0], [0, 0, 3]])), 1.0], "singular lattice"),
        ("atoms on top of each other", [crystal(["Cu", "Cu"], [[0, 0, 0], [0.01, 0, 0]]), 1.0],
         r"atoms 0 and 1 are 0\.0400 Å apart"),
        ("atom on its own image", [crystal(["Cu"], [[0, 0, 0]], 0.4), 1.0],
         "its own periodic image"),
        ("NaN coordinate", [edited(lambda d: d["sites"][1].update(
            abc=[float("nan"), 0.5, 0.5], xyz=[float("nan"), 2.8, 2.8])), 1.0],
         "NaN or infinite coordinates"),
    ]


def write_matbench(path: Path, rows: list) -> Path:
    path.parent.mkdir(parents=True)
    with gzip.open(path, "wt") as handle:
        json.dump({"index": list(range(len(rows))), "columns": ["structure", "e_form"],
                   "data": rows}, handle)
    return path


def run_steps(folder: Path, dataset: Path) -> tuple[Path, dict[str, Path]]:
    """structures, symmetry and both graphs; returns (structures, graphs by name)."""
    record = folder / "record.json"
    record.write_text(json.dumps({"sha256": "test", "verified": False}))
    structures, rejects = folder / "s.parquet", folder / "s.rejects.parquet"
    cli("structures", "--dataset", "matbench_jdft2d", "--entry", MATBENCH_ENTRY, "--files",
        f"data={dataset}", f"record={record}", "--out", str(structures), "--rejects",
        str(rejects), "--min-distance", "0.5")
    cli("symmetry", "--structures", str(structures), "--out", str(folder / "y.parquet"),
        "--symprec", "1e-4")
    graphs = {}
    for name, spec in GRAPH_SPECS.items():
        graphs[name] = folder / f"{name}.parquet"
        cli("graphs", "--structures", str(structures), "--symmetry", str(folder / "y.parquet"),
            "--out", str(graphs[name]), "--spec", json.dumps(spec), "--dataset", "t",
            "--name", name)
    return structures, graphs


@pytest.fixture(scope="module")
def mixed_and_clean(tmp_path_factory):
    """The same good rows once with every bad row interleaved, once alone."""
    real = json.loads(gzip.open(require_data("matbench/matbench_jdft2d.json.gz"), "rt").read())
    good = [[d, t] for _, d, t in good_rows()] + real["data"][:12]
    bad = bad_rows()
    mixed, bad_at = [], {}
    for i, row in enumerate(good):
        mixed.append(row)
        if i < len(bad):
            bad_at[len(mixed)] = bad[i]
            mixed.append(bad[i][1])
    for case in bad[len(good):]:
        bad_at[len(mixed)] = case
        mixed.append(case[1])
    root = tmp_path_factory.mktemp("bad_input")
    out = {}
    for name, rows in (("mixed", mixed), ("clean", good)):
        dataset = write_matbench(root / name / "matbench_jdft2d.json.gz", rows)
        out[name] = run_steps(root / name, dataset)
    return out, bad_at, len(mixed), len(good)


def test_every_bad_row_is_rejected_with_its_id_and_reason(mixed_and_clean):
    out, bad_at, n_mixed, n_good = mixed_and_clean
    structures, _ = out["mixed"]
    rejects = pd.read_parquet(structures.with_name("s.rejects.parquet")).set_index("id")
    width = len(str(n_mixed))
    assert len(rejects) == len(bad_at) >= 17
    for row, (case, _, pattern) in bad_at.items():
        sid = f"mb-jdft2d-{row + 1:0{width}d}"
        assert sid in rejects.index, case
        assert pd.Series([rejects.loc[sid, "reason"]]).str.contains(pattern).all(), (
            case, rejects.loc[sid, "reason"])
    meta = json.loads(pq.read_schema(structures).metadata[b"crystalbench"])
    assert meta["n_input"] == n_mixed and meta["n_kept"] == n_good
    assert meta["n_kept"] + meta["n_rejected"] == meta["n_input"]


def test_good_rows_give_the_graphs_of_a_file_without_the_bad_rows(mixed_and_clean):
    out = mixed_and_clean[0]
    for name in GRAPH_SPECS:
        mixed = CRYSTAL_GRAPHS.read(out["mixed"][1][name])
        clean = CRYSTAL_GRAPHS.read(out["clean"][1][name])
        assert len(mixed) == len(clean) > 0
        for column in CRYSTAL_GRAPHS.columns[1:]:  # ids number the input rows: they differ
            assert mixed.has(column.name) == clean.has(column.name), (name, column.name)
            if mixed.has(column.name):
                assert np.array_equal(mixed.column(column.name), clean.column(column.name)), (
                    name, column.name)
        for level, offsets in mixed.offsets.items():
            assert np.array_equal(offsets, clean.offsets[level]), (name, level)


def test_kept_rows_satisfy_asu_equals_cell(mixed_and_clean):
    out = mixed_and_clean[0]
    structures = read_structure_table(out["mixed"][0])
    asu_table = CRYSTAL_GRAPHS.read(out["mixed"][1]["asu-knn24"])
    spec = GraphSpec("asu", "knn", k=24)
    for i, s in enumerate(structures):
        sym = analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
        full = asu_graph(s.id, s.atomic_numbers, select_edges(sym.lattice, sym.frac_coords, spec),
                         sym.orbit, s.target)
        cached = asu_table.graph(i)
        assert cached.multiplicity.sum() == s.n_atoms, s.id
        assert np.array_equal(cached.edge_src, full.edge_src), s.id
        assert np.array_equal(cached.edge_dst, full.edge_dst), s.id
        assert np.allclose(cached.edge_vec, full.edge_vec, atol=1e-9), s.id
        assert np.array_equal(build_graph(s, sym, spec).multiplicity, cached.multiplicity)


def test_unreadable_matbench_file_names_the_file(tmp_path):
    good = write_matbench(tmp_path / "a" / "matbench_jdft2d.json.gz",
                          [[d, t] for _, d, t in good_rows()])
    truncated = tmp_path / "b" / "matbench_jdft2d.json.gz"
    truncated.parent.mkdir()
    truncated.write_bytes(good.read_bytes()[:-40])
    record = tmp_path / "r.json"
    record.write_text(json.dumps({"sha256": "t", "verified": False}))
    result = subprocess.run([sys.executable, "-m", "crystalbench", "structures", "--dataset",
                             "matbench_jdft2d", "--entry", MATBENCH_ENTRY, "--files",
                             f"data={truncated}", f"record={record}", "--out",
                             str(tmp_path / "s.parquet"), "--rejects", str(tmp_path / "r.parquet"),
                             "--min-distance", "0.5"],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert f"{truncated}: cannot read a gzipped MatBench JSON file" in result.stderr
    assert not (tmp_path / "s.parquet").exists()


def frame(symbols: str, forces=True, pbc=True, tags=None, nan_force=False, sid="s") -> Atoms:
    n = len(Atoms(symbols))
    atoms = Atoms(symbols, positions=[[2.0 * k, 1.5 * k, 1.0 + k] for k in range(n)],
                  cell=[9, 9, 9], pbc=pbc)
    atoms.set_tags(tags if tags is not None else [0] + [1] * (len(atoms) - 2) + [2])
    atoms.set_constraint(FixAtoms(indices=[0]))
    atoms.info["sid"] = sid
    if forces:
        f = np.random.default_rng(1).normal(size=(len(atoms), 3))
        if nan_force:
            f[1, 0] = np.nan
        atoms.calc = SinglePointCalculator(atoms, energy=-1.0, forces=f)
    return atoms


def test_bad_frames_are_rejected_and_the_rest_kept(tmp_path):
    import ase.io

    cases = [  # (atoms, pattern of the reason or None when kept)
        (frame("CuCuO", sid="good-1"), None),
        (frame("PtPtPtH", sid="good-2"), None),
        (frame("CuCuO", forces=False, sid="no-forces"), "no forces"),
        (frame("CuCuO", pbc=[True, True, False], sid="slab-not-periodic"),
         "not periodic along cell vector"),
        (frame("CuCuO", nan_force=True, sid="nan-force"), "atom 1 has NaN or infinite forces"),
        (frame("CuCuO", tags=[0, 1, 5], sid="bad-tag"), "atom 2 has tag 5"),
    ]
    path = tmp_path / "frames.extxyz"
    ase.io.write(path, [a for a, _ in cases])
    out, rejects = tmp_path / "f.parquet", tmp_path / "f.rejects.parquet"
    cli("s2ef-frames", "--dataset", "t", "--source", "oc20", "--files", str(path),
        "--out", str(out), "--rejects", str(rejects))
    kept = pd.read_parquet(out, columns=["system"])
    rejected = pd.read_parquet(rejects)
    assert sorted(kept["system"]) == ["good-1", "good-2"]
    assert len(kept) + len(rejected) == len(cases)
    reasons = dict(zip(rejected["id"].str.split("/").str[0], rejected["reason"], strict=True))
    for atoms, pattern in cases:
        if pattern is not None:
            assert pattern in reasons[atoms.info["sid"]], (atoms.info["sid"], reasons)


def test_unreadable_frame_file_names_the_file(tmp_path):
    path = tmp_path / "broken.extxyz"
    path.write_text("3\nLattice=\"9 0 0 0 9 0 0 0 9\" Properties=species:S:1:pos:R:3\nCu 0 0\n")
    result = subprocess.run([sys.executable, "-m", "crystalbench", "s2ef-frames", "--dataset",
                             "t", "--source", "oc20", "--files", str(path), "--out",
                             str(tmp_path / "f.parquet"), "--rejects", str(tmp_path / "r.parquet")],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert f"{path}: cannot read as an ASE S2EF file" in result.stderr


def test_cif_with_an_unknown_element_is_rejected_by_name(tmp_path):
    from crystalbench.crystal.predict import read_cif
    from crystalbench.crystal.structures import rejection_reason

    good = tmp_path / "nacl.cif"
    PmgStructure(Lattice.cubic(5.6), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]).to(
        filename=str(good))
    unknown = tmp_path / "xx.cif"
    unknown.write_text(good.read_text().replace("Cl", "Xx"))
    assert rejection_reason(read_cif(good)) is None
    assert rejection_reason(read_cif(unknown)) == "site 0: 'Xx0+' is not a chemical element"
