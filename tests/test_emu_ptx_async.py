"""cp.async of inline PTX on the host backend against the PTX ISA: 4/8/16-byte copies (.ca, .cg),
src-size zero fill, ignore-src, cache hints, and wait_group's "at most N pending groups"
(tests/kernels/ptx_async.cu)."""

from pathlib import Path

import numpy as np
import pytest

from suite.backends import get_backend
from suite.errors import KernelFault

SOURCE = Path(__file__).parent / "kernels" / "ptx_async.cu"
COPIES = ["cp_ca_4", "cp_ca_8", "cp_ca_16", "cp_cg_16"]
WAITS = ["wait_groups<0>", "wait_groups<1>", "wait_groups<3>"]


@pytest.fixture(scope="module")
def module():
    return get_backend("host").load_module(SOURCE, COPIES + ["cp_ignore_src"] + WAITS)


@pytest.mark.parametrize("name", COPIES)
def test_src_size_copies_that_many_bytes_and_zero_fills_the_rest(module, name):
    size = int(name.rsplit("_", 1)[1])
    rng = np.random.default_rng(size)
    src = rng.integers(1, 256, 32 * size, dtype=np.uint8)
    src_size = rng.integers(0, size + 1, 32).astype(np.uint32)
    src_size[:2] = (0, size)  # the two ends: all zero fill, a full copy
    out = np.full(32 * size, 7, np.uint8)
    module.get_function(name)((1,), (32,), (src, out, src_size))
    for t in range(32):
        chunk = out[t * size:(t + 1) * size]
        n = src_size[t]
        np.testing.assert_array_equal(chunk[:n], src[t * size:t * size + n])
        assert not chunk[n:].any(), (t, n)


def test_src_size_above_the_copy_size_is_a_fault_naming_the_line(module):
    src_size = np.full(32, 5, np.uint32)
    with pytest.raises(KernelFault, match=r"src-size is larger than the copy size") as caught:
        module.get_function("cp_ca_4")((1,), (32,), (np.ones(128, np.uint8), np.zeros(128, np.uint8), src_size))
    assert "ptx_async.cu:14" in str(caught.value)


def test_ignore_src_zero_fills_and_cache_hints_are_accepted(module):
    rng = np.random.default_rng(0)
    src = rng.integers(1, 256, 32 * 16, dtype=np.uint8)
    ignore = rng.integers(0, 2, 32).astype(np.uint32)
    out = np.full(32 * 16, 7, np.uint8)
    module.get_function("cp_ignore_src")((1,), (32,), (src, out, ignore))
    expect = np.where(np.repeat(ignore, 16) != 0, 0, src)
    np.testing.assert_array_equal(out, expect)


@pytest.mark.parametrize("pending", [0, 1, 3])
def test_wait_group_leaves_at_most_n_newest_groups_pending(module, pending):
    src = np.arange(4 * 32, dtype=np.float32) + 1
    seen = np.zeros(4 * 32, np.float32)
    module.get_function(f"wait_groups<{pending}>")((1,), (32,), (src, seen))
    landed = 4 - pending
    np.testing.assert_array_equal(seen[:landed * 32], src[:landed * 32])
    # the emulation applies a group at the wait that covers it: the newest `pending` are still poisoned
    assert np.isnan(seen[landed * 32:]).all()
