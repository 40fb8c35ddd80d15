"""attention_decode (split-KV decoding) through the host backend: the split rule, random shapes
against the float64 reference by the family's pass rule, and the host's bug finders."""

import math

import pytest
import torch

from suite import validate
from suite.backends import CHECKS, get_backend
from suite.backends.host_backend import HostBackend
from suite.errors import InputError
from suite.kernels import attention as spec
from suite.kernels import get_family
from suite.references.attention import attention_reference

FAMILY = get_family("attention")


def _qkv(seed, b, hq, hkv, sq, sk, d, dtype):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(b, h, s, d, generator=gen).to(dtype) for h, s in ((hq, sq), (hkv, sk), (hkv, sk))]


def _decode(q, k, v, causal, backend, scale=None):
    out = torch.full(q.shape, math.nan, dtype=q.dtype)
    again = spec.decode_launcher(q, k, v, out, causal, scale, backend)
    again()
    return out, again


def _judge(out, q, k, v, causal, scale=None):
    ref64 = attention_reference(q, k, v, causal=causal, scale=scale)
    ref_lowp = attention_reference(q, k, v, causal=causal, scale=scale, dtype=q.dtype)
    return validate.check(out, ref64, ref_lowp, FAMILY.tolerances[str(q.dtype).removeprefix("torch.")])


def _plan(b, hq, hkv, sq, sk, d, causal):
    return spec.decode_plan(spec.decode_tile(d), b, hq, hkv, sq, sk, causal, HostBackend.sm_count)


def test_split_count_follows_flash_attention_2():
    assert spec.decode_splits(106, 132, 64) == 1  # 80 % of the SMs are busy without splitting
    assert spec.decode_splits(1, 132, 16) == 16  # one block: as many splits as key blocks
    assert spec.decode_splits(8, 132, 16) == 16
    # waves/ceil(waves) of the eligible counts 1, 2, 3, 4, 6, 8, 16: 0.76 x 4, 0.91, 0.87, 0.93
    assert spec.decode_splits(100, 132, 16) == 6
    assert spec.decode_splits(1, 132, 1) == 1


def test_plan_has_no_empty_split_and_only_the_last_ragged():
    for sk in range(1, 2000, 37):
        splits, per_split = _plan(1, 8, 1, 1, sk, 64, "none")
        assert per_split % 64 == 0 and (splits - 1) * per_split < sk <= splits * per_split
    # causal top-left: row i sees keys 0..i only, so only those are split
    assert _plan(1, 8, 1, 4, 5000, 64, "top_left") == (1, 64)


# (batch, heads_q, heads_kv, seq_q, seq_k, head_dim, causal, dtype): what each covers is on its line
SHAPES = [
    (1, 8, 1, 1, 1000, 64, "none", torch.float16),          # GQA 8:1, 16 splits, ragged last split
    (2, 8, 2, 4, 517, 128, "bottom_right", torch.bfloat16),  # causal corner in the last split
    (1, 4, 4, 3, 200, 59, "top_left", torch.float16),        # top-left: one split of 3 keys; odd head dim
    (1, 16, 1, 5, 300, 32, "bottom_right", torch.float16),   # 80 packed rows: two row blocks, idle warps
    (1, 2, 2, 16, 10, 96, "bottom_right", torch.bfloat16),   # seq_k < seq_q: rows that see no key give 0
    (120, 1, 1, 2, 130, 64, "none", torch.float16),          # 120 blocks fill the SMs: one split
]


@pytest.mark.parametrize("b, hq, hkv, sq, sk, d, causal, dtype", SHAPES,
                         ids=[f"b{s[0]}-h{s[1]}/{s[2]}-s{s[3]}x{s[4]}-d{s[5]}-{s[6]}" for s in SHAPES])
def test_matches_the_reference(b, hq, hkv, sq, sk, d, causal, dtype):
    q, k, v = _qkv(sq * sk + d, b, hq, hkv, sq, sk, d, dtype)
    out, _ = _decode(q, k, v, causal, get_backend("host"))
    verdict = _judge(out, q, k, v, causal)
    assert verdict.passed, verdict.detail


def test_the_shapes_cover_one_and_several_splits():
    splits = [_plan(b, hq, hkv, sq, sk, d, causal)[0] for b, hq, hkv, sq, sk, d, causal, _ in SHAPES]
    assert splits[0] == 16 and splits[1] > 1 and splits[2] == 1 and splits[-1] == 1


def test_relaunch_rewrites_the_same_output_and_scale_sign_is_honoured():
    q, k, v = _qkv(3, 1, 4, 1, 2, 400, 64, torch.float16)
    out, again = _decode(q, k, v, "none", get_backend("host"), scale=-0.3)
    assert _judge(out, q, k, v, "none", scale=-0.3).passed
    first = out.clone()
    out.fill_(math.nan)
    again()
    assert torch.equal(out, first)


def test_passes_every_host_check():
    """memcheck, racecheck, initcheck, synccheck on a multi-split, ragged, causal GQA case with idle warps."""
    q, k, v = _qkv(4, 1, 4, 1, 3, 333, 40, torch.bfloat16)
    out, _ = _decode(q, k, v, "bottom_right", HostBackend(checks=CHECKS))
    assert _judge(out, q, k, v, "bottom_right").passed


def test_family_runs_it_for_short_forward_queries_only():
    base = {"batch": 1, "heads_q": 8, "heads_kv": 1, "seq_q": 16, "seq_k": 4096, "head_dim": 128, "causal": "none",
            "pass": "forward", "grad_mode": "fast", "tiles": spec.AUTO}
    assert FAMILY.supports(spec.DECODE, "float16", base) and FAMILY.supports(spec.DECODE, "bfloat16", base)
    assert not FAMILY.supports(spec.DECODE, "float32", base)
    for change in ({"seq_q": 17}, {"head_dim": 129}, {"pass": "backward"}, {"tiles": "128x32w4s2"}):
        assert not FAMILY.supports(spec.DECODE, "float16", base | change)


def test_head_dims_above_128_are_an_error():
    q, k, v = _qkv(5, 1, 1, 1, 1, 8, 160, torch.float16)
    with pytest.raises(InputError, match="attention_decode supports head dims up to 128; got 160"):
        _decode(q, k, v, "none", get_backend("host"))


def test_every_decode_kernel_is_an_instantiation():
    names = {i.name_expression for i in FAMILY.instantiations()}
    for dtype in spec.DECODE_DTYPES:
        for tiles in spec.DECODE_PLAN.values():
            for cfg in tiles:
                assert set(spec.decode_names(dtype, cfg)) <= names


@pytest.mark.parametrize("arch", ["sm_80", "sm_86", "sm_90"])
def test_decode_at_d128_fits_each_architectures_shared_memory(arch):
    """The host backend refuses a block more shared memory than `arch` gives one (sm_86: 99 KiB)."""
    q, k, v = _qkv(5, 1, 8, 1, 2, 150, 128, torch.bfloat16)
    backend = HostBackend(arch=arch)
    assert spec.decode_shared_bytes(spec.decode_tile(128, arch)) <= backend.describe()["max_dynamic_smem_bytes"]
    out, _ = _decode(q, k, v, "none", backend)
    verdict = _judge(out, q, k, v, "none")
    assert verdict.passed, verdict.detail
