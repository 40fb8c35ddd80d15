"""wgmma on the host backend: m64nNk16 against numpy for every shared-memory layout a descriptor can
describe (K-major and MN-major, no swizzle and the three swizzles), the RS form, f16/bf16 inputs,
f32 and f16 accumulators, scale-d, negated operands, accumulator chaining, the accumulator
fragment layout (PTX's wgmma 64xN D), and each misuse as a fault (tests/kernels/hopper_wgmma.cu)."""

import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from suite.errors import KernelFault
from suite.host import RawModule

SOURCE = Path(__file__).parent / "kernels" / "hopper_wgmma.cu"
LAYOUT_CODE = {"none": 0, "128B": 1, "64B": 2, "32B": 3}
CHUNKS = {"none": 1, "32B": 2, "64B": 4, "128B": 8}  # 16-byte chunks per swizzled row
F16, BF16, F32 = 0, 1, 2


@pytest.fixture(scope="module")
def module():
    return RawModule(path=SOURCE)


def _line(text: str) -> int:
    return next(i for i, line in enumerate(SOURCE.read_text().splitlines(), 1) if text in line)


def descriptor(start: int, lbo: int, sbo: int, swizzle: str) -> int:
    """PTX's 64-bit matrix descriptor: start, LBO and SBO in 16-byte units at bits 0, 16 and 32,
    the layout at bits 62-63."""
    return (start >> 4) | (lbo >> 4) << 16 | (sbo >> 4) << 32 | LAYOUT_CODE[swizzle] << 62


def swizzle(address: int, mode: str) -> int:
    """16-byte chunk c of 128-byte line r goes to chunk c ^ (r mod 2^B) (CUTLASS Swizzle<B,4,3>)."""
    bits = {"none": 0, "32B": 1, "64B": 2, "128B": 3}[mode]
    return address ^ (((address >> 7) & ((1 << bits) - 1)) << 4)


def place(image: np.ndarray, start: int, values: np.ndarray, mn_major: bool, mode: str, lbo: int, sbo: int):
    """Write operand values[mn, k] (2-byte elements) at the canonical layout's addresses."""
    wide = CHUNKS[mode]
    for mn in range(values.shape[0]):
        for k in range(values.shape[1]):
            if not mn_major and mode == "none":
                a = (mn // 8) * sbo + (k // 8) * lbo + (mn % 8) * 16 + (k % 8) * 2
            elif not mn_major:
                a = (mn // 8) * sbo + (mn % 8) * 16 * wide + k * 2
            elif mode == "none":
                a = (mn // 8) * sbo + (k // 8) * lbo + (k % 8) * 16 + (mn % 8) * 2
            else:
                a = (k // 8) * sbo + (k % 8) * 16 * wide + (mn // (8 * wide)) * lbo + (mn % (8 * wide)) * 2
            image[swizzle(start + a, mode): swizzle(start + a, mode) + 2] = values[mn, k:k + 1].view(np.uint8)


def strides(mn_extent: int, mn_major: bool, mode: str) -> tuple[int, int, int]:
    """(LBO, SBO, bytes) of a compact operand of mn_extent x 16 in this layout."""
    wide = CHUNKS[mode]
    if mode == "none" and not mn_major:  # core matrices of 8 rows x 16 bytes: K halves LBO apart, row groups SBO
        return 128, 256, mn_extent * 32
    if mode == "none":  # MN-major core matrices (8 K rows x 8 MN elements): MN groups SBO apart, K halves LBO
        half = -(-mn_extent // 8) * 128
        return half, 128, 2 * half
    if not mn_major:  # 8-row atoms of 16W-byte rows, atoms SBO apart
        return 0, 128 * wide, -(-mn_extent // 8) * 128 * wide
    atom_mn = 8 * wide  # MN-major: 8W elements per row, 16 K rows in two 8-row halves SBO apart
    return 256 * wide, 128 * wide, -(-mn_extent // atom_mn) * 256 * wide


def d_coordinates(tid: int, i: int) -> tuple[int, int]:
    """Register i of thread tid of the warpgroup: row 16w + g + 8((i>>1)&1), column 8(i>>2) + 2t + (i&1)."""
    w, lane = tid // 32, tid % 32
    g, t = lane // 4, lane % 4
    return 16 * w + g + 8 * ((i >> 1) & 1), 8 * (i >> 2) + 2 * t + (i & 1)


def run(module, a, b, n, mode_a, mode_b, tnsp_a, tnsp_b, type_ab=F16, type_d=F32, scale_d=0, d0=None,
        scale_a=1, scale_b=1, rs=False, chain=False, misuse=0, desc_b=None, groups=1):
    """`groups` warpgroups each run the m64nNk16 on an image laid out here; returns D as [groups, 64, n]
    (float64) when groups > 1, else [64, n]."""
    lbo_a, sbo_a, bytes_a = strides(64, tnsp_a, mode_a)
    lbo_b, sbo_b, bytes_b = strides(n, tnsp_b, mode_b)
    start_b = -(-bytes_a // 1024) * 1024
    image = np.zeros(start_b + -(-bytes_b // 1024) * 1024, dtype=np.uint8)
    to_bits = (lambda x: x.astype(np.float16).view(np.uint16)) if type_ab == F16 else \
        (lambda x: (torch.from_numpy(x.astype(np.float32)).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)))
    a_bits, b_bits = to_bits(a), to_bits(b.T.copy())  # B as [n, k]
    place(image, 0, a_bits, tnsp_a, mode_a, lbo_a, sbo_a)
    place(image, start_b, b_bits, tnsp_b, mode_b, lbo_b, sbo_b)
    regs = n // 2 if type_d == F32 else n // 4
    d_init = np.zeros((128, regs), dtype=np.uint32)
    if d0 is not None:
        per_elem = np.zeros((128, n // 2), dtype=np.float32)
        for tid in range(128):
            for i in range(n // 2):
                per_elem[tid, i] = d0[d_coordinates(tid, i)]
        d_init = per_elem.view(np.uint32) if type_d == F32 else per_elem.astype(np.float16).view(np.uint32)
    a_regs = np.zeros((128, 4), dtype=np.uint32)
    for tid in range(128):
        w, g, t = tid // 32, tid % 32 // 4, tid % 4
        for r in range(4):
            row, k = 16 * w + g + 8 * (r & 1), 2 * t + 8 * (r >> 1)
            a_regs[tid, r] = int(a_bits[row, k]) | int(a_bits[row, k + 1]) << 16
    if desc_b is None:
        desc_b = descriptor(start_b, lbo_b, sbo_b, mode_b)
    mma = struct.pack("<QQ10i", descriptor(0, lbo_a, sbo_a, mode_a), desc_b, n,
                      type_ab, type_d, scale_d, scale_a, scale_b, int(tnsp_a), int(tnsp_b), int(rs), int(chain))
    threads = 128 * groups
    d_init, a_regs = np.tile(d_init, (groups, 1)), np.tile(a_regs, (groups, 1))
    out = torch.zeros(threads * regs, dtype=torch.int32)
    module.get_function("gemm")((1,), (threads,), (
        torch.from_numpy(image), np.int32(len(image)), torch.from_numpy(np.frombuffer(mma, dtype=np.uint8).copy()),
        torch.from_numpy(d_init.view(np.int32).ravel().copy()), torch.from_numpy(a_regs.view(np.int32).ravel().copy()),
        out, np.int32(misuse)), shared_mem=len(image))
    got = out.numpy().view(np.float32 if type_d == F32 else np.float16).reshape(threads, n // 2)
    d = np.full((groups, 64, n), np.nan)
    for tid in range(threads):
        for i in range(n // 2):
            d[(tid // 128,) + d_coordinates(tid % 128, i)] = got[tid, i]
    return d if groups > 1 else d[0]


def _operands(n, seed, type_ab=F16):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((64, 16)), rng.standard_normal((16, n))
    cast = (lambda x: x.astype(np.float16).astype(np.float64)) if type_ab == F16 else \
        (lambda x: torch.from_numpy(x).to(torch.bfloat16).double().numpy())
    return cast(a), cast(b)


LAYOUTS = [(ma, mb, ta, tb) for ma in ("none", "32B", "64B", "128B") for mb in ("none", "32B", "64B", "128B")
           for ta, tb in ((False, False), (True, True)) if ma == mb or (ta, tb) == (False, False)]


@pytest.mark.parametrize("mode_a, mode_b, tnsp_a, tnsp_b", LAYOUTS)
def test_ss_gemm_in_every_layout(module, mode_a, mode_b, tnsp_a, tnsp_b):
    n = 64
    a, b = _operands(n, len(mode_a) * 7 + len(mode_b) + tnsp_a)
    d = run(module, a, b, n, mode_a, mode_b, tnsp_a, tnsp_b)
    np.testing.assert_allclose(d, a @ b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", [8, 24, 104, 176, 256])
def test_every_n_and_bf16_with_scale_d_and_negation(module, n):
    a, b = _operands(n, n, BF16)
    d0 = np.random.default_rng(n + 1).standard_normal((64, n)).astype(np.float32)
    d = run(module, a, b, n, "128B", "64B", False, True, type_ab=BF16, scale_d=1, d0=d0, scale_a=-1)
    np.testing.assert_allclose(d, d0 - a @ b, rtol=1e-5, atol=1e-5)


def test_rs_form_takes_a_from_the_registers_fragment(module):
    n = 128
    a, b = _operands(n, 5)
    d = run(module, a, b, n, "none", "128B", False, True, rs=True)
    np.testing.assert_allclose(d, a @ b, rtol=1e-5, atol=1e-5)


def test_each_warpgroup_of_a_block_computes_its_own_tile(module):
    """Warps 4-7 form the second warpgroup: their registers hold the same fragment layout."""
    n = 48
    a, b = _operands(n, 12)
    d = run(module, a, b, n, "64B", "128B", False, False, rs=True, groups=2)
    for group in d:
        np.testing.assert_allclose(group, a @ b, rtol=1e-5, atol=1e-5)


def test_f16_accumulators_and_chained_instructions(module):
    n = 32
    a, b = _operands(n, 9)
    d = run(module, a, b, n, "32B", "32B", False, False, type_d=F16, chain=True)
    np.testing.assert_allclose(d, 2 * (a @ b), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("misuse, message", [
    (1, "wgmma.mma_async .* without a wgmma.fence since this thread's last wgmma.wait_group"),
    (2, "accumulator register 1 of the wgmma.mma_async at .*hopper_wgmma.cu:\\d+ was written between"),
    (3, "an A-fragment register of the RS wgmma.mma_async at .*hopper_wgmma.cu:\\d+ was written between"),
    (4, "lane 16 exited while lane 0 waits at wgmma.mma_async"),
])
def test_register_misuse_is_a_fault_naming_the_line(module, misuse, message):
    a, b = _operands(16, 3)
    with pytest.raises(KernelFault, match=message) as info:
        run(module, a, b, 16, "128B", "128B", False, False, rs=True, misuse=misuse)
    assert f"hopper_wgmma.cu:{_line(f'fault {misuse}')}" in str(info.value)


@pytest.mark.parametrize("desc_b, n, message", [
    (descriptor(0x3F000, 0, 1024, "128B"), 16, r"descriptor B .* addresses shared byte 0x3f.* past the \d+ bytes of the "
                                               r"block's shared memory"),
    (descriptor(8192 + 128, 0, 1024, "128B"), 16, r"descriptor B starts at shared address 0x[0-9a-f]*80, inside a 128-byte "
                                                  r"swizzle atom \(row 1 of 8\)"),
    (descriptor(8192, 0, 1024, "128B") | 1 << 14, 16, "descriptor B = 0x40000040000042.. sets bits the format leaves 0"),
    (descriptor(8192, 0, 1024, "128B") | 1 << 49, 16, "descriptor B has base offset 1"),
    (None, 12, "N = 12; m64nNk16 takes N in 8..256, a multiple of 8"),
])
def test_descriptor_misuse_is_a_fault(module, desc_b, n, message):
    a, b = _operands(16, 4)
    with pytest.raises(KernelFault, match=message):
        run(module, a, b[:, :n] if n < 16 else b, n, "128B", "128B", False, False, desc_b=desc_b)
