#!/usr/bin/python3
"""Coefficients of the normal CDF in core/fast_math.h (normal_cdf_pdf).

Phi(-a) = phi(a) R(a) for a >= 0, with R the Mills ratio. R is smooth and bounded on
[0, 14] (beyond, phi(a) underflows float32), so a polynomial in t = 1 / (1 + 0.3 a)
fits it: least squares, relative, on Chebyshev nodes. Prints the coefficients (constant
first) and the float32 evaluation's worst relative error of Phi.
    /usr/bin/python3 core/fit_mills_ratio.py
Needs numpy (scripts/install-deps.sh --reference).
"""
import math

import numpy as np

SCALE, DEGREE, RANGE = 0.3, 9, 14.0


def phi(a):
    return math.exp(-a * a / 2) / math.sqrt(2 * math.pi)


def mills(a):
    return 0.5 * math.erfc(a / math.sqrt(2)) / phi(a)


def main():
    k = np.arange(2000)
    a = RANGE / 2 * (1 + np.cos(np.pi * (k + 0.5) / k.size))
    t = 1 / (1 + SCALE * a)
    r = np.array([mills(v) for v in a])
    basis = np.vander(t, DEGREE + 1, increasing=True) / r[:, None]
    coeffs = np.linalg.lstsq(basis, np.ones_like(r), rcond=None)[0]
    for c in coeffs:
        print("%.9ef," % c)

    f = np.float32  # evaluate as the C++ does, in float32
    x = np.linspace(-RANGE, RANGE, 200001).astype(f)
    tt = f(1) / (f(1) + f(SCALE) * np.abs(x))
    poly = np.zeros_like(tt)
    for c in coeffs[::-1]:
        poly = poly * tt + f(c)
    q = (np.exp(f(-0.5) * x * x) * f(1 / math.sqrt(2 * math.pi))).astype(f) * poly
    cdf = np.where(x < 0, q, f(1) - q)
    ref = np.array([0.5 * math.erfc(-float(v) / math.sqrt(2)) for v in x])
    normal = ref > 1e-37  # below, float32 is denormal and relative error means nothing
    rel = np.abs(cdf - ref)[normal] / ref[normal]
    print("worst relative error of Phi (Phi > 1e-37): %.2e" % rel.max())


if __name__ == "__main__":
    main()
