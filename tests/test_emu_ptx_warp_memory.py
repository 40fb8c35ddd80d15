"""Warp collectives, barriers, atomics and memory forms of inline PTX on the host backend against
the PTX ISA (tests/kernels/ptx_warp_memory.cu): shfl.sync with clamps and segments, vote/match/
redux/activemask, named barriers with counts and bar.red, ld/st vectors in each space, cvta and
the 32-bit shared window, special registers, red/atom; stmatrix and movmatrix (ptx_stmatrix.cu)."""

from pathlib import Path

import numpy as np
import pytest

from suite.backends import get_backend
from suite.backends.host_backend import HostBackend
from suite.errors import KernelFault

SOURCE = Path(__file__).parent / "kernels" / "ptx_warp_memory.cu"
NAMES = ["shfl_modes", "votes", "named_barriers", "memory_forms", "atomics"]


@pytest.fixture(scope="module")
def module():
    return get_backend("host").load_module(SOURCE, NAMES)


def shfl_reference(mode, lane, b, c):
    """PTX ISA shfl.sync: (source lane, valid)."""
    segmask, clamp = (c >> 8) & 31, c & 31
    max_lane = (lane & segmask) | (clamp & ~segmask)
    min_lane = lane & segmask
    if mode == "up":
        j = lane - b
        return (j, True) if j >= max_lane else (lane, False)
    if mode == "down":
        j = lane + b
    elif mode == "bfly":
        j = lane ^ b
    else:
        j = min_lane | (b & 31 & ~segmask)
    return (j, True) if j <= max_lane else (lane, False)


@pytest.mark.parametrize("seed", range(4))
def test_shfl_sync_modes_clamps_and_segments(module, seed):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 2**32, 32, dtype=np.uint64).astype(np.uint32)
    b = rng.integers(0, 32, 4).astype(np.uint32)
    widths = rng.choice([1, 2, 4, 8, 16, 32], 4)
    # CUDA's encodings: idx/down/bfly clamp 31 within a segment, up clamp 0
    c = np.array([((32 - w) << 8) | (0 if k == 1 else 31) for k, w in enumerate(widths)], np.uint32)
    out = np.zeros(4 * 32, np.uint32)
    module.get_function("shfl_modes")((1,), (32,), (values, b, c, out))
    for k, mode in enumerate(("idx", "up", "down", "bfly")):
        for lane in range(32):
            j, valid = shfl_reference(mode, lane, int(b[k]), int(c[k]))
            assert out[k * 32 + lane] == (values[j] if valid else 0xDEADBEEF), (mode, lane, b[k], c[k])


def test_votes_matches_and_reductions(module):
    rng = np.random.default_rng(1)
    pred = rng.integers(0, 2, 32).astype(np.uint32)
    value = rng.integers(0, 4, 32).astype(np.uint32)
    out = np.zeros(32 * 10, np.uint32)
    module.get_function("votes")((1,), (32,), (pred, value, out))
    o = out.reshape(32, 10)
    ballot = sum(int(p) << i for i, p in enumerate(pred))
    assert (o[:, 0] == ballot).all()
    assert (o[:, 1] == int(pred.all())).all() and (o[:, 2] == int((pred == 0).any())).all()
    assert (o[:, 3] == int(pred.all() or not pred.any())).all()
    for lane in range(32):
        same = sum(1 << k for k in range(32) if value[k] == value[lane])
        assert o[lane, 4] == same
    all_same = len(set(value.tolist())) == 1
    assert (o[:, 5] == (0xFFFFFFFF if all_same else 0)).all() and (o[:, 6] == int(all_same)).all()
    assert (o[:, 7] == value.sum()).all() and (o[:, 8] == value.min()).all() and (o[:, 9] == 0xFFFFFFFF).all()


@pytest.mark.parametrize("checks", [frozenset(), frozenset({"racecheck", "synccheck"})])
def test_named_barriers_with_counts_and_bar_red(checks):
    fn = HostBackend(checks=checks, threads=2).load_module(SOURCE, ["named_barriers"]).get_function("named_barriers")
    out = np.zeros(256, np.uint32)
    fn((1,), (128,), (out,))
    t = np.arange(128)
    np.testing.assert_array_equal(out[:64], (t[:64] ^ 32) * 3)
    np.testing.assert_array_equal(out[96:128], (t[96:128] - 32) * 5)
    assert (out[128:] == sum(1 for x in t if x % 3 == 0)).all()


def test_memory_forms_shared_addresses_and_special_registers(module):
    rng = np.random.default_rng(2)
    data = rng.integers(0, 2**32, 4 * 64, dtype=np.uint64).astype(np.uint32)
    out = np.zeros(2 * 64, np.uint32)
    addrs = np.zeros(8 * 64, np.uint64)
    module.get_function("memory_forms")((3,), (64,), (data, out, addrs))
    rows = data.reshape(64, 4)[:, ::-1]  # each thread stored its four words reversed
    np.testing.assert_array_equal(out.reshape(64, 2), np.roll(rows, -1, axis=0)[:, 2:])
    a = addrs.reshape(64, 8)
    assert (a[:, 0] == a[:, 1]).all() and (a[:, 2] == a[:, 3]).all()  # cvta there and back
    shared = a[:, 3]
    assert shared.max() < 228 * 1024 and (np.diff(shared.astype(np.int64)) == 16).all()  # a GPU-like window
    t = np.arange(64)
    assert (a[:, 4] == t).all() and (a[:, 5] == t % 32).all()
    assert ((a[:, 6] & 0xFFFF) == t // 32).all() and ((a[:, 6] >> 16 & 0xFFFF) == 2).all() and ((a[:, 6] >> 32) == 64).all()
    assert (a[:, 7] == 0b011).all()  # __isShared(tile), __isGlobal(in), not __isShared(in)


def test_atomics_in_global_and_shared_memory(module):
    rng = np.random.default_rng(3)
    keys = rng.integers(0, 1000, 4 * 64).astype(np.uint32)
    hist = np.zeros(8, np.uint32)
    cas = np.zeros(5, np.uint32)
    module.get_function("atomics")((4,), (64,), (keys, hist, cas))
    np.testing.assert_array_equal(hist, np.bincount(keys % 8, minlength=8))
    assert 1 <= cas[0] <= 4 and (cas[1:] == 7).all()  # one block's CAS won


def test_stmatrix_is_the_inverse_of_the_ldmatrix_layout_and_movmatrix_transposes():
    module = get_backend("host").load_module(SOURCE.with_name("ptx_stmatrix.cu"), ["store_matrices"])
    rng = np.random.default_rng(4)
    regs = rng.integers(0, 2**32, 32 * 4, dtype=np.uint64).astype(np.uint32)
    out = np.zeros(2 * 4 * 64, np.uint16)
    moved = np.zeros(32, np.uint32)
    module.get_function("store_matrices")((1,), (32,), (regs, out, moved))
    plain, trans = out.reshape(2, 4, 8, 8)
    r = regs.reshape(32, 4)
    for lane in range(32):
        g, t = lane // 4, lane % 4
        for j in range(4):
            lo, hi = int(r[lane, j]) & 0xFFFF, int(r[lane, j]) >> 16
            assert (plain[j, g, 2 * t], plain[j, g, 2 * t + 1]) == (lo, hi)
            assert (trans[j, 2 * t, g], trans[j, 2 * t + 1, g]) == (lo, hi)
    m = np.zeros((8, 8), np.uint32)
    for lane in range(32):
        m[lane // 4, 2 * (lane % 4)], m[lane // 4, 2 * (lane % 4) + 1] = r[lane, 0] & 0xFFFF, r[lane, 0] >> 16
    for lane in range(32):
        g, t = lane // 4, lane % 4
        assert moved[lane] == m[2 * t, g] | m[2 * t + 1, g] << 16


def test_trap_is_a_fault_naming_the_thread_and_line_and_nanosleep_yields(tmp_path):
    source = tmp_path / "trap.cu"
    source.write_text('extern "C" __global__ void k(int* out) {\n'
                      '    asm volatile("nanosleep.u32 %0;" :: "r"(100));\n'
                      '    if (threadIdx.x == 3) asm volatile("trap;");\n'
                      '    out[threadIdx.x] = 1;\n}\n')
    fn = get_backend("host").load_module(source, ["k"]).get_function("k")
    with pytest.raises(KernelFault, match=r"thread \(3, 0, 0\): trap \(inline PTX\) \(.*trap\.cu:3\)"):
        fn((1,), (32,), (np.zeros(32, np.int32),))
