"""Real spherical harmonics against SciPy's complex ones (polar angle first), and their
orthonormality on a quadrature grid."""

import numpy as np
import pytest
import torch
from scipy.special import roots_legendre, sph_harm_y

from crystalbench.models.spherical import num_spherical, real_spherical_harmonics


def unit_vectors(n: int = 200, seed: int = 0) -> np.ndarray:
    """Random directions plus both poles, axis directions and points in the xy plane."""
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(n, 3))
    special = [[0, 0, 1], [0, 0, -1], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0]]
    plane = rng.normal(size=(20, 3)) * [1, 1, 0]
    v = np.concatenate([v, special, plane])
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def scipy_real(unit: np.ndarray, max_n: int, swap: bool = False) -> np.ndarray:
    """sqrt(2) (-1)^m Re/Im of SciPy's Y_l^|m| (which has the Condon-Shortley phase).

    sph_harm_y(n, m, theta, phi): theta is the POLAR angle, phi the azimuth. ``swap`` passes
    them the other way round, as the old ``sph_harm(m, n, azimuth, polar)`` call order did.
    """
    polar = np.arccos(np.clip(unit[:, 2], -1, 1))
    azimuth = np.mod(np.arctan2(unit[:, 1], unit[:, 0]), 2 * np.pi)
    first, second = (azimuth, polar) if swap else (polar, azimuth)
    cols = []
    for n in range(max_n):
        for m in range(-n, n + 1):
            y = sph_harm_y(n, abs(m), first, second)
            if m == 0:
                cols.append(y.real)
            else:
                part = y.real if m > 0 else y.imag
                cols.append(np.sqrt(2) * (-1) ** abs(m) * part)
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("max_n", [1, 2, 3, 4, 5])
def test_matches_scipy(max_n):
    unit = unit_vectors()
    ours = real_spherical_harmonics(torch.from_numpy(unit), max_n).numpy()
    assert ours.shape == (len(unit), num_spherical(max_n))
    np.testing.assert_allclose(ours, scipy_real(unit, max_n), atol=1e-6)


def test_swapped_angles_disagree():
    """Control: polar and azimuth swapped (the reading of fairchem HEAD) gives other values."""
    unit = unit_vectors()
    ours = real_spherical_harmonics(torch.from_numpy(unit), 3).numpy()
    swapped = scipy_real(unit, 3, swap=True)
    assert np.abs(ours - swapped).max() > 0.1


def test_low_degrees_closed_form():
    unit = unit_vectors()
    x, y, z = unit.T
    ours = real_spherical_harmonics(torch.from_numpy(unit), 2).numpy()
    c = np.sqrt(3 / (4 * np.pi))
    np.testing.assert_allclose(ours[:, 0], 0.5 / np.sqrt(np.pi))
    np.testing.assert_allclose(ours[:, 1:], c * np.stack([y, z, x], 1), atol=1e-12)


def test_orthonormal_on_grid():
    """Gauss-Legendre in cos(polar) x uniform azimuth integrates these polynomials exactly."""
    max_n = 4
    nodes, weights = roots_legendre(12)
    azimuth = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    cz, az = np.meshgrid(nodes, azimuth, indexing="ij")
    sz = np.sqrt(1 - cz**2)
    unit = np.stack([sz * np.cos(az), sz * np.sin(az), cz], -1).reshape(-1, 3)
    w = (weights[:, None] * np.full_like(az, 2 * np.pi / len(azimuth))).reshape(-1)
    y = real_spherical_harmonics(torch.from_numpy(unit), max_n).numpy()
    gram = (y * w[:, None]).T @ y
    np.testing.assert_allclose(gram, np.eye(num_spherical(max_n)), atol=1e-10)


def test_orthonormal_monte_carlo():
    """Independent check with random points: loose tolerance (MC error ~ 1/sqrt(n))."""
    unit = unit_vectors(200_000, seed=1)
    y = real_spherical_harmonics(torch.from_numpy(unit), 3).numpy()
    gram = 4 * np.pi * y.T @ y / len(y)
    np.testing.assert_allclose(gram, np.eye(9), atol=0.05)


def test_rejects_bad_shape():
    with pytest.raises(ValueError, match="unit vectors"):
        real_spherical_harmonics(torch.zeros(4, 2))
