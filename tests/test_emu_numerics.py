"""GPU numerics on the host backend: FMA contraction as nvcc/NVRTC's --fmad, saturating
conversions, directed rounding, single-rounded fp16/bf16 FMA and __fdividef's documented range
(CUDA Math API, PTX ISA cvt/fma), checked against exact rational arithmetic."""

from fractions import Fraction

import numpy as np
import pytest
import torch

from suite.host import RawModule

FMA = r"""
extern "C" __global__ void axpb(const float* a, const float* b, const float* c, float* out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a[i] * b[i] + c[i];
}
// The _rn intrinsics are never merged into an FMA (CUDA Math API), whatever --fmad says.
extern "C" __global__ void unfused(const float* a, const float* b, const float* c, float* out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) { out[2 * i] = __fmul_rn(a[i], b[i]) + c[i]; out[2 * i + 1] = __fadd_rn(a[i] * b[i], c[i]); }
}
"""


def fma_inputs(n=4096, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    c = (-(a.astype(np.float64) * b) * (1 + rng.standard_normal(n) * 1e-3)).astype(np.float32)  # cancellation
    return a, b, c


def fused_reference(a, b, c):
    """a*b + c rounded once to float32: a*b is exact in float64, the sum of two float64 values is
    exact in float64 here (|c| close to |a*b|), so one rounding to float32 remains."""
    exact = a.astype(np.float64) * b + c.astype(np.float64)
    return exact.astype(np.float32)


def run_fma(kernel, options, outputs=1):
    a, b, c = fma_inputs()
    out = torch.zeros(outputs * len(a))
    module = RawModule(code=FMA, options=options)
    module.get_function(kernel)((len(a) // 256,), (256,), (*map(torch.from_numpy, (a, b, c)), out, np.int32(len(a))))
    return a, b, c, out.numpy()


def test_multiply_add_contracts_by_default_as_nvcc_does():
    a, b, c, out = run_fma("axpb", ())
    separate = (a * b).astype(np.float32) + c
    assert (separate != fused_reference(a, b, c)).sum() > 1000  # the inputs tell the two apart
    assert np.array_equal(out, fused_reference(a, b, c))


@pytest.mark.parametrize("option", ["--fmad=false", "-fmad=false"])
def test_fmad_false_keeps_multiply_and_add_apart(option):
    a, b, c, out = run_fma("axpb", (option,))
    assert np.array_equal(out, (a * b).astype(np.float32) + c)


def test_rn_intrinsics_are_never_contracted():
    a, b, c, out = run_fma("unfused", (), outputs=2)
    separate = (a * b).astype(np.float32) + c
    assert np.array_equal(out[0::2], separate) and np.array_equal(out[1::2], separate)


def test_a_malformed_fmad_option_is_refused_by_name():
    from suite.errors import InputError

    with pytest.raises(InputError, match=r"--fmad=maybe.*expected --fmad=true or --fmad=false"):
        RawModule(code=FMA, options=("--fmad=maybe",)).get_function("axpb")


CONVERSIONS = r"""
#include <cuda_fp16.h>
// 20 conversions per input: float and double to int/unsigned/long long in four rounding modes.
extern "C" __global__ void to_int(const float* x, long long* out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float f = x[i];
    const double d = double(x[i]) * 4;  // beyond float's integer range too
    long long* o = out + 20 * i;
    o[0] = __float2int_rn(f); o[1] = __float2int_rz(f); o[2] = __float2int_ru(f); o[3] = __float2int_rd(f);
    o[4] = __float2uint_rn(f); o[5] = __float2uint_rz(f); o[6] = __float2uint_ru(f); o[7] = __float2uint_rd(f);
    o[8] = __float2ll_rn(f); o[9] = __float2ll_rz(f); o[10] = (long long)__float2ull_rz(f);
    o[11] = __double2int_rn(d); o[12] = __double2int_rz(d); o[13] = __double2uint_ru(d); o[14] = __double2ll_rd(d);
    o[15] = __half2int_rn(__float2half(f)); o[16] = __half2short_rn(__float2half(f)); o[17] = __half2ushort_rd(__float2half(f));
    o[18] = __half2uint_ru(__float2half(f)); o[19] = __half2ll_rd(__float2half(f));
}
"""

INT32 = (-(2**31), 2**31 - 1)
UINT32 = (0, 2**32 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT64 = (0, 2**64 - 1)


def saturated(value, mode, bounds):
    """What cvt.rni/rzi/rpi/rmi.sat gives: rounded, clamped, NaN -> 0 (PTX ISA, cvt)."""
    if np.isnan(value):
        return 0
    if np.isinf(value):
        return bounds[1] if value > 0 else bounds[0]
    exact = Fraction(float(value))
    rounded = {"rn": round(exact), "rz": int(exact), "ru": -((-exact) // 1), "rd": exact // 1}[mode]
    return int(min(max(rounded, bounds[0]), bounds[1]))


def test_float_to_integer_conversions_saturate_and_map_nan_to_zero():
    special = [3e9, -3e9, 5e9, -5.0, -0.5, 0.5, 1.5, 2.5, -2.5, 1e19, -1e19, 2e19, 3.4e38, np.inf, -np.inf, np.nan,
               2147483520.0, -2147483648.0, 65504.0, 70000.0, -40000.0, 0.0, -0.0]
    rng = np.random.default_rng(1)
    x = np.array(special + list(rng.standard_normal(41) * 10.0 ** rng.integers(0, 12, 41)), np.float32)
    out = torch.zeros(20 * len(x), dtype=torch.int64)
    RawModule(code=CONVERSIONS).get_function("to_int")((1,), (len(x),), (torch.from_numpy(x), out, np.int32(len(x))))
    got = out.view(len(x), 20).numpy()
    INT16, UINT16 = (-(2**15), 2**15 - 1), (0, 2**16 - 1)
    for i, f in enumerate(x):
        d = np.float64(f) * 4
        with np.errstate(over="ignore"):  # beyond 65504 is inf in fp16, as __float2half gives
            h = np.float64(np.float16(f))  # numpy rounds float32 -> float16 to nearest even, as __float2half
        want = [saturated(f, m, INT32) for m in ("rn", "rz", "ru", "rd")]
        want += [saturated(f, m, UINT32) for m in ("rn", "rz", "ru", "rd")]
        want += [saturated(f, "rn", INT64), saturated(f, "rz", INT64), saturated(f, "rz", UINT64)]
        want += [saturated(d, "rn", INT32), saturated(d, "rz", INT32), saturated(d, "ru", UINT32), saturated(d, "rd", INT64)]
        want += [saturated(h, "rn", INT32), saturated(h, "rn", INT16), saturated(h, "rd", UINT16)]
        want += [saturated(h, "ru", UINT32), saturated(h, "rd", INT64)]
        want = [w - 2**64 if w >= 2**63 else w for w in want]  # stored through a long long
        assert list(got[i]) == want, f"input {f!r}"


ROUNDING = r"""
// Per input pair: add, mul, div, fma(a, b, a) and sqrt(|a|) in float, rz/ru/rd; div in double, rz/ru/rd.
extern "C" __global__ void directed(const float* a, const float* b, float* f, double* d, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float x = a[i], y = b[i];
    float* o = f + 15 * i;
    o[0] = __fadd_rz(x, y); o[1] = __fadd_ru(x, y); o[2] = __fadd_rd(x, y);
    o[3] = __fmul_rz(x, y); o[4] = __fmul_ru(x, y); o[5] = __fmul_rd(x, y);
    o[6] = __fdiv_rz(x, y); o[7] = __fdiv_ru(x, y); o[8] = __fdiv_rd(x, y);
    o[9] = __fmaf_rz(x, y, x); o[10] = __fmaf_ru(x, y, x); o[11] = __fmaf_rd(x, y, x);
    o[12] = __fsqrt_rz(fabsf(x)); o[13] = __fsqrt_ru(fabsf(x)); o[14] = __fsqrt_rd(fabsf(x));
    d[3 * i] = __ddiv_rz(double(x), double(y) * 3); d[3 * i + 1] = __ddiv_ru(double(x), double(y) * 3);
    d[3 * i + 2] = __ddiv_rd(double(x), double(y) * 3);
}
"""


def directed(exact: Fraction, mode: str, dtype):
    """The float of `dtype` next to `exact` in rounding direction `mode` (rz, ru, rd)."""
    x = dtype(float(exact))
    while Fraction(float(x)) > exact:
        x = np.nextafter(x, dtype(-np.inf))
    while Fraction(float(np.nextafter(x, dtype(np.inf)))) <= exact:
        x = np.nextafter(x, dtype(np.inf))
    down = x  # the largest value <= exact
    up = down if Fraction(float(down)) == exact else np.nextafter(down, dtype(np.inf))
    if mode == "rd":
        return down
    if mode == "ru":
        return up
    return down if exact >= 0 else up


def exact_sqrt_bracket(v: Fraction, mode: str):
    x = np.float32(np.sqrt(np.float64(v)))
    while Fraction(float(x)) ** 2 > v:
        x = np.nextafter(x, np.float32(-np.inf))
    while Fraction(float(np.nextafter(x, np.float32(np.inf)))) ** 2 <= v:
        x = np.nextafter(x, np.float32(np.inf))
    return x if mode in ("rz", "rd") or Fraction(float(x)) ** 2 == v else np.nextafter(x, np.float32(np.inf))


def test_directed_rounding_intrinsics_match_exact_arithmetic():
    rng = np.random.default_rng(2)
    a = (rng.standard_normal(64) * 10.0 ** rng.integers(-3, 4, 64)).astype(np.float32)
    b = (rng.standard_normal(64) * 10.0 ** rng.integers(-3, 4, 64)).astype(np.float32)
    f, d = torch.zeros(15 * 64), torch.zeros(3 * 64, dtype=torch.float64)
    RawModule(code=ROUNDING).get_function("directed")((1,), (64,), (torch.from_numpy(a), torch.from_numpy(b), f, d, np.int32(64)))
    f, d = f.view(64, 15).numpy(), d.view(64, 3).numpy()
    modes = ("rz", "ru", "rd")
    for i in range(64):
        x, y = Fraction(float(a[i])), Fraction(float(b[i]))
        want = [directed(x + y, m, np.float32) for m in modes] + [directed(x * y, m, np.float32) for m in modes]
        want += [directed(x / y, m, np.float32) for m in modes] + [directed(x * y + x, m, np.float32) for m in modes]
        want += [exact_sqrt_bracket(abs(x), m) for m in modes]
        assert list(f[i]) == want, f"inputs {a[i]!r}, {b[i]!r}"
        y3 = Fraction(float(np.float64(b[i]) * 3))
        assert list(d[i]) == [directed(x / y3, m, np.float64) for m in modes]
    assert (f[:, 1] > f[:, 2]).sum() > 32  # most sums are inexact: ru and rd differ


HFMA = r"""
#include <cuda_fp16.h>
#include <cuda_bf16.h>
extern "C" __global__ void hfma(const __half* a, const __half* b, const __half* c, __half* out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = __hfma(a[i], b[i], c[i]);
}
extern "C" __global__ void hfma2(const __half2* a, const __half2* b, const __half2* c, __half2* out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = __hfma2(a[i], b[i], c[i]);
}
extern "C" __global__ void bfma(const __nv_bfloat16* a, const __nv_bfloat16* b, const __nv_bfloat16* c,
                                __nv_bfloat16* out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = __hfma(a[i], b[i], c[i]);
}
extern "C" __global__ void bfma2(const __nv_bfloat162* a, const __nv_bfloat162* b, const __nv_bfloat162* c,
                                 __nv_bfloat162* out, int n) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = __hfma2(a[i], b[i], c[i]);
}
// fma.rn.sat (clamp to [0, 1], NaN -> 0) and fma.rn.relu (negative -> 0, NaN stays NaN)
extern "C" __global__ void hfma_forms(const __half* a, const __half* b, const __half* c, __half* out) {
    const int i = threadIdx.x;
    out[2 * i] = __hfma_sat(a[i], b[i], c[i]);
    out[2 * i + 1] = __hfma_relu(a[i], b[i], c[i]);
}
"""


def round_to_bits(x, bits):
    """float64 values (exact here) rounded to nearest-even with `bits` significant bits."""
    m, e = np.frexp(x)
    return np.ldexp(np.rint(m * 2.0**bits), e - bits)


def double_rounding_cases(bits, narrow, c_exponents, n=400_000, seed=3):
    """Triples whose a*b + c, rounded to float32 first and then to the narrow type, lands on the
    wrong neighbour: what an FMA computed in float and converted afterwards gives. c is small
    (2^c_exponents), so that a*b + c falls near a midpoint of the narrow type."""
    rng = np.random.default_rng(seed)
    def draw(scale):
        return narrow(rng.uniform(1, 2, n) * scale * rng.choice([-1, 1], n))
    a, b = draw(1.0), draw(1.0)
    c = draw(2.0 ** rng.integers(*c_exponents, n))
    exact = a.astype(np.float64) * b.astype(np.float64) + c.astype(np.float64)  # exact: bits within 2^-35 .. 8
    once = round_to_bits(exact, bits)
    twice = round_to_bits(exact.astype(np.float32).astype(np.float64), bits)
    wrong = np.nonzero(once != twice)[0][:256]
    return a[wrong], b[wrong], c[wrong], once[wrong]


def test_hfma_rounds_once_for_fp16():
    a, b, c, once = double_rounding_cases(11, np.float16, (-16, -12))
    assert len(a) >= 16  # the inputs are ones that rounding twice gets wrong
    out = torch.zeros(len(a), dtype=torch.float16)
    tensors = [torch.from_numpy(v) for v in (a, b, c)]
    RawModule(code=HFMA).get_function("hfma")((1,), (len(a),), (*tensors, out, np.int32(len(a))))
    assert np.array_equal(out.numpy().astype(np.float64), once)
    k = len(a) // 2 * 2
    pairs = torch.zeros(k, dtype=torch.float16)
    RawModule(code=HFMA).get_function("hfma2")((1,), (k // 2,), (*[t[:k] for t in tensors], pairs, np.int32(k // 2)))
    assert np.array_equal(pairs.numpy().astype(np.float64), once[:k])


def bf16(values):
    return torch.from_numpy(np.asarray(values, np.float32)).to(torch.bfloat16)


def test_hfma_rounds_once_for_bf16():
    # bf16 values are float32 values with 8 significant bits: draw them so, then round exactly.
    a, b, c, once = double_rounding_cases(8, lambda v: round_to_bits(v, 8).astype(np.float32), (-28, -24))
    assert len(a) >= 16
    out = torch.zeros(len(a), dtype=torch.bfloat16)
    RawModule(code=HFMA).get_function("bfma")((1,), (len(a),), (bf16(a), bf16(b), bf16(c), out, np.int32(len(a))))
    assert np.array_equal(out.float().numpy().astype(np.float64), once)
    k = len(a) // 2 * 2
    pairs = torch.zeros(k, dtype=torch.bfloat16)
    RawModule(code=HFMA).get_function("bfma2")((1,), (k // 2,), (bf16(a[:k]), bf16(b[:k]), bf16(c[:k]), pairs, np.int32(k // 2)))
    assert np.array_equal(pairs.float().numpy().astype(np.float64), once[:k])


def test_hfma_sat_and_relu():
    a = np.array([0.5, 2.0, -1.0, np.nan, 0.25, -0.5, np.inf], np.float16)
    b = np.array([0.5, 2.0, 1.0, 1.0, 1.0, 0.5, 0.0], np.float16)
    c = np.array([0.125, 0.0, 0.5, 0.0, -0.5, 0.0, 0.0], np.float16)
    out = torch.zeros(2 * len(a), dtype=torch.float16)
    RawModule(code=HFMA).get_function("hfma_forms")((1,), (len(a),), (*[torch.from_numpy(v) for v in (a, b, c)], out))
    got = out.numpy().reshape(-1, 2)
    assert list(got[:, 0]) == [0.375, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]  # inf * 0 is NaN: saturates to 0
    relu = got[:, 1]
    assert list(relu[[0, 1, 2, 4, 5]]) == [0.375, 4.0, 0.0, 0.0, 0.0]
    assert np.isnan(relu[3]) and np.isnan(relu[6])


FDIVIDEF = r"""
extern "C" __global__ void fdividef_range(const float* x, const float* y, float* out) {
    out[threadIdx.x] = __fdividef(x[threadIdx.x], y[threadIdx.x]);
}
"""


def test_fdividef_in_its_documented_range():
    x = np.array([1.0, -3.0, np.inf, 1.0, 6.0, 1.0, 1.0], np.float32)
    y = np.array([2.0**127, 2.0**126 * 1.5, 2.0**127, 2.0**126, 3.0, -(2.0**127), 2.0**-100], np.float32)
    out = torch.zeros(len(x))
    RawModule(code=FDIVIDEF).get_function("fdividef_range")((1,), (len(x),), (torch.from_numpy(x), torch.from_numpy(y), out))
    got = out.numpy()
    assert got[0] == 0 and got[1] == 0 and np.isnan(got[2])  # 2^126 < |y| < 2^128: 0, or NaN for infinite x
    assert got[3] == np.float32(2.0**-126) and got[4] == 2.0 and got[5] == 0 and got[6] == np.float32(2.0**100)


DENORMALS = r"""
// A single-precision denormal result, and one computed from a denormal input.
extern "C" __global__ void denormals(const float* x, float* out) {
    out[0] = x[0] * 0.5f;          // 2^-126 / 2: a denormal
    out[1] = x[1] * 4.0f;          // 2^-130 (a denormal input) * 4
    out[2] = x[0] * 2.0f;          // normal in and out: untouched
}
"""


@pytest.mark.parametrize("options, flushed", [((), True), (("-ftz=true",), True), (("-ftz=false",), False),
                                              (("--ftz=false",), False)])
def test_denormals_flush_per_ftz_as_cupy_compiles_by_default(options, flushed):
    x = torch.tensor([2.0**-126, 2.0**-130, 0.0])
    out = torch.zeros(3)
    RawModule(code=DENORMALS, options=options).get_function("denormals")((1,), (1,), (x, out))
    if flushed:
        assert out.tolist() == [0.0, 0.0, 2.0**-125]
    else:
        assert out.tolist() == [2.0**-127, 2.0**-128, 2.0**-125]


INT_TO_FLOAT = r"""
#include <cuda_bf16.h>
// Integers that the target type cannot hold exactly, in each rounding direction.
extern "C" __global__ void int_to_float(float* o) {
    const int big = 16777217;  // 2^24 + 1
    o[0] = __int2float_rz(big); o[1] = __int2float_ru(big); o[2] = __ll2float_rd(-(1ll << 40) - 1);
    o[3] = __uint2float_ru(0xffffffffu); o[4] = __uint2float_rd(0xffffffffu);
    o[5] = __double2float_ru(0.1); o[6] = __double2float_rd(0.1); o[7] = __double2float_rz(-0.1);
    o[8] = __bfloat162float(__int2bfloat16_ru(257)); o[9] = __bfloat162float(__int2bfloat16_rd(-257));
    o[10] = __bfloat162float(__ll2bfloat16_rz(-257)); o[11] = __bfloat162float(__uint2bfloat16_rd(65535));
}
"""


def test_integer_to_float_conversions_in_each_rounding_mode():
    o = torch.zeros(12)
    RawModule(code=INT_TO_FLOAT).get_function("int_to_float")((1,), (1,), (o,))
    tenth = np.float32(0.1)  # nearest float to 0.1, which is above it
    assert o.tolist() == [2.0**24, 2.0**24 + 2, -(2.0**40 + 2.0**17), 2.0**32, 2.0**32 - 256,
                          float(tenth), float(np.nextafter(tenth, np.float32(0))), -float(np.nextafter(tenth, np.float32(0))),
                          258.0, -258.0, -256.0, 65280.0]
