"""The attention reference against torch's scaled_dot_product_attention and hand-derived facts."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from suite.references import attention as ref


def _qkv(seed, b, hq, hkv, sq, sk, d, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(b, hq, sq, d, generator=gen, dtype=dtype)
    k = torch.randn(b, hkv, sk, d, generator=gen, dtype=dtype)
    v = torch.randn(b, hkv, sk, d, generator=gen, dtype=dtype)
    return q, k, v


def _sdpa(q, k, v, **kwargs):
    group = q.shape[1] // k.shape[1]
    with sdpa_kernel(SDPBackend.MATH):
        return F.scaled_dot_product_attention(q, k.repeat_interleave(group, 1), v.repeat_interleave(group, 1),
                                              **kwargs)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", [(2, 4, 2, 13, 29, 16), (1, 3, 1, 31, 7, 59), (1, 2, 2, 1, 1, 8), (1, 4, 4, 40, 40, 32)])
def test_matches_sdpa(shape, causal):
    q, k, v = _qkv(sum(shape), *shape)
    got = ref.attention_reference(q, k, v, causal=causal)
    torch.testing.assert_close(got, _sdpa(q, k, v, is_causal=causal), rtol=1e-12, atol=1e-12)


def test_scale_matches_sdpa():
    q, k, v = _qkv(3, 1, 2, 1, 9, 11, 24)
    got = ref.attention_reference(q, k, v, scale=0.37)
    torch.testing.assert_close(got, _sdpa(q, k, v, scale=0.37), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sq, sk", [(5, 12), (12, 5), (7, 7)])
def test_bottom_right_matches_sdpa_with_explicit_mask(sq, sk):
    q, k, v = _qkv(sq * sk, 2, 4, 2, sq, sk, 16)
    mask = torch.ones(sq, sk, dtype=torch.bool).tril(diagonal=sk - sq)
    got = ref.attention_reference(q, k, v, causal="bottom_right")
    seen = mask.any(dim=1)
    torch.testing.assert_close(got[:, :, seen], _sdpa(q, k, v, attn_mask=mask)[:, :, seen], rtol=1e-12, atol=1e-12)
    assert int((~seen).sum()) == max(0, sq - sk)
    assert torch.equal(got[:, :, ~seen], torch.zeros_like(got[:, :, ~seen]))


def test_single_key_returns_its_value():
    q, k, v = _qkv(7, 2, 4, 2, 6, 1, 5)
    got = ref.attention_reference(q, k, v, causal="top_left")
    expected = v.repeat_interleave(2, 1).expand(-1, -1, 6, -1)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_gqa_query_head_uses_kv_head_h_over_group():
    q, k, v = _qkv(11, 1, 6, 2, 5, 9, 8)
    got = ref.attention_reference(q, k, v)
    for h in range(6):
        one = ref.attention_reference(q[:, h : h + 1], k[:, h // 3 : h // 3 + 1], v[:, h // 3 : h // 3 + 1])
        torch.testing.assert_close(got[:, h : h + 1], one, rtol=0, atol=0)


def test_row_chunking_gives_the_same_result(monkeypatch):
    q, k, v = _qkv(5, 1, 2, 2, 37, 23, 8)
    whole = ref.attention_reference(q, k, v, causal="bottom_right")
    monkeypatch.setattr(ref, "_SCORES_PER_CHUNK", 2 * 23 * 3)  # three query rows per chunk
    torch.testing.assert_close(ref.attention_reference(q, k, v, causal="bottom_right"), whole, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("dtype, bound", [(torch.float16, 1e-2), (torch.bfloat16, 6e-2)])
def test_low_precision_reference_is_close_but_rounded(dtype, bound):
    q, k, v = _qkv(13, 1, 2, 1, 33, 47, 64, dtype=torch.float32)
    exact = ref.attention_reference(q, k, v, causal=True)
    low = ref.attention_reference(q.to(dtype), k.to(dtype), v.to(dtype), causal=True, dtype=dtype)
    assert low.dtype == dtype
    err = float((low.double() - exact).abs().max())
    assert 0 < err < bound


@pytest.mark.parametrize("mode", ref.CAUSAL_MODES)
@pytest.mark.parametrize("sq, sk", [(1, 1), (9, 4), (4, 9), (16, 16)])
def test_visible_pairs_counts_the_mask(mode, sq, sk):
    assert ref.visible_pairs(mode, sq, sk) == int(ref.visible_keys(mode, sq, sk).sum())


def test_visible_pairs_closed_forms():
    assert ref.visible_pairs("top_left", 100, 100) == 100 * 101 // 2
    assert ref.visible_pairs("bottom_right", 10, 30) == 10 * 20 + 10 * 11 // 2
    assert ref.visible_pairs("bottom_right", 30, 10) == 10 * 11 // 2
    assert ref.visible_pairs("none", 3, 7) == 21


@pytest.mark.parametrize("given, mode", [(False, "none"), (None, "none"), (True, "top_left"),
                                         ("top_left", "top_left"), ("bottom_right", "bottom_right")])
def test_causal_mode_accepts(given, mode):
    assert ref.causal_mode(given) == mode


@pytest.mark.parametrize("bad", ["lower_right", 1, "TRUE"])
def test_causal_mode_rejects(bad):
    with pytest.raises(ValueError, match="causal"):
        ref.causal_mode(bad)


def test_default_scale_is_inverse_sqrt_head_dim():
    q, k, v = _qkv(17, 1, 1, 1, 4, 6, 20)
    torch.testing.assert_close(ref.attention_reference(q, k, v),
                               ref.attention_reference(q, k, v, scale=1 / math.sqrt(20)), rtol=0, atol=0)


@pytest.mark.parametrize("mode", ref.CAUSAL_MODES)
def test_reference_of_chosen_rows_is_those_rows_of_the_whole(mode):
    gen = torch.Generator().manual_seed(7)
    q = torch.randn(2, 4, 37, 16, generator=gen, dtype=torch.float64)
    k, v = (torch.randn(2, 2, 23, 16, generator=gen, dtype=torch.float64) for _ in range(2))
    rows = torch.tensor([0, 3, 4, 20, 36])
    whole = ref.attention_reference(q, k, v, causal=mode)
    torch.testing.assert_close(ref.attention_reference(q, k, v, causal=mode, rows=rows), whole[:, :, rows], rtol=0, atol=0)
