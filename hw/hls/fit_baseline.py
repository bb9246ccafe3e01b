#!/usr/bin/python3
"""Coefficients of the baseline fixed-point GELU (hw/hls/gelu_baseline.cpp) and of the
baseline softmax row unit's direct exp (hw/hls/exp_direct.h). GELU: with
t = x/4 on [-1, 1] and u = t^2, Phi(x) - 1/2 = t R(u) and phi(x) = S(u), R and S of
degree 6 fitted by least squares on a uniform grid; printed as 16-bit words (R in Q11,
S in Q10, the finest formats their largest coefficient allows). Needs numpy
(scripts/install-deps.sh --reference); the words are already in gelu_baseline.cpp.
"""
from math import erf, pi, sqrt

import numpy as np

t = np.linspace(-1, 1, 40001)
x, u = 4 * t, t * t
Phi = np.array([0.5 * (1 + erf(v / sqrt(2))) for v in x])
phi = np.exp(-x * x / 2) / sqrt(2 * pi)
R = np.linalg.lstsq(np.stack([t * u**i for i in range(7)], 1), Phi - 0.5, rcond=None)[0]
S = np.linalg.lstsq(np.stack([u**i for i in range(7)], 1), phi, rcond=None)[0]
print("R (Q11):", ", ".join(str(int(round(c * 2**11))) for c in R))
print("S (Q10):", ", ".join(str(int(round(c * 2**10))) for c in S))

# The direct exp of the baseline softmax row unit (hw/hls/exp_direct.h): 2^f on [0, 1)
# by a cubic, fitted for the smallest maximum relative error (least squares, reweighted
# toward the worst points), printed in Q14.
f = np.linspace(0, 1, 20001)
A = np.stack([f**k for k in range(4)], 1) / (2**f)[:, None]
w = np.ones_like(f)
for _ in range(200):
    c = np.linalg.lstsq(A * w[:, None], w, rcond=None)[0]
    err = np.abs(A @ c - 1)
    w = w * np.sqrt(1 + err / err.max())
    w /= w.mean()
print("2^f (Q14):", ", ".join(str(int(round(v * 2**14))) for v in c))
