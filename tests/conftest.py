"""Shared fixtures: real reference data from ../shared/data and the demo structures.

The data folder comes from CRYSTALBENCH_DATA (default ../shared/data beside the checkout).
Without it, tests that need it skip with the reason; with CRYSTALBENCH_REQUIRE_DATA=1 (set by
.ci/run) that skip becomes a failure, so CI always runs them.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

from crystalbench.crystal.demo import generate_demo_alloys
from crystalbench.crystal.matbench import read_matbench_json
from crystalbench.crystal.structures import Structure

REPO = Path(__file__).resolve().parents[1]


def load_script(relative: str) -> ModuleType:
    """A script of the repository that is not part of the package (``benchmarks/...py``),
    imported from its file so its functions can be tested."""
    path = REPO / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def data_dir() -> Path:
    return Path(os.environ.get("CRYSTALBENCH_DATA", REPO.parent / "shared" / "data"))


def require_data(relative: str) -> Path:
    """Path of a reference file, or skip (fail when CRYSTALBENCH_REQUIRE_DATA=1)."""
    path = data_dir() / relative
    if not path.exists():
        reason = f"reference data {path} not found (set CRYSTALBENCH_DATA)"
        if os.environ.get("CRYSTALBENCH_REQUIRE_DATA") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def demo_structures() -> list[Structure]:
    return list(generate_demo_alloys(0))


@pytest.fixture(scope="session")
def jdft2d() -> list[Structure]:
    return read_matbench_json(require_data("matbench/matbench_jdft2d.json.gz"))


@pytest.fixture(scope="session")
def phonons() -> list[Structure]:
    return read_matbench_json(require_data("matbench/matbench_phonons.json.gz"))


@pytest.fixture(scope="session")
def real_structures(jdft2d: list[Structure], phonons: list[Structure]) -> list[Structure]:
    """All ~1,900 real MatBench crystals in ../shared (jdft2d and phonons)."""
    return jdft2d + phonons


@pytest.fixture(scope="session")
def everything(demo_structures: list[Structure], real_structures: list[Structure]):
    """All 2,205 demo and real crystals with their symmetry, computed once per session."""
    from crystalbench.crystal.symmetry import analyse_symmetry

    structures = demo_structures + real_structures
    return structures, [analyse_symmetry(s.lattice, s.frac_coords, s.atomic_numbers)
                        for s in structures]
