"""Arithmetic, conversions and bit manipulation of inline PTX on the host backend against the PTX
ISA's definitions: each rounding mode checked against the exact (rational) result, the .approx
functions within the ISA's error bounds, cvt to 16-bit, integer, tf32 and fp8 types, prmt, lop3,
bfe/bfi, shf, setp/selp and packed f16x2/bf16x2 (tests/kernels/ptx_numerics.cu)."""

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from suite.backends import get_backend

SOURCE = Path(__file__).parent / "kernels" / "ptx_numerics.cu"
MODES = ("rn", "rz", "rm", "rp")
N = 256
NAMES = [f"{op}_{m}" for op in ("add", "sub", "mul", "div", "fma", "sqrt", "rcp", "f16", "bf16") for m in MODES] + [
    "ex2_approx", "lg2_approx", "sin_approx", "cos_approx", "tanh_approx", "rsqrt_approx", "rcp_approx",
    "sqrt_approx", "add_ftz_sat", "max_nan", "min_plain", "s32_rni", "s32_rzi", "s32_rmi", "s32_rpi", "u8_sat_rni",
    "pack_f16x2", "pack_bf16x2", "tf32_rna", "fp8_e4m3", "fp8_e5m2", "prmt", "shf_l_wrap", "shf_r_clamp", "bfe_u32",
    "bfe_s32", "xor_b32", "brev", "clz", "popc", "lop3", "bfi", "setp_selp", "fma_f16x2", "fma_bf16x2", "add_f16x2",
    "max_f16x2"]


@pytest.fixture(scope="module")
def module():
    return get_backend("host").load_module(SOURCE, NAMES)


def run(module, name, *inputs, out_dtype=np.float32, out_len=N):
    out = np.zeros(out_len, out_dtype)
    module.get_function(name)((N // 64,), (64,), (*inputs, out))
    return out


def correctly_rounded(r, sign_of, mode, fmt=np.float32):
    """Whether `r` is the value of `mode` for an exact result x, given sign_of(f) = sign(f - x) for any
    finite value f of the format: rn nearest (ties to even), rz toward zero, rm down, rp up."""
    r = fmt(r)
    s = sign_of(Fraction(float(r)))
    if s == 0:
        return True
    below, above = (r, np.nextafter(r, fmt(np.inf))) if s < 0 else (np.nextafter(r, fmt(-np.inf)), r)
    if mode == "rm":
        return r == below
    if mode == "rp":
        return r == above
    if mode == "rz":
        return r == (below if float(below) >= 0 and float(above) > 0 else above)
    return _nearest(r, below, above, sign_of, fmt)


def _nearest(r, below, above, sign_of, fmt):
    """r is the nearer of below/above to x (ties: even bits), judged by the sign at the midpoint."""
    mid = (Fraction(float(below)) + Fraction(float(above))) / 2
    s = sign_of(mid)
    if s > 0:
        return r == below
    if s < 0:
        return r == above
    even = below if int(np.array(below, fmt).view(np.uint32 if fmt == np.float32 else np.uint16)) % 2 == 0 else above
    return r == even


def floats(rng, n=N):
    x = rng.standard_normal(n).astype(np.float32) * np.float32(2.0) ** rng.integers(-8, 8, n).astype(np.float32)
    return x.astype(np.float32)


EXACT = {
    "add": lambda a, b: Fraction(float(a)) + Fraction(float(b)),
    "sub": lambda a, b: Fraction(float(a)) - Fraction(float(b)),
    "mul": lambda a, b: Fraction(float(a)) * Fraction(float(b)),
    "div": lambda a, b: Fraction(float(a)) / Fraction(float(b)),
}


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
@pytest.mark.parametrize("mode", MODES)
def test_binary_rounding_modes_are_correctly_rounded(module, op, mode):
    rng = np.random.default_rng(sum(map(ord, op + mode)))
    a, b = floats(rng), floats(rng)
    d = run(module, f"{op}_{mode}", a, b)
    for i in range(N):
        x = EXACT[op](a[i], b[i])
        assert correctly_rounded(d[i], lambda f: (f > x) - (f < x), mode), (op, mode, a[i], b[i], d[i])


@pytest.mark.parametrize("mode", MODES)
def test_fma_is_rounded_once(module, mode):
    rng = np.random.default_rng(7)
    a, b, c = floats(rng), floats(rng), floats(rng)
    d = np.zeros(N, np.float32)
    module.get_function(f"fma_{mode}")((N // 64,), (64,), (a, b, c, d))
    for i in range(N):
        x = Fraction(float(a[i])) * Fraction(float(b[i])) + Fraction(float(c[i]))
        assert correctly_rounded(d[i], lambda f: (f > x) - (f < x), mode), (mode, a[i], b[i], c[i], d[i])


@pytest.mark.parametrize("mode", MODES)
def test_sqrt_and_rcp_rounding_modes(module, mode):
    rng = np.random.default_rng(11)
    a = np.abs(floats(rng))
    s, r = run(module, f"sqrt_{mode}", a), run(module, f"rcp_{mode}", a)
    for i in range(N):
        x = Fraction(float(a[i]))
        assert correctly_rounded(s[i], lambda f: (f * f > x) - (f * f < x), mode), (a[i], s[i])
        assert correctly_rounded(r[i], lambda f: (f * x > 1) - (f * x < 1), mode), (a[i], r[i])


# The bounds the PTX ISA states for the .approx forms (f32).
def test_approximations_are_within_the_isa_bounds(module):
    rng = np.random.default_rng(3)
    x = rng.uniform(-20, 20, N).astype(np.float32)
    pos = np.abs(x) + np.float32(1e-3)
    rel = lambda got, ref: np.abs(got.astype(np.float64) - ref) / np.abs(ref)  # noqa: E731
    assert rel(run(module, "ex2_approx", x), np.exp2(x.astype(np.float64))).max() <= 2.0**-22
    assert rel(run(module, "lg2_approx", pos), np.log2(pos.astype(np.float64))).max() <= 2.0**-22 or \
        np.abs(run(module, "lg2_approx", pos) - np.log2(pos.astype(np.float64))).max() <= 2.0**-22.6
    assert np.abs(run(module, "sin_approx", x) - np.sin(x.astype(np.float64))).max() <= 2.0**-20.5
    assert np.abs(run(module, "cos_approx", x) - np.cos(x.astype(np.float64))).max() <= 2.0**-20.5
    small = (x / 8).astype(np.float32)
    assert rel(run(module, "tanh_approx", small), np.tanh(small.astype(np.float64))).max() <= 2.0**-10.987
    assert rel(run(module, "rsqrt_approx", pos), 1 / np.sqrt(pos.astype(np.float64))).max() <= 2.0**-22.9
    assert rel(run(module, "rcp_approx", x), 1 / x.astype(np.float64)).max() <= 2.0**-23
    assert rel(run(module, "sqrt_approx", pos), np.sqrt(pos.astype(np.float64))).max() <= 2.0**-23


def test_ftz_sat_min_max(module):
    a = np.array([1e-39, -1e-39, 0.75, 0.5, -3, np.nan, 2, 1] * (N // 8), np.float32)
    b = np.array([0, 0, 0.5, -0.25, 1, 1, np.nan, -0.0] * (N // 8), np.float32)
    np.testing.assert_array_equal(run(module, "add_ftz_sat", a, b)[:8], np.array([0, 0, 1, 0.25, 0, 0, 0, 1], np.float32))
    mx = run(module, "max_nan", a, b)[:8]
    assert np.isnan(mx[5]) and np.isnan(mx[6]) and mx[2] == 0.75
    mn = run(module, "min_plain", a, b)[:8]
    assert mn[5] == 1 and mn[6] == 2 and mn[7] == 0.0 and np.signbit(mn[7])  # NaN ignored; -0 < +0


@pytest.mark.parametrize("fmt, mode", [(f, m) for f in ("f16", "bf16") for m in MODES])
def test_cvt_to_16_bit_floats_with_each_rounding(module, fmt, mode):
    rng = np.random.default_rng(5)
    a = floats(rng)
    d = run(module, f"{fmt}_{mode}", a, out_dtype=np.uint16)
    for i in range(N):
        x = Fraction(float(a[i]))
        value = float(d[i:i + 1].view(np.float16)[0]) if fmt == "f16" else \
            float((d[i:i + 1].astype(np.uint32) << 16).view(np.float32)[0])
        # neighbours on the 16-bit grid: step the code
        code = int(d[i])
        step = lambda c, up: (c + 1 if (c & 0x8000) == 0 else c - 1) if up else (c - 1 if (c & 0x8000) == 0 and c else c + 1)  # noqa: E731
        dec = (lambda c: float(np.array([c], np.uint16).view(np.float16)[0])) if fmt == "f16" else \
            (lambda c: float((np.array([c], np.uint32) << 16).view(np.float32)[0]))
        s = (value > x) - (value < x)
        if s == 0:
            continue
        other = dec(step(code, s < 0))
        lo, hi = sorted((value, other))
        assert lo <= x <= hi, (a[i], value, other)
        if mode == "rz":
            assert abs(value) <= abs(x)
        elif mode == "rm":
            assert value <= x
        elif mode == "rp":
            assert value >= x
        else:
            assert abs(Fraction(value) - x) <= abs(Fraction(other) - x)


def test_cvt_to_integers_saturates_and_rounds(module):
    a = np.array([2.5, -2.5, 3.5, -0.5, 1e10, -1e10, np.nan, 2.7] * (N // 8), np.float32)
    expect = {"rni": [2, -2, 4, 0, 2**31 - 1, -2**31, 0, 3], "rzi": [2, -2, 3, 0, 2**31 - 1, -2**31, 0, 2],
              "rmi": [2, -3, 3, -1, 2**31 - 1, -2**31, 0, 2], "rpi": [3, -2, 4, 0, 2**31 - 1, -2**31, 0, 3]}
    for mode, values in expect.items():
        np.testing.assert_array_equal(run(module, f"s32_{mode}", a, out_dtype=np.int32)[:8], values)
    np.testing.assert_array_equal(run(module, "u8_sat_rni", a, out_dtype=np.int32)[:8], [2, 0, 4, 0, 255, 0, 0, 3])


def test_packed_conversions(module):
    rng = np.random.default_rng(9)
    a, b = floats(rng), floats(rng)
    h = run(module, "pack_f16x2", a, b, out_dtype=np.uint32)
    np.testing.assert_array_equal((h >> 16).astype(np.uint16).view(np.float16), a.astype(np.float16))  # a high
    np.testing.assert_array_equal((h & 0xFFFF).astype(np.uint16).view(np.float16), b.astype(np.float16))
    bf = run(module, "pack_bf16x2", a, b, out_dtype=np.uint32)
    ta = torch.from_numpy(a).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal((bf >> 16).astype(np.uint16), ta)
    tf = run(module, "tf32_rna", a, a, out_dtype=np.uint32)
    bits = a.view(np.uint32).astype(np.uint64)
    np.testing.assert_array_equal(tf, ((bits + 0x1000) & 0xFFFFE000).astype(np.uint32))  # ties away from zero


@pytest.mark.parametrize("fmt", ["e4m3", "e5m2"])
def test_fp8_pairs_round_to_nearest_and_saturate(module, fmt):
    rng = np.random.default_rng(13)
    a, b = floats(rng) * np.float32(4), floats(rng)
    a[:4] = (1e6, -1e6, np.inf, 0.0)
    d, back = np.zeros(N, np.uint16), np.zeros(N, np.uint32)
    module.get_function(f"fp8_{fmt}")((N // 64,), (64,), (a, b, d, back))
    dtype = torch.float8_e4m3fn if fmt == "e4m3" else torch.float8_e5m2
    largest = 448.0 if fmt == "e4m3" else 57344.0
    clipped = np.clip(a, -largest, largest)
    expect_hi = torch.from_numpy(clipped).to(dtype).view(torch.uint8).numpy()
    expect_lo = torch.from_numpy(np.clip(b, -largest, largest)).to(dtype).view(torch.uint8).numpy()
    np.testing.assert_array_equal((d >> 8).astype(np.uint8), expect_hi)
    np.testing.assert_array_equal((d & 0xFF).astype(np.uint8), expect_lo)
    np.testing.assert_array_equal((back >> 16).astype(np.uint16).view(np.float16),
                                  torch.from_numpy(expect_hi).view(dtype).float().numpy().astype(np.float16))


def _u32(rng, n=N):
    return rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)


def test_bit_manipulation_matches_the_isa(module):
    rng = np.random.default_rng(17)
    a, b, c = _u32(rng), _u32(rng), _u32(rng)
    sel = (c & 0xFFFF).astype(np.uint32)
    got = run(module, "prmt", a, b, sel, out_dtype=np.uint32)
    for i in range(N):
        x = int(a[i]) | int(b[i]) << 32
        want = 0
        for k in range(4):
            s = int(sel[i]) >> 4 * k & 0xF
            byte = x >> 8 * (s & 7) & 0xFF
            want |= (0xFF if s & 8 and byte & 0x80 else 0 if s & 8 else byte) << 8 * k
        assert got[i] == want
    n = (c & 63).astype(np.uint32)
    wide = (b.astype(np.uint64) << np.uint64(32)) | a.astype(np.uint64)
    np.testing.assert_array_equal(run(module, "shf_l_wrap", a, b, n, out_dtype=np.uint32),
                                  ((wide << (n & 31).astype(np.uint64)) >> np.uint64(32)).astype(np.uint32))
    np.testing.assert_array_equal(run(module, "shf_r_clamp", a, b, n, out_dtype=np.uint32),
                                  (wide >> np.minimum(n, 32).astype(np.uint64)).astype(np.uint32))
    pos, length = (b & 0xFF).astype(np.uint32) % 40, (c & 0xFF).astype(np.uint32) % 40
    bu = run(module, "bfe_u32", a, pos, length, out_dtype=np.uint32)
    bs = run(module, "bfe_s32", a, pos, length, out_dtype=np.uint32)
    for i in range(N):
        p, ln, x = int(pos[i]), int(length[i]), int(a[i])
        field = [(x >> min(p + j, 31)) & 1 if p + j <= 31 else None for j in range(32)]
        ubits = [field[j] if j < ln and field[j] is not None else 0 for j in range(32)]
        sbit = 0 if ln == 0 else (x >> min(p + ln - 1, 31)) & 1
        sbits = [field[j] if j < ln and field[j] is not None else sbit for j in range(32)]
        assert bu[i] == sum(v << j for j, v in enumerate(ubits)), (x, p, ln)
        assert bs[i] == sum(v << j for j, v in enumerate(sbits)), (x, p, ln)
    lop = np.zeros(4 * N, np.uint32)
    module.get_function("lop3")((N // 64,), (64,), (a, b, c, lop))
    np.testing.assert_array_equal(lop[0::4], a ^ b ^ c)
    np.testing.assert_array_equal(lop[1::4], (a & b) | (a & c) | (b & c))
    np.testing.assert_array_equal(lop[2::4], (a & b) | (~a & c))
    np.testing.assert_array_equal(lop[3::4], a & b & c)
    ctl = (rng.integers(0, 34, N) | rng.integers(0, 34, N) << 8).astype(np.uint32)
    fi = run(module, "bfi", a, b, ctl, out_dtype=np.uint32)
    for i in range(N):
        p, ln = int(ctl[i]) & 0xFF, int(ctl[i]) >> 8 & 0xFF
        f = int(b[i])
        for j in range(ln):
            if p + j <= 31:
                f = f & ~(1 << (p + j)) | ((int(a[i]) >> j) & 1) << (p + j)
        assert fi[i] == f
    np.testing.assert_array_equal(run(module, "xor_b32", a, b, out_dtype=np.uint32), a ^ b)
    np.testing.assert_array_equal(run(module, "popc", a, out_dtype=np.uint32), [bin(int(x)).count("1") for x in a])
    np.testing.assert_array_equal(run(module, "clz", a >> (a & 31), out_dtype=np.uint32),
                                  [32 - int(x).bit_length() for x in a >> (a & 31)])
    np.testing.assert_array_equal(run(module, "brev", a, out_dtype=np.uint32), [int(f"{int(x):032b}"[::-1], 2) for x in a])


def test_setp_selp_and_guards(module):
    a = np.array([1, -1, 2, np.nan, 0.5, 3] * (N // 6) + [0] * (N % 6), np.float32)
    b = np.array([2, -2, 2, 1, np.nan, 0] * (N // 6) + [0] * (N % 6), np.float32)
    d = run(module, "setp_selp", a, b, out_dtype=np.uint32)
    for i in range(N):
        p = bool(a[i] < b[i])
        q = not p  # setp's second destination is the complement (NaN included)
        r = (bool(a[i] > 0) or bool(np.isnan(a[i]))) and q
        assert d[i] == int(p) + 2 * int(r), (a[i], b[i], d[i])


def test_packed_half_arithmetic_rounds_each_half_once(module):
    rng = np.random.default_rng(19)
    h = lambda: rng.standard_normal((N, 2)).astype(np.float16)  # noqa: E731
    a, b, c = h(), h(), h()
    as32 = lambda x: x.view(np.uint32).reshape(N)  # noqa: E731
    got = run(module, "fma_f16x2", as32(a), as32(b), as32(c), out_dtype=np.uint32).view(np.float16).reshape(N, 2)
    np.testing.assert_array_equal(got, (a.astype(np.float64) * b + c).astype(np.float16))
    got = run(module, "add_f16x2", as32(a), as32(b), out_dtype=np.uint32).view(np.float16).reshape(N, 2)
    np.testing.assert_array_equal(got, (a.astype(np.float64) + b).astype(np.float16))
    got = run(module, "max_f16x2", as32(a), as32(b), out_dtype=np.uint32).view(np.float16).reshape(N, 2)
    np.testing.assert_array_equal(got, np.maximum(a, b))
    ta, tb, tc = (torch.randn(N, 2, generator=torch.Generator().manual_seed(s)).to(torch.bfloat16) for s in (1, 2, 3))
    bits = lambda t: t.view(torch.int32).numpy().view(np.uint32).reshape(N)  # noqa: E731
    got = run(module, "fma_bf16x2", bits(ta), bits(tb), bits(tc), out_dtype=np.uint32)
    want = (ta.double() * tb.double() + tc.double()).to(torch.bfloat16)
    np.testing.assert_array_equal(got, bits(want))
