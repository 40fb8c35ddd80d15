"""The attention kernels through the host backend: every smoke case against the float64 reference,
the public op's layouts, masks and errors, and the family's bookkeeping."""

import math

import pytest
import torch

from suite import CASES_DIR, runner, validate
from suite.ops import attention
from suite.backends import CHECKS, get_backend
from suite.backends.host_backend import SMEM_OPTIN_LIMIT, HostBackend
from suite.cases import load_cases
from suite.errors import CaseFileError, InputError
from suite.kernels import attention as spec
from suite.kernels import attention_launch  # where the 32-bit offset limit is read
from suite.kernels import get_family
from suite.references.attention import attention_reference, visible_keys
from suite.timing import TimingConfig

FAMILY = get_family("attention")
SMOKE = load_cases([CASES_DIR / "attention.yaml"], tier="smoke")


def _judge(out, q, k, v, causal="none", scale=None):
    """Validate `out` by the suite's own rule for its dtype."""
    ref64 = attention_reference(q, k, v, causal=causal, scale=scale)
    lowp = None if q.dtype == torch.float32 else attention_reference(q, k, v, causal=causal, scale=scale,
                                                                     dtype=q.dtype)
    return validate.check(out, ref64, lowp, FAMILY.tolerances[str(q.dtype).removeprefix("torch.")])


def _qkv(seed, b, hq, hkv, sq, sk, d, dtype):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(b, h, s, d, generator=gen).to(dtype) for h, s in ((hq, sq), (hkv, sk), (hkv, sk))]


def test_smoke_tier_covers_the_promised_shapes():
    seen = {(c.kernel, c.params["head_dim"]) for c in SMOKE}
    for d in (32, 40, 59, 64, 80, 96, 111, 128, 160, 192, 224, 256):
        assert {(spec.FP32, d), (spec.TC, d)} <= seen
    assert {c.params["causal"] for c in SMOKE} == {"none", "top_left", "bottom_right"}
    assert {(c.params["seq_q"], c.params["seq_k"]) for c in SMOKE} >= {(113, 203), (1, 239), (127, 513), (1, 1)}
    assert {c.params["heads_q"] // (c.params["heads_kv"] or c.params["heads_q"]) for c in SMOKE} >= {1, 2, 4}
    assert {c.dtype for c in SMOKE} == {"float32", "float16", "bfloat16"}


@pytest.mark.parametrize("case", SMOKE, ids=lambda c: c.id)
def test_smoke_case_matches_reference(case):
    backend = get_backend("host")
    inputs = FAMILY.make_inputs(case.params, case.dtype, case.seed, backend.device)
    launched = FAMILY.run(case.kernel, case.params, inputs, backend)  # output poisoned with NaN first
    ref64, ref_lowp = FAMILY.reference(case.kernel, case.params, inputs, case.dtype)
    verdict = validate.check_outputs(launched.output, ref64, ref_lowp, case.tolerance)
    assert verdict.passed, verdict.detail


@pytest.mark.parametrize("case", [SMOKE[0], SMOKE[1]], ids=lambda c: c.id)
def test_relaunch_rewrites_the_same_output(case):
    backend = get_backend("host")
    inputs = FAMILY.make_inputs(case.params, case.dtype, case.seed, backend.device)
    launched = FAMILY.run(case.kernel, case.params, inputs, backend)
    first = launched.output.clone()
    launched.output.fill_(float("nan"))
    launched.again()
    assert torch.equal(launched.output, first)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_op_takes_transposed_and_sliced_inputs(dtype):
    # [B, S, H, D] storage viewed as [B, H, S, D] (how projections usually come), and head-dim slices
    # whose rows start unaligned, which the tensor-core path must copy.
    gen = torch.Generator().manual_seed(1)
    q = torch.randn(2, 21, 4, 72, generator=gen).to(dtype).transpose(1, 2)[..., 3:67]
    kv = torch.randn(2, 50, 2, 2, 64, generator=gen).to(dtype)
    k, v = kv[:, :, :, 0].transpose(1, 2), kv[:, :, :, 1].transpose(1, 2)
    assert not (q.is_contiguous() or k.is_contiguous() or v.is_contiguous())
    out = attention(q, k, v, causal="bottom_right", backend="host")
    assert out.shape == q.shape and out.dtype == dtype
    verdict = _judge(out, q, k, v, causal="bottom_right")
    assert verdict.passed, verdict.detail


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_op_causal_true_and_scale_match_sdpa(dtype):
    q, k, v = _qkv(2, 1, 2, 2, 40, 40, 32, dtype)
    out = attention(q, k, v, causal=True, scale=0.3, backend="host")
    sdpa = torch.nn.functional.scaled_dot_product_attention(q.double(), k.double(), v.double(), is_causal=True,
                                                            scale=0.3)
    # the suite's pass rule for the dtype, with SDPA's float64 answer as the exact one
    lowp = None if dtype == torch.float32 else attention_reference(q, k, v, causal=True, scale=0.3, dtype=dtype)
    verdict = validate.check(out, sdpa, lowp, FAMILY.tolerances[str(dtype).removeprefix("torch.")])
    assert verdict.passed, verdict.detail


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("scale", [-0.7, 0.0])
def test_op_takes_negative_and_zero_scales(dtype, scale):
    """(SDPA's math backend gives NaN here: it scales the -inf of masked scores.)"""
    q, k, v = _qkv(3, 1, 2, 1, 37, 45, 32, dtype)
    out = attention(q, k, v, causal="bottom_right", scale=scale, backend="host")
    assert bool(torch.isfinite(attention_reference(q, k, v, causal="bottom_right", scale=scale)).all())
    verdict = _judge(out, q, k, v, causal="bottom_right", scale=scale)
    assert verdict.passed, verdict.detail


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_op_rows_that_see_no_key_are_zero(dtype):
    q, k, v = _qkv(3, 1, 2, 1, 50, 9, 16, dtype)  # bottom-right: the first 41 rows see nothing
    out = attention(q, k, v, causal="bottom_right", backend="host")
    blind = ~visible_keys("bottom_right", 50, 9).any(dim=1)
    assert int(blind.sum()) == 41
    assert torch.equal(out[:, :, blind], torch.zeros_like(out[:, :, blind]))
    assert _judge(out, q, k, v, causal="bottom_right").passed


def test_op_mqa_single_query_single_key():
    q, k, v = _qkv(4, 3, 8, 1, 1, 1, 40, torch.float16)
    out = attention(q, k, v, backend="host")
    # softmax over one key is 1: every query head returns the shared value row
    torch.testing.assert_close(out, v.expand(-1, 8, -1, -1), rtol=0, atol=0)


@pytest.mark.parametrize("dtype, seq_q, causal, decodes", [
    (torch.float16, 1, "none", True), (torch.bfloat16, 5, "bottom_right", True),
    (torch.float16, spec.DECODE_MAX_SEQ_Q, "top_left", True), (torch.float16, spec.DECODE_MAX_SEQ_Q + 1, "none", False),
    (torch.float32, 1, "none", False),
])
def test_op_runs_short_fp16_bf16_queries_on_the_decode_kernel(monkeypatch, dtype, seq_q, causal, decodes):
    import suite.ops
    calls = []
    real = suite.ops.decode_launcher
    monkeypatch.setattr(suite.ops, "decode_launcher", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    q, k, v = _qkv(9, 2, 8, 2, seq_q, 200, 64, dtype)  # GQA 4:1, keys over several splits
    out = attention(q, k, v, causal=causal, backend="host")
    assert bool(calls) == decodes
    verdict = _judge(out, q, k, v, causal=causal)
    assert verdict.passed, verdict.detail


@pytest.mark.parametrize("change, argument", [
    (lambda q, k, v: (q, k[:, :, :, :8], v[:, :, :, :8]), "k/v"),
    (lambda q, k, v: (q, k, v[:, :, :5]), "same shape"),
    (lambda q, k, v: (q[:, :3], k, v), "heads"),
    (lambda q, k, v: (q.double(), k.double(), v.double()), "q has dtype"),
    (lambda q, k, v: (q, k.half(), v), "k is"),
    (lambda q, k, v: (q[0], k, v), "q must be a 4-D"),
])
def test_op_rejects_bad_inputs_naming_the_argument(change, argument):
    q, k, v = _qkv(5, 1, 4, 2, 6, 7, 16, torch.float32)
    with pytest.raises(InputError, match=argument):
        attention(*change(q, k, v), backend="host")


def test_op_rejects_head_dim_and_causal_it_cannot_do():
    q, k, v = _qkv(6, 1, 1, 1, 2, 2, spec.MAX_HEAD_DIM + 1, torch.float16)
    with pytest.raises(InputError, match="head_dim 257"):
        attention(q, k, v, backend="host")
    q, k, v = _qkv(6, 1, 1, 1, 2, 2, 8, torch.float16)
    with pytest.raises(InputError, match="causal"):
        attention(q, k, v, causal="lower_right", backend="host")


ARCHS = [arch for archs in spec.PLAN_ROWS.values() for arch in archs]


def test_every_launchable_configuration_is_an_instantiation():
    """Checked (`suite check`) for the architectures that launch it, and fitting their shared memory
    (a shape for no particular one: sm_80's and sm_90's, what `suite check` compiles for)."""
    listed = {(i.source, i.name_expression): i for i in FAMILY.instantiations()}
    for kernel, dtypes in spec.KERNEL_DTYPES.items():
        for dtype in dtypes:
            for d in range(1, spec.MAX_HEAD_DIM + 1):
                for arch, causal in ((a, c) for a in ARCHS for c in (False, True)):
                    for i, (label, cfg) in enumerate(spec.tile_choices(kernel, d, arch, causal).items()):
                        inst = listed[(spec.SOURCES[kernel], spec.name_expression(kernel, dtype, cfg))]
                        assert i > 0 or inst.archs is None or arch in inst.archs  # the plan's, for this arch
                        opt_in_max = min(SMEM_OPTIN_LIMIT[a] for a in inst.archs or ("sm_80", "sm_90"))
                        assert inst.dynamic_smem == spec.shared_bytes(kernel, cfg) <= opt_in_max
                        assert inst.tensor_core == (kernel == spec.TC)
                        assert cfg.head_tile >= d and spec.tile_config(kernel, d, label, arch, causal) == cfg


def test_plan_rows_by_architecture():
    assert [spec.plan_row(a) for a in ("sm_80", "sm_86", "sm_89", "sm_90", "sm_90a")] == \
        ["sm_80", "sm8x", "sm8x", "sm_90", "sm_90"]
    assert spec.plan_row("sm_120") == spec.FALLBACK_ROW
    # FlashAttention-2's d=128 rows: A100 departs to 128x32 (see TC_PLAN), H100 keeps 128x64 x 4 warps,
    # sm8x takes 128x32 or, causal, 64x64
    assert spec.tile_label(spec.tile_config(spec.TC, 128, arch="sm_90")) == "128x64w4s2"
    assert spec.tile_label(spec.tile_config(spec.TC, 128, arch="sm_86")) == "128x32w4s2"
    assert spec.tile_label(spec.tile_config(spec.TC, 128, arch="sm_86", causal=True)) == "64x64w4s2"


# The plan's shapes the smoke tier (the host's default arch, sm_80) and the candidates' test do not
# run, each with an arch that picks it, causal where that picks it too (the masks' corner cases).
OTHER_ROWS = {}
for _archs in list(spec.PLAN_ROWS.values())[1:]:
    for _hd in spec.TC_HEAD_TILES:
        for _causal in (True, False):
            _cfg = spec.tile_config(spec.TC, _hd, arch=_archs[0], causal=_causal)
            if (_cfg != spec.tile_config(spec.TC, _hd, arch=spec.DEFAULT_ARCH, causal=_causal)
                    and _cfg not in [cfg for cfg, _ in spec._candidates()]):
                OTHER_ROWS.setdefault((_hd, spec.tile_label(_cfg), _archs[0]), _causal)
OTHER_ROWS = [(*key, causal) for key, causal in OTHER_ROWS.items()]


@pytest.mark.parametrize("head_tile, tiles, arch, causal", OTHER_ROWS,
                         ids=[f"{c[2]}-d{c[0]}-{c[1]}{'-causal' if c[3] else ''}" for c in OTHER_ROWS])
def test_every_arch_rows_plan_computes_attention(head_tile, tiles, arch, causal):
    """The host backend emulating that arch (its shared-memory limit) picks the shape by itself:
    several query blocks, a partial last key tile, an odd head dim inside the head tile."""
    mode = "bottom_right" if causal else "none"
    q, k, v = _qkv(head_tile, 1, 2, 1, 70, 135, head_tile - 3, torch.float16)
    out = torch.full(q.shape, math.nan, dtype=q.dtype)
    assert spec.tile_label(spec.tile_config(spec.TC, head_tile - 3, arch=arch, causal=causal)) == tiles
    spec.launcher(spec.TC, q, k, v, out, mode, None, HostBackend(arch=arch))()
    assert _judge(out, q, k, v, mode).passed


def test_operands_whose_rows_pass_32_bit_offsets_are_copied(monkeypatch):
    """attention_tc's in-head offsets are int: a k whose rows lie too far apart for them is copied
    contiguously; one too long even then is refused, naming it."""
    q, k, v = _qkv(7, 1, 2, 1, 19, 45, 64, torch.float16)
    wide_k = torch.cat([k, torch.zeros_like(k)], dim=-1)[..., :64]  # rows 128 elements apart
    monkeypatch.setattr(attention_launch, "INT32_MAX", (45 + spec.TILE_OVERHANG) * 100)  # 64-element rows fit, 128 do not
    out = torch.full(q.shape, math.nan, dtype=q.dtype)
    spec.launcher(spec.TC, q, wide_k, v, out, "none", None, get_backend("host"))()
    assert _judge(out, q, k, v).passed
    monkeypatch.setattr(attention_launch, "INT32_MAX", 1000)
    with pytest.raises(InputError, match="attention_tc: q has 19 rows of 64 per head"):
        spec.launcher(spec.TC, q, k, v, out, "none", None, get_backend("host"))


CANDIDATES = [(head_tile, spec.tile_label(spec.TileConfig(head_tile, *shape)), archs)
              for head_tile, shapes in spec.TC_CANDIDATES.items() for shape, archs in shapes]


@pytest.mark.parametrize("head_tile, tiles, archs", CANDIDATES, ids=[f"d{c[0]}-{c[1]}" for c in CANDIDATES])
def test_every_tile_candidate_computes_attention(head_tile, tiles, archs):
    """On the host backend emulating the architecture the shape is meant for, under memcheck,
    racecheck and initcheck: several query blocks, a partial last key tile, the causal corner, an
    odd head dim inside the head tile."""
    q, k, v = _qkv(head_tile, 1, 2, 1, 70, 135, head_tile - 3, torch.float16)
    out = torch.full(q.shape, math.nan, dtype=q.dtype)
    backend = HostBackend(arch=(archs or ("sm_80",))[0], checks=CHECKS)
    spec.launcher(spec.TC, q, k, v, out, "bottom_right", None, backend, tiles)()
    ref64 = attention_reference(q, k, v, causal="bottom_right")
    ref_lowp = attention_reference(q, k, v, causal="bottom_right", dtype=torch.float16)
    verdict = validate.check(out, ref64, ref_lowp, FAMILY.tolerances["float16"])
    assert verdict.passed, verdict.detail


def test_tile_candidates_fitting_every_arch_are_in_the_smoke_tier():
    tuned = {(c.params["head_dim"], c.params["tiles"]) for c in SMOKE if c.params["tiles"] != spec.AUTO}
    assert {(hd, tiles) for hd, tiles, archs in CANDIDATES if archs is None} <= tuned


def test_a_sweep_choosing_tiles_runs_attention_tc_only(tmp_path):
    path = tmp_path / "tiles.yaml"
    path.write_text("family: attention\nsweeps:\n  - name: t\n    tier: smoke\n"
                    "    params: {heads_q: 1, seq_q: 5, seq_k: 7, head_dim: 120, tiles: 128x32w4s2}\n")
    cases = load_cases([path], tier="smoke")
    assert {c.kernel for c in cases} == {spec.TC} and {c.dtype for c in cases} == {"float16", "bfloat16"}
    assert FAMILY.shape_label(cases[0].params).endswith("d120 tiles 128x32w4s2")


def test_an_unknown_tile_shape_is_a_case_file_error_listing_the_choices(tmp_path):
    path = tmp_path / "tiles.yaml"
    path.write_text("family: attention\nsweeps:\n  - name: t\n    tier: smoke\n"
                    "    params: {heads_q: 1, seq_q: 5, seq_k: 7, head_dim: 64, tiles: 128x32w4s2}\n")
    with pytest.raises(CaseFileError, match=r"tiles: .*no tile shape '128x32w4s2' for head_dim 64.*128x64w4s3, 64x64w4s3"):
        load_cases([path], tier="smoke")


def test_flops_count_the_unmasked_area():
    params = {"batch": 2, "heads_q": 3, "heads_kv": 1, "seq_q": 30, "seq_k": 12, "head_dim": 8, "causal": "none",
              "pass": "forward"}
    for mode in ("none", "top_left", "bottom_right"):
        pairs = int(visible_keys(mode, 30, 12).sum())
        assert FAMILY.flops(spec.TC, params | {"causal": mode}) == 4 * 2 * 3 * 8 * pairs
    assert FAMILY.bytes_moved(spec.TC, params, "float16") == 2 * 2 * 8 * (2 * 3 * 30 + 2 * 1 * 12)
    forward = FAMILY.flops(spec.TC, params)
    assert FAMILY.flops(spec.TC, params | {"pass": "backward"}) == 2.5 * forward
    assert FAMILY.flops(spec.TC, params | {"pass": "both"}) == 3.5 * forward
    assert FAMILY.bytes_moved(spec.TC, params | {"pass": "backward"}, "float16") == 2 * 2 * 8 * (4 * 3 * 30 + 4 * 1 * 12)


@pytest.mark.parametrize("mode", ["none", "top_left", "bottom_right"])
def test_sdpa_math_baseline_computes_attention(mode):
    params = {"batch": 1, "heads_q": 4, "heads_kv": 2, "seq_q": 9, "seq_k": 13, "head_dim": 16, "causal": mode,
              "pass": "forward"}
    inputs = FAMILY.make_inputs(params, "float32", 7, torch.device("cpu"))
    call = FAMILY.baseline("sdpa_math", spec.FP32, params, inputs)
    ref = attention_reference(inputs["q"], inputs["k"], inputs["v"], causal=mode)
    torch.testing.assert_close(call().double(), ref, rtol=1e-5, atol=1e-5)
    assert FAMILY.baseline("sdpa_efficient", spec.FP32, params, inputs) is None  # a CUDA-only backend


def test_default_scale_is_inverse_sqrt_head_dim():
    q, k, v = _qkv(8, 1, 1, 1, 5, 6, 24, torch.float32)
    torch.testing.assert_close(attention(q, k, v, backend="host"),
                               attention(q, k, v, scale=1 / math.sqrt(24), backend="host"), rtol=0, atol=0)


def test_large_cases_check_a_fixed_sample_of_rows_with_both_edges():
    assert spec.checked_rows(spec.CHECK_ALL_ROWS_UP_TO) is None
    seq = 5000
    rows = spec.checked_rows(seq)
    assert torch.equal(rows, spec.checked_rows(seq)) and torch.equal(rows, rows.unique())  # fixed, sorted, distinct
    assert len(rows) == 2 * spec.EDGE_ROWS + spec.RANDOM_ROWS and 0 <= rows.min() and rows.max() < seq
    edges = torch.cat([torch.arange(spec.EDGE_ROWS), torch.arange(seq - spec.EDGE_ROWS, seq)])
    assert bool(torch.isin(edges, rows).all())


def _large_case(tmp_path):
    path = tmp_path / "large.yaml"
    path.write_text("family: attention\nkernels: [attention_tc]\ndtypes: [float16]\nsweeps:\n  - name: long\n    tier: smoke\n"
                    "    params: {heads_q: 1, seq_q: 1100, seq_k: 24, head_dim: 32, causal: bottom_right}\n")
    (case,) = load_cases([path], tier="smoke")
    return case


def test_a_large_case_is_checked_on_its_sample_and_says_so(tmp_path, monkeypatch):
    case, host = _large_case(tmp_path), get_backend("host")
    options = runner.RunOptions(baselines=False, timing=TimingConfig(warmup=0, min_samples=1, max_samples=1))
    result = runner.run_case(case, host, host.timer(), options)
    assert result.status == "passed", result.error
    rows = len(spec.checked_rows(case.params["seq_q"]))
    assert result.validation["compared_elements"] == rows * 32 and result.validation["output_elements"] == 1100 * 32

    real_run = FAMILY.run

    def wrong_in_one_sampled_row(*args):
        launched = real_run(*args)
        launched.output[0, 0, spec.EDGE_ROWS - 1] += 1.0
        return launched

    monkeypatch.setattr(FAMILY, "run", wrong_in_one_sampled_row)
    assert runner.run_case(case, host, host.timer(), options).status == "failed"
