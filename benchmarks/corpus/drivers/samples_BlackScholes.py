"""cuda-samples BlackScholes: European call and put prices with fast-math intrinsics, two options per
thread (float2). The reference is the sample's own formula (its polynomial normal CDF) in float64."""

import numpy as np

from harness import Check

SOURCE = "cuda-samples"
FILE = "Samples/5_Domain_Specific/BlackScholes/BlackScholes_kernel.cuh"
LICENSE = "BSD-3-Clause"
OPTIONS, R, V = 4000, 0.02, 0.30


def cnd(d):
    k = 1 / (1 + 0.2316419 * np.abs(d))
    poly = k * (0.31938153 + k * (-0.356563782 + k * (1.781477937 + k * (-1.821255978 + k * 1.330274429))))
    c = 0.39894228040143267794 * np.exp(-0.5 * d * d) * poly
    return np.where(d > 0, 1 - c, c)


def black_scholes(kernel):
    rng = np.random.default_rng(20)
    s, x, t = rng.uniform(5, 30, OPTIONS), rng.uniform(1, 100, OPTIONS), rng.uniform(0.25, 10, OPTIONS)
    s, x, t = (a.astype(np.float32) for a in (s, x, t))
    call, put = np.zeros(OPTIONS, np.float32), np.zeros(OPTIONS, np.float32)
    kernel(((OPTIONS // 2 + 127) // 128,), (128,), (call, put, s, x, t, np.float32(R), np.float32(V), np.int32(OPTIONS)))
    sd, xd, td = s.astype(np.float64), x.astype(np.float64), t.astype(np.float64)
    d1 = (np.log(sd / xd) + (R + 0.5 * V * V) * td) / (V * np.sqrt(td))
    d2 = d1 - V * np.sqrt(td)
    disc = np.exp(-R * td)
    want_call = sd * cnd(d1) - xd * disc * cnd(d2)
    want_put = xd * disc * (1 - cnd(d2)) - sd * (1 - cnd(d1))
    return [Check(call, want_call, rtol=1e-4, atol=1e-4), Check(put, want_put, rtol=1e-4, atol=1e-4)]


KERNELS = {"BlackScholesGPU": black_scholes}
