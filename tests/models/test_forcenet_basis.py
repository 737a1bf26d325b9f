"""ForceNet's default edge basis against ocp's construction, rebuilt independently.

ocp's ``Basis("sphallmul")`` (``ocpmodels/models/utils/basis.py``): SciPy's complex harmonics
Y_l^m (l < 3, m = 0..l) of the unit vector, laid out as [Re (m = 0), Re (m > 0), Im (m > 0)];
sine features of the 4 distance terms laid out frequency-major (``x.repeat(1, 50)`` times
1.1^k); a Linear(200 -> 4); the outer product flattened to 36 numbers.
"""

import math

import numpy as np
import pytest
import torch
from scipy.special import sph_harm_y

from crystalbench.models.forcenet_basis import EdgeBasis
from crystalbench.models.spherical import real_spherical_harmonics

N_FREQS, N_DIST, MAX_N = 50, 4, 3


def edges(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True), rng.uniform(1e-3, 1.0, (n, N_DIST))


def ocp_harmonics(unit: np.ndarray) -> np.ndarray:
    polar = np.arccos(np.clip(unit[:, 2], -1, 1))
    azimuth = np.mod(np.arctan2(unit[:, 1], unit[:, 0]), 2 * np.pi)
    nm = [(n, m) for n in range(MAX_N) for m in range(n + 1)]
    y = np.stack([sph_harm_y(n, m, polar, azimuth) for n, m in nm], axis=1)
    m = np.array([m for _, m in nm])
    return np.concatenate([y[:, m == 0].real, y[:, m != 0].real, y[:, m != 0].imag], axis=1)


def ocp_radial(terms: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """ocp's sine features and Linear, with ``weight`` in OUR column order (feature-major)."""
    freqs = 1.1 ** np.arange(N_FREQS)
    sine = np.sin(np.tile(terms, (1, N_FREQS)) * np.repeat(freqs, N_DIST))
    ours_column = [i * N_FREQS + k for k in range(N_FREQS) for i in range(N_DIST)]
    return sine @ weight[:, ours_column].T + bias


@pytest.fixture(scope="module")
def basis() -> EdgeBasis:
    torch.manual_seed(0)
    return EdgeBasis("sphallmul", n_dist=N_DIST, n_freqs=N_FREQS, max_n=MAX_N).double().eval()


def test_radial_part_equals_ocp(basis):
    unit, terms = edges()
    with torch.no_grad():
        ours = basis.radial(basis.sine(torch.from_numpy(terms))).numpy()
    w, b = basis.radial.weight.detach().numpy(), basis.radial.bias.detach().numpy()
    # both store the frequencies in float32 (ocp: torch.pow on a float tensor)
    np.testing.assert_allclose(ours, ocp_radial(terms, w, b), atol=1e-5)


def test_radial_part_control_with_other_frequencies():
    """Control: the frequencies of a basis cut short (highest 1.1^15) do not match ocp's."""
    torch.manual_seed(0)
    short = EdgeBasis("sphallmul", n_freqs=N_FREQS, max_freq=1.1**15).double()
    unit, terms = edges()
    with torch.no_grad():
        ours = short.radial(short.sine(torch.from_numpy(terms))).numpy()
    w, b = short.radial.weight.detach().numpy(), short.radial.bias.detach().numpy()
    assert np.abs(ours - ocp_radial(terms, w, b)).max() > 0.1


def test_harmonics_are_ocps_up_to_sign_order_and_sqrt2(basis):
    """Ours = ocp's times a signed permutation: scale 1 for m = 0 and sqrt(2) for m != 0
    (orthonormal real harmonics vs. parts of complex ones); a learned Linear follows, so the
    two differ only in the edge features' initial scale."""
    unit, _ = edges()
    ocp = ocp_harmonics(unit)
    ours = real_spherical_harmonics(torch.from_numpy(unit), MAX_N).numpy()
    a, *_ = np.linalg.lstsq(ocp, ours, rcond=None)
    np.testing.assert_allclose(ocp @ a, ours, atol=1e-10)
    a[np.abs(a) < 1e-8] = 0.0
    assert (np.count_nonzero(a, axis=0) == 1).all() and (np.count_nonzero(a, axis=1) == 1).all()
    m_ours = [m for deg in range(MAX_N) for m in range(-deg, deg + 1)]
    scale = np.abs(a).max(axis=0)
    np.testing.assert_allclose(scale, [1.0 if m == 0 else math.sqrt(2) for m in m_ours])


def test_edge_features_are_ocps_outer_product(basis):
    """The 36 features: ocp's outer product of harmonics and radial part, up to the same
    signed permutation (per harmonic, times the 4 radial channels)."""
    unit, terms = edges()
    with torch.no_grad():
        ours = basis(torch.from_numpy(unit), torch.from_numpy(terms)).numpy()
    w, b = basis.radial.weight.detach().numpy(), basis.radial.bias.detach().numpy()
    outer = np.einsum("ik,ij->ikj", ocp_harmonics(unit), ocp_radial(terms, w, b))
    ocp = outer.reshape(len(unit), -1)
    a, *_ = np.linalg.lstsq(ocp, ours, rcond=None)
    np.testing.assert_allclose(ocp @ a, ours, atol=1e-5)
    a[np.abs(a) < 1e-3] = 0.0
    assert (np.count_nonzero(a, axis=0) == 1).all()
