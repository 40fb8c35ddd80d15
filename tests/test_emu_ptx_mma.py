"""mma.sync forms of inline PTX on the host backend against the PTX ISA's definition ("Matrix
Fragments for mma.m16n8k*"): registers built lane by lane from the ISA's fragment tables here, D
decoded the same way and compared with A B + C computed in float64 (or exactly, for integers),
on random data (tests/kernels/ptx_mma_forms.cu)."""

from pathlib import Path

import numpy as np
import pytest

from suite.backends import get_backend

SOURCE = Path(__file__).parent / "kernels" / "ptx_mma_forms.cu"
# name: (K, input type, accumulator type C, result type D)
FORMS = {
    "m16n8k16_f32_f16": (16, "f16", "f32", "f32"), "m16n8k16_f32_bf16": (16, "bf16", "f32", "f32"),
    "m16n8k16_f16_f16": (16, "f16", "f16", "f16"), "m16n8k8_f32_f16": (8, "f16", "f32", "f32"),
    "m16n8k8_f32_bf16": (8, "bf16", "f32", "f32"), "m16n8k8_f16_f16": (8, "f16", "f16", "f16"),
    "m16n8k8_f32_tf32": (8, "tf32", "f32", "f32"), "m16n8k4_f32_tf32": (4, "tf32", "f32", "f32"),
    "m16n8k32_s32_s8": (32, "s8", "s32", "s32"), "m16n8k32_s32_u8": (32, "u8", "s32", "s32"),
    "m16n8k32_s32_s8_sat": (32, "s8", "s32", "s32"), "m16n8k16_s32_s8": (16, "s8", "s32", "s32"),
    "m16n8k32_f32_e4m3": (32, "e4m3", "f32", "f32"), "m16n8k32_f32_e5m2": (32, "e5m2", "f32", "f32"),
}
BITS = {"f16": 16, "bf16": 16, "tf32": 32, "s8": 8, "u8": 8, "e4m3": 8, "e5m2": 8}


@pytest.fixture(scope="module")
def module():
    return get_backend("host").load_module(SOURCE, list(FORMS))


def a_position(i, lane, bits):
    """(row, col) of element i of A in `lane` (PTX ISA tables; p elements per 32-bit register)."""
    g, t, p = lane // 4, lane % 4, 32 // bits
    return g + 8 * ((i // p) % 2), p * t + i % p + 4 * p * (i // (2 * p))


def b_position(i, lane, bits):
    g, t, p = lane // 4, lane % 4, 32 // bits
    return p * t + i % p + 4 * p * (i // p), g


def c_position(i, lane):
    g, t = lane // 4, lane % 4
    return g + 8 * (i // 2), 2 * t + i % 2


def test_the_layouts_match_the_isa_worked_examples():
    # shared/reference/ptx-and-limits.md section 1: lane 5 (g 1, t 1) of m16n8k16 with 16-bit inputs.
    assert [a_position(i, 5, 16) for i in range(8)] == [(1, 2), (1, 3), (9, 2), (9, 3), (1, 10), (1, 11), (9, 10), (9, 11)]
    assert [b_position(i, 31, 16) for i in range(4)] == [(6, 7), (7, 7), (14, 7), (15, 7)]
    # m16n8k32 .s8 (ISA): a_i at row g for i < 4 or 8 <= i < 12, col 4t + i%4 (+16 for i >= 8)
    assert [a_position(i, 6, 8) for i in (0, 3, 4, 8, 15)] == [(1, 8), (1, 11), (9, 8), (1, 24), (9, 27)]
    # m16n8k8 .tf32: a0 (g, t), a1 (g+8, t), a2 (g, t+4), a3 (g+8, t+4)
    assert [a_position(i, 7, 32) for i in range(4)] == [(1, 3), (9, 3), (1, 7), (9, 7)]


def fp8_value(code, exp_bits):
    """An fp8 code's value (e4m3: bias 7, no infinities; e5m2: bias 15, IEEE-like)."""
    man_bits, bias = 7 - exp_bits, (1 << (exp_bits - 1)) - 1
    sign = -1.0 if code & 0x80 else 1.0
    e, m = (code & 0x7F) >> man_bits, code & ((1 << man_bits) - 1)
    if e == 0:
        return sign * m * 2.0 ** (1 - bias - man_bits)
    return sign * (1 + m / 2**man_bits) * 2.0 ** (e - bias)


def random_inputs(rng, kind, shape):
    """(codes as unsigned ints of the type's width, their values as float64)."""
    if kind == "f16":
        v = rng.standard_normal(shape).astype(np.float16)
        return v.view(np.uint16).astype(np.uint32), v.astype(np.float64)
    if kind == "bf16":
        bits = (rng.standard_normal(shape).astype(np.float32).view(np.uint32) >> 16).astype(np.uint32)
        return bits, (bits << 16).astype(np.uint32).view(np.float32).astype(np.float64)
    if kind == "tf32":  # any fp32 bits: the tensor core reads the top 19
        bits = rng.standard_normal(shape).astype(np.float32).view(np.uint32)
        return bits, (bits & 0xFFFFE000).astype(np.uint32).view(np.float32).astype(np.float64)
    if kind in ("s8", "u8"):
        codes = rng.integers(0, 256, shape).astype(np.uint32)
        vals = codes.astype(np.int64) - 256 * (codes >= 128) if kind == "s8" else codes.astype(np.int64)
        return codes, vals
    exp_bits = 4 if kind == "e4m3" else 5
    nan = (lambda c: (c & 0x7F) == 0x7F) if kind == "e4m3" else (lambda c: (c & 0x7C) == 0x7C)
    codes = rng.integers(0, 256, shape).astype(np.uint32)
    codes[np.vectorize(nan)(codes)] = 0x38  # keep to finite values
    return codes, np.vectorize(lambda c: fp8_value(int(c), exp_bits))(codes)


def pack(values_per_lane, bits, regs):
    """[32][elements] codes -> [32][regs] uint32, element i in register i // p at bit (i % p) * bits."""
    out = np.zeros((32, regs), np.uint32)
    p = 32 // bits
    for lane in range(32):
        for i, v in enumerate(values_per_lane[lane]):
            out[lane, i // p] |= np.uint32(int(v) << (bits * (i % p)) & 0xFFFFFFFF)
    return out


@pytest.mark.parametrize("name", list(FORMS))
def test_mma_form_matches_the_isa(module, name):
    K, kind, ct, dt = FORMS[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    bits = BITS[kind]
    a_codes, A = random_inputs(rng, kind, (16, K))
    b_codes, B = random_inputs(rng, kind, (K, 8))
    if ct == "f32":
        C = rng.standard_normal((16, 8)).astype(np.float32)
        c_regs = np.array([[C[c_position(i, l)].view(np.uint32) for i in range(4)] for l in range(32)], np.uint32)
    elif ct == "f16":
        C = rng.standard_normal((16, 8)).astype(np.float16)
        c_regs = pack([[C[c_position(i, l)].view(np.uint16) for i in range(4)] for l in range(32)], 16, 2)
    else:  # near the int32 limit, so that wrapping and .satfinite differ
        C = rng.integers(2**31 - 2**20, 2**31 - 1, (16, 8)).astype(np.int64) * rng.choice([-1, 1], (16, 8))
        c_regs = np.array([[np.uint32(C[c_position(i, l)] & 0xFFFFFFFF) for i in range(4)] for l in range(32)], np.uint32)
    na, nb = K * bits // 64, K * bits // 128
    a_regs = pack([[a_codes[a_position(i, l, bits)] for i in range(16 * K // 32)] for l in range(32)], bits, na)
    b_regs = pack([[b_codes[b_position(i, l, bits)] for i in range(8 * K // 32)] for l in range(32)], bits, nb)
    nd = 2 if dt == "f16" else 4
    d = np.zeros((32, nd), np.uint32)
    module.get_function(name)((1,), (32,), (a_regs, b_regs, c_regs, d))
    exact = A @ B + C.astype(np.float64 if ct != "s32" else np.int64)
    D = np.zeros((16, 8), np.float64 if dt != "s32" else np.int64)
    for lane in range(32):
        for i in range(4):
            if dt == "f32":
                D[c_position(i, lane)] = d[lane, i].view(np.float32)
            elif dt == "f16":
                D[c_position(i, lane)] = np.uint16(d[lane, i // 2] >> (16 * (i % 2)) & 0xFFFF).view(np.float16)
            else:
                D[c_position(i, lane)] = np.int64(d[lane, i].view(np.int32))
    if dt == "s32":
        expect = np.clip(exact, -2**31, 2**31 - 1) if name.endswith("_sat") else (exact + 2**31) % 2**32 - 2**31
        np.testing.assert_array_equal(D, expect)
    else:  # rounded once from the exact sum: within half an ulp of the result type
        tiny = np.finfo(np.float32 if dt == "f32" else np.float16)
        np.testing.assert_allclose(D, exact.astype(np.float32 if dt == "f32" else np.float16), rtol=tiny.eps, atol=0)
