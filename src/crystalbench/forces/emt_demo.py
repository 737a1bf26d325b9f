"""Offline S2EF demo data: small adsorbate-on-slab systems labelled with ASE's EMT.

OC20 cannot be downloaded offline, so the S2EF pipeline runs end to end on these instead.
EMT covers Al, Cu, Ag, Au, Ni, Pd, Pt and (its own docs say: not for serious use) H, C, N,
O, so the energies and forces are physically crude, but they are a smooth, exact labelling
function that a force model can learn. Each system contributes the frames of a short BFGS
relaxation plus snapshots of a seeded Langevin MD run, like OC20's relaxation + MD frames.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from crystalbench.forces.frames import Frame, frame_id

if TYPE_CHECKING:
    from ase import Atoms

log = logging.getLogger(__name__)

METALS = ("Cu", "Ag", "Au", "Ni", "Pd", "Pt", "Al")
ADSORBATES = ("H", "C", "N", "O")
SITES = {"111": ("ontop", "bridge", "fcc", "hcp"), "100": ("ontop", "bridge", "hollow")}
SIZES = ((2, 2, 3), (2, 2, 4), (3, 3, 3))  # 12, 16, 27 slab atoms
MAX_INITIAL_FORCE = 10.0  # eV/Å
VACUUM = 6.0  # Å each side: ample for EMT's cutoff, small enough to keep cells compact


def _build_system(rng: np.random.Generator, metal: str, adsorbate: str) -> tuple[Atoms, str]:
    """A slab with one adsorbate; returns (atoms with EMT attached, system label)."""
    from ase.build import add_adsorbate, fcc100, fcc111
    from ase.calculators.emt import EMT
    from ase.constraints import FixAtoms

    facet = str(rng.choice(list(SITES)))
    size = SIZES[int(rng.integers(len(SIZES)))]
    build = fcc111 if facet == "111" else fcc100
    slab = build(metal, size=size, vacuum=VACUUM, periodic=True)
    layer = slab.get_tags()  # ase: 1 = top layer ... n = bottom layer
    fixed = layer > 2  # the top two layers relax, the rest is bulk-like and fixed
    site = str(rng.choice(SITES[facet]))
    add_adsorbate(slab, adsorbate, height=float(rng.uniform(1.4, 2.2)), position=site,
                  offset=tuple(rng.uniform(0, 0.15, 2)))  # off the symmetric site
    tags = np.concatenate([np.where(fixed, 0, 1), [2]]).astype(np.int8)
    slab.set_tags(tags)
    slab.set_constraint(FixAtoms(mask=np.concatenate([fixed, [False]])))
    slab.calc = EMT()
    # a random placement can sit deep in the repulsive wall (tens of eV/Å), which would
    # dominate a force loss on a demo this small: lift the adsorbate until forces are sane
    while np.abs(slab.get_forces(apply_constraint=False)).max() > MAX_INITIAL_FORCE:
        slab.positions[-1, 2] += 0.1
    return slab, f"{metal}{facet}-{adsorbate}"


def _snapshot(atoms: Atoms, system: str, index: int) -> Frame:
    return Frame(
        id=frame_id(system, index), system=system, frame=index,
        lattice=np.array(atoms.cell[:], dtype=np.float64),
        positions=atoms.positions.copy(), atomic_numbers=atoms.numbers.astype(np.int64),
        tags=atoms.get_tags().astype(np.int8),
        fixed=np.isin(np.arange(len(atoms)), atoms.constraints[0].get_indices()),
        energy=float(atoms.get_potential_energy()),
        forces=np.array(atoms.get_forces(apply_constraint=False), dtype=np.float64),
    )


def _thermalize(
    vd: ModuleType, atoms: Atoms, temperature_k: float, rng: np.random.Generator
) -> None:
    """Maxwell-Boltzmann momenta; ASE 3.29 renamed the function and deprecated the old name."""
    if hasattr(vd, "thermalize_momenta"):
        vd.thermalize_momenta(atoms, temperature_k, rng=rng)
    else:
        vd.MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_k, rng=rng)


def generate_emt_frames(
    seed: int = 0,
    n_systems: int = 12,
    relax_steps: int = 10,
    md_steps: int = 70,
    md_interval: int = 5,
    temperature_k: float = 500.0,
) -> Iterator[Frame]:
    """Yield EMT-labelled frames; the same arguments give bit-identical frames.

    Each system gives ``relax_steps + 1 + md_steps // md_interval`` frames (25 by default):
    the start and every BFGS step (run to exactly ``relax_steps``, no early stop, so the count
    is fixed), then every ``md_interval``-th step of Langevin MD at ``temperature_k``.
    Tags follow OC20: fixed slab atoms 0, free slab atoms 1, the adsorbate 2.
    """
    from ase import units
    from ase.md import velocitydistribution
    from ase.md.langevin import Langevin
    from ase.optimize import BFGS

    rng = np.random.default_rng(seed)
    for k in range(n_systems):
        # metals and adsorbates cycle (7 x 4 distinct pairs), so 12 systems cover them all
        metal, adsorbate = METALS[k % len(METALS)], ADSORBATES[k % len(ADSORBATES)]
        atoms, label = _build_system(rng, metal, adsorbate)
        system = f"emt-{label}-{k:02d}"
        frames = [_snapshot(atoms, system, 0)]
        opt = BFGS(atoms, logfile=None)
        for _ in opt.irun(fmax=0.0, steps=relax_steps):
            if opt.nsteps > 0:
                frames.append(_snapshot(atoms, system, len(frames)))
        md_rng = np.random.default_rng(rng.integers(2**63))
        _thermalize(velocitydistribution, atoms, temperature_k, md_rng)
        md = Langevin(atoms, timestep=1.0 * units.fs, temperature_K=temperature_k,
                      friction=0.02, fixcm=False, rng=md_rng, logfile=None)
        for _ in range(md_steps // md_interval):
            md.run(md_interval)
            frames.append(_snapshot(atoms, system, len(frames)))
        log.debug("%s: %d frames of %d atoms", system, len(frames), len(atoms))
        yield from frames
