"""Real spherical harmonics of unit vectors, in torch (vectorised, differentiable).

Convention (orthonormal on the unit sphere, l-major order l = 0..max_n-1, m = -l..l):

    Y_l0  = N_l0 P_l^0(z)
    Y_lm  = sqrt(2) N_lm P_l^m(cos t) cos(m p)      (m > 0)
    Y_l-m = sqrt(2) N_lm P_l^m(cos t) sin(m p)      (m > 0)

with N_lm = sqrt((2l+1)/(4 pi) (l-m)!/(l+m)!), t the polar angle from +z, p the azimuth
and P_l^m the associated Legendre function WITHOUT the Condon-Shortley phase. In terms of
the complex harmonics Y_l^m that include that phase (SciPy's ``sph_harm_y``):
Y_lm = sqrt(2) (-1)^m Re Y_l^m and Y_l-m = sqrt(2) (-1)^m Im Y_l^m, so (Y_1-1, Y_10, Y_11)
is sqrt(3/(4 pi)) (y, z, x).

No angles are formed: sin^m(t) cos(m p) and sin^m(t) sin(m p) are the real and imaginary
parts of (x + iy)^m, and P_l^m(z) / sin^m(t) is a polynomial in z, so the harmonics are
polynomials in (x, y, z). That keeps them exact and smooth at the poles, where atan2 of the
azimuth is undefined.
"""

from __future__ import annotations

import math

import torch


def num_spherical(max_n: int) -> int:
    """Components for all degrees l < max_n."""
    return max_n * max_n


def real_spherical_harmonics(unit: torch.Tensor, max_n: int = 3) -> torch.Tensor:
    """(E, 3) unit vectors -> (E, max_n^2) real orthonormal harmonics, l-major, m = -l..l."""
    if unit.ndim != 2 or unit.shape[1] != 3:
        raise ValueError(f"expected (E, 3) unit vectors, got shape {tuple(unit.shape)}")
    if max_n < 1:
        raise ValueError(f"max_n must be >= 1, got {max_n}")
    x, y, z = unit.unbind(-1)
    # real and imaginary parts of (x + iy)^m: sin^m(t) cos(m p), sin^m(t) sin(m p)
    re, im = [torch.ones_like(x)], [torch.zeros_like(x)]
    for _ in range(1, max_n):
        r, i = re[-1], im[-1]
        re.append(r * x - i * y)
        im.append(r * y + i * x)
    # q[l][m] = P_l^m(z) / sin^m(t), a polynomial in z (no Condon-Shortley phase)
    q = [[None] * max_n for _ in range(max_n)]
    for m in range(max_n):
        q[m][m] = torch.full_like(z, float(_double_factorial(2 * m - 1)))
        if m + 1 < max_n:
            q[m + 1][m] = (2 * m + 1) * z * q[m][m]
        for deg in range(m + 2, max_n):
            q[deg][m] = ((2 * deg - 1) * z * q[deg - 1][m]
                         - (deg + m - 1) * q[deg - 2][m]) / (deg - m)
    out = []
    for deg in range(max_n):
        for m in range(-deg, deg + 1):
            a = abs(m)
            norm = math.sqrt((2 * deg + 1) / (4 * math.pi)
                             * math.factorial(deg - a) / math.factorial(deg + a))
            if m == 0:
                out.append(norm * q[deg][0])
            else:
                azimuthal = re[a] if m > 0 else im[a]
                out.append(math.sqrt(2.0) * norm * q[deg][a] * azimuthal)
    return torch.stack(out, dim=-1)


def _double_factorial(n: int) -> int:
    return math.prod(range(n, 0, -2)) if n > 0 else 1
