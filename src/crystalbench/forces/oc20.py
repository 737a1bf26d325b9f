"""OC20 S2EF readers: ASE files (extxyz, .traj, ASE JSON db) and the pickled-PyG LMDBs.

The readers convert what is there and say what is not: missing forces become a frame
``problem`` (so the frame is rejected with that reason), unset tags become -1 with a warning
rather than being guessed, and raw DFT totals are flagged because OC20's S2EF targets
subtract a per-system reference energy these files do not carry.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crystalbench.forces.frames import Frame, frame_id, rejected_frame

log = logging.getLogger(__name__)

ASE_SUFFIXES = (".extxyz.gz", ".extxyz", ".xyz", ".traj", ".json")
RAW_ENERGY_WARNING = (
    "{dataset}: energies are raw DFT totals; OC20 S2EF targets subtract a per-system "
    "reference energy (adslab_ref_energies) that these files do not carry, so energy numbers "
    "are not comparable with published S2EF energy MAEs"
)
PICKLE_ERROR = (
    "{path}: OC20 LMDB entries are Python pickles, and unpickling can execute arbitrary code "
    "from the file. Load them only from a source you trust, by opting in with "
    "`allow_pickle: true` in the dataset config or `--allow-pickle` on the command line."
)


def _system_name(path: Path) -> str:
    """The file name without its ASE suffix: random1000120.traj -> random1000120."""
    name = path.name
    for suffix in ASE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _fixed_mask(atoms: Any, where: str) -> tuple[np.ndarray | None, str]:
    """FixAtoms and/or a ``fixed`` column -> (mask or None when neither, problem)."""
    from ase.constraints import FixAtoms

    n = len(atoms)
    from_constraint = None
    for c in atoms.constraints:
        if not isinstance(c, FixAtoms):
            return None, f"unsupported constraint {type(c).__name__} (only FixAtoms)"
        mask = np.zeros(n, dtype=bool)
        mask[c.get_indices()] = True
        from_constraint = mask if from_constraint is None else from_constraint | mask
    from_column = None
    if "fixed" in atoms.arrays:
        from_column = np.asarray(atoms.arrays["fixed"]).astype(bool).reshape(n)
    if from_constraint is not None and from_column is not None:
        differ = np.flatnonzero(from_constraint != from_column)
        if differ.size:
            return None, (f"{where}: FixAtoms constraint and 'fixed' column disagree on atoms "
                          f"{differ[:10].tolist()}")
    mask = from_constraint if from_constraint is not None else from_column
    return mask, ""


def _energy_forces(atoms: Any) -> tuple[float, np.ndarray | None]:
    """Raw labels: constrained atoms keep their DFT forces (apply_constraint=False)."""
    results = atoms.calc.results if atoms.calc is not None else {}
    if "energy" in results:
        energy = float(atoms.get_potential_energy())
    else:
        energy = float(atoms.info.get("energy", np.nan))
    if "forces" in results:
        forces = atoms.get_forces(apply_constraint=False)
    elif "forces" in atoms.arrays:
        forces = atoms.arrays["forces"]
    else:
        forces = None
    return energy, None if forces is None else np.array(forces, dtype=np.float64)


def _atoms_to_frame(atoms: Any, system: str, frame: int, where: str) -> tuple[Frame, bool]:
    """One ase.Atoms -> Frame; also returns whether fixed atoms were given at all."""
    n = len(atoms)
    problems = []
    energy, forces = _energy_forces(atoms)
    if forces is None:
        problems.append("no forces")
        forces = np.full((n, 3), np.nan)
    fixed, problem = _fixed_mask(atoms, where)
    if problem:
        problems.append(problem)
    has_fixed = fixed is not None
    if fixed is None:
        fixed = np.zeros(n, dtype=bool)
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if not pbc.all():
        axes = ", ".join("abc"[k] for k in np.flatnonzero(~pbc))
        problems.append(f"not periodic along cell vector(s) {axes}")
    f = Frame(
        id=frame_id(system, frame), system=system, frame=frame,
        lattice=np.array(atoms.cell[:], dtype=np.float64),
        positions=np.array(atoms.positions, dtype=np.float64),
        atomic_numbers=np.array(atoms.numbers, dtype=np.int64),
        tags=np.array(atoms.get_tags(), dtype=np.int8), fixed=fixed, energy=energy,
        forces=forces, problem="; ".join(problems),
    )
    return f, has_fixed


def read_ase_frames(
    paths: Sequence[str | os.PathLike],
    dataset: str,
    reference_energies: Mapping[str, float] | None = None,
) -> tuple[list[Frame], list[str]]:
    """Read S2EF frames from extxyz(.gz), .xyz, ASE .traj or ASE JSON db files.

    system = ``info["sid"]`` or the file name; frame = ``info["frame"]``/``info["fid"]`` or
    the frame's position among its system's frames in the file. Returns the frames and the
    warnings (also logged). With ``reference_energies`` every system's reference is
    subtracted; a system without one is an error, since mixed references would be silently
    wrong.
    """
    import ase.io

    frames: list[Frame] = []
    warnings: list[str] = []
    files_of: dict[str, list[str]] = defaultdict(list)
    for path in map(Path, paths):
        if not path.name.endswith(ASE_SUFFIXES):
            raise ValueError(f"{path}: not an ASE S2EF file (expected one of {ASE_SUFFIXES})")
        try:
            images = ase.io.read(path, ":")
        except Exception as exc:  # ase raises ValueError, EOFError, OSError, KeyError, ...
            raise ValueError(f"{path}: cannot read as an ASE S2EF file: "
                             f"{type(exc).__name__}: {exc}") from exc
        counter: dict[str, int] = defaultdict(int)
        without_fixed = 0
        for index, atoms in enumerate(images):
            system = str(atoms.info.get("sid", _system_name(path)))
            frame_key = next((k for k in ("frame", "fid") if k in atoms.info), None)
            frame = int(atoms.info[frame_key]) if frame_key else counter[system]
            counter[system] += 1
            try:
                f, has_fixed = _atoms_to_frame(atoms, system, frame,
                                               f"{path.name} frame {index}")
            except Exception as exc:  # one unreadable frame becomes a reject, not a crash
                f, has_fixed = rejected_frame(system, frame, f"{path.name} frame {index}: "
                                              f"{type(exc).__name__}: {exc}"), True
            without_fixed += not has_fixed
            frames.append(f)
            if path.name not in files_of[system]:
                files_of[system].append(path.name)
        if without_fixed:
            warnings.append(f"{path.name}: {without_fixed} of {len(images)} frames have no "
                            "FixAtoms constraint or 'fixed' column; all their atoms count as free")
        log.info("%s: read %d frames of %d systems from %s", dataset, len(images),
                 len(counter), path)

    by_system: dict[str, list[Frame]] = defaultdict(list)
    for f in frames:
        by_system[f.system].append(f)
    for system, group in by_system.items():
        files = ", ".join(files_of[system])
        if all(not np.any(f.tags) for f in group):
            for f in group:
                f.tags = np.full(f.n_atoms, -1, dtype=np.int8)
            warnings.append(f"{dataset}: system {system} ({files}): tags are not set (all 0); "
                            "they are marked unknown (-1), and tag-weighted losses will treat "
                            "all atoms alike")
        if _fixed_forces_all_zero(group):
            warnings.append(f"{dataset}: system {system} ({files}): forces on fixed atoms are "
                            "exactly 0 in every frame, so the file holds constrained forces, "
                            "not raw DFT forces; train and score on free atoms only")

    if reference_energies is None:
        warnings.append(RAW_ENERGY_WARNING.format(dataset=dataset))
    else:
        missing = sorted(set(by_system) - set(reference_energies))
        if missing:
            raise ValueError(f"{dataset}: no reference energy for system(s) {missing[:10]} "
                             f"({len(missing)} of {len(by_system)})")
        for f in frames:
            f.energy -= float(reference_energies[f.system])
    for w in warnings:
        log.warning(w)
    log.info("%s: %d frames of %d systems from %d files", dataset, len(frames), len(by_system),
             len(paths))
    return frames, warnings


def _fixed_forces_all_zero(group: Sequence[Frame]) -> bool:
    """True when a system has fixed atoms and every one of their force labels is exactly 0."""
    fixed_forces = [f.forces[f.fixed] for f in group if f.fixed.shape == (f.n_atoms,)]
    if not any(len(x) for x in fixed_forces):
        return False
    values = np.concatenate(fixed_forces)
    return bool(np.isfinite(values).all() and not values.any())


def _attributes(obj: Any) -> dict[str, Any]:
    """Fields of a PyG Data object: PyG 2 keeps them in ``_store``, PyG 1.x in ``__dict__``."""
    state = vars(obj)
    store = state.get("_store")
    if store is not None:
        return {k: store[k] for k in store.keys()}
    return {k: v for k, v in state.items() if not k.startswith("_") and v is not None}


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _data_to_frame(data: Any, fallback_system: str) -> Frame:
    """One OC20 S2EF PyG Data -> Frame (field names as written by ocp's AtomsToGraphs)."""
    a = _attributes(data)
    problems = []
    positions = _to_numpy(a.get("pos", np.zeros((0, 3)))).astype(np.float64).reshape(-1, 3)
    n = len(positions)
    z = _to_numpy(a.get("atomic_numbers", np.zeros(0))).astype(np.float64).reshape(-1)
    numbers = np.rint(z).astype(np.int64)
    if not np.array_equal(numbers, z):
        problems.append("atomic_numbers are not integers")
    if "natoms" in a and int(_to_numpy(a["natoms"]).reshape(-1)[0]) != n:
        problems.append(f"natoms {int(_to_numpy(a['natoms']).reshape(-1)[0])} but {n} positions")
    lattice = _to_numpy(a["cell"]).astype(np.float64).reshape(3, 3) if "cell" in a else None
    if lattice is None:
        problems.append("no cell")
        lattice = np.full((3, 3), np.nan)
    if "force" in a:
        forces = _to_numpy(a["force"]).astype(np.float64).reshape(-1, 3)
    else:
        problems.append("no forces")
        forces = np.full((n, 3), np.nan)
    tags = _to_numpy(a["tags"]).astype(np.int8).reshape(-1) if "tags" in a else np.full(n, -1)
    fixed = (_to_numpy(a["fixed"]).reshape(-1) != 0) if "fixed" in a else np.zeros(n, bool)
    energy = float(_to_numpy(a["y"]).reshape(-1)[0]) if a.get("y") is not None else np.nan
    system = fallback_system
    if "sid" in a:  # an int in the S2EF LMDBs; accept a string id as well
        sid = a["sid"]
        system = sid if isinstance(sid, str) else str(int(_to_numpy(sid).reshape(-1)[0]))
    frame = int(_to_numpy(a["fid"]).reshape(-1)[0]) if "fid" in a else 0
    return Frame(
        id=frame_id(system, frame), system=system, frame=frame, lattice=lattice,
        positions=positions, atomic_numbers=numbers, tags=np.asarray(tags, dtype=np.int8),
        fixed=fixed, energy=energy, forces=forces, problem="; ".join(problems),
    )


def read_lmdb_frames(path: str | os.PathLike, allow_pickle: bool) -> list[Frame]:
    """Read OC20 S2EF LMDBs (a ``.lmdb`` file, or a folder of ``data.NNNN.lmdb`` files).

    Entries are pickled torch_geometric Data objects, so ``allow_pickle`` must be True.
    ``y`` is taken as the energy as stored: whether a reference energy was subtracted
    depends on how the LMDB was made (ocp's --ref-energy) and is not recorded in it.
    """
    path = Path(path)
    if not allow_pickle:
        raise ValueError(PICKLE_ERROR.format(path=path))
    try:
        import lmdb
    except ImportError as exc:
        raise ImportError("reading OC20 LMDBs needs the lmdb package: pip install lmdb") from exc
    files = sorted(path.glob("*.lmdb")) if path.is_dir() else [path]
    if not files:
        raise FileNotFoundError(f"{path}: no *.lmdb files")
    frames: list[Frame] = []
    for file in files:
        env = lmdb.open(str(file), subdir=False, readonly=True, lock=False, readahead=False,
                        meminit=False)
        try:
            with env.begin() as txn:
                keys = [k for k in txn.cursor().iternext(values=False) if k != b"length"]
                bad = [k for k in keys if not k.isdigit()]
                if bad:
                    raise ValueError(f"{file}: unexpected keys {bad[:5]} (expected ascii ints)")
                for key in sorted(keys, key=int):
                    fallback = f"{file.stem}-{key.decode()}"
                    try:
                        data = pickle.loads(txn.get(key))  # noqa: S301 - opted in above
                        frames.append(_data_to_frame(data, fallback))
                    except Exception as exc:  # one broken entry becomes a reject
                        frames.append(rejected_frame(fallback, 0, f"{file.name} entry "
                                                     f"{key.decode()}: {type(exc).__name__}: "
                                                     f"{exc}"))
        finally:
            env.close()
        log.info("%s: read %d frames", file, len(keys))
    return frames
