"""The attention backward kernels through the host backend: every gradient against float64 autograd
of the reference, both dQ modes, masks, GQA, odd lengths, determinism, and the bug finders."""

import pytest
import torch

from suite import CASES_DIR, ops, runner, validate
from suite.backends import CHECKS, get_backend
from suite.backends.host_backend import HostBackend
from suite.cases import load_cases
from suite.kernels import attention as spec
from suite.kernels import get_family
from suite.kernels.family import autograd_outputs
from suite.references.attention import attention_reference, visible_keys
from suite.timing import TimingConfig

FAMILY = get_family("attention")
GRADS = ("grad_q", "grad_k", "grad_v")


def _problem(seed, b, hq, hkv, sq, sk, d, dtype):
    gen = torch.Generator().manual_seed(seed)
    shapes = ((b, hq, sq, d), (b, hkv, sk, d), (b, hkv, sk, d), (b, hq, sq, d))
    return [torch.randn(*s, generator=gen).to(dtype) for s in shapes]


def _kernel_grads(q, k, v, grad_out, backend="host", **kwargs):
    leaves = [t.detach().clone().requires_grad_() for t in (q, k, v)]
    out = ops.attention(*leaves, backend=backend, **kwargs)
    out.backward(grad_out)
    return out, dict(zip(GRADS, (t.grad for t in leaves)))


def _assert_grads_match(grads, q, k, v, grad_out, causal, scale=None):
    """Each gradient by the suite's rule for its dtype: float64 autograd of the reference, and for
    fp16/bf16 the 2x-reference-error bound against autograd of the reference in that dtype."""
    dtype = q.dtype

    def reference_grads(precision):
        return autograd_outputs(lambda q, k, v: attention_reference(q, k, v, causal=causal, scale=scale, dtype=precision),
                                {"q": q.to(precision), "k": k.to(precision), "v": v.to(precision)},
                                grad_out.to(precision), "qkv", with_output=False)

    ref64 = reference_grads(torch.float64)
    lowp = None if dtype == torch.float32 else reference_grads(dtype)
    for name in GRADS:
        assert grads[name].dtype == dtype and grads[name].shape == ref64[name].shape
        verdict = validate.check(grads[name], ref64[name], None if lowp is None else lowp[name],
                                 FAMILY.tolerances[str(dtype).removeprefix("torch.")])
        assert verdict.passed, f"{name}: {verdict.detail}"


@pytest.mark.parametrize("deterministic", [False, True], ids=["atomic_dq", "deterministic_dq"])
@pytest.mark.parametrize("causal", ["none", "top_left", "bottom_right"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
def test_gradients_match_float64_autograd(dtype, causal, deterministic):
    # GQA (4 query heads on 2 KV heads), lengths that are no tile multiple, an odd head dim.
    q, k, v, grad_out = _problem(1, 2, 4, 2, 37, 45, 40, dtype)
    _, grads = _kernel_grads(q, k, v, grad_out, causal=causal, deterministic=deterministic)
    _assert_grads_match(grads, q, k, v, grad_out, causal)


@pytest.mark.parametrize("head_dim", [5, 64, 200, 256])
def test_gradients_for_head_dims_up_to_the_maximum(head_dim):
    q, k, v, grad_out = _problem(head_dim, 1, 2, 1, 19, 23, head_dim, torch.float32)
    _, grads = _kernel_grads(q, k, v, grad_out, causal="bottom_right")
    _assert_grads_match(grads, q, k, v, grad_out, "bottom_right")


@pytest.mark.parametrize("deterministic", [False, True], ids=["atomic_dq", "deterministic_dq"])
@pytest.mark.parametrize("head_dim", [16, 59, 96, 128, 160])
def test_half_precision_gradients_for_head_dims(head_dim, deterministic):
    """Tensor cores up to d=128 (59: rows padded for cp.async), the SIMT kernel above: several key
    blocks and query steps, a partial last block of each, the causal corner, under the bug finders."""
    q, k, v, grad_out = _problem(head_dim, 1, 2, 1, 70, 135, head_dim, torch.float16)
    _, grads = _kernel_grads(q, k, v, grad_out, backend=HostBackend(checks=CHECKS), causal="bottom_right",
                             deterministic=deterministic)
    _assert_grads_match(grads, q, k, v, grad_out, "bottom_right")


def test_tensor_cores_take_half_precision_up_to_head_dim_128():
    assert [cfg.head_tile for cfg in spec.BWD_TC_TILES][-1] == 128
    tc = {(i.name_expression, i.tensor_core) for i in FAMILY.instantiations() if i.source == spec.SOURCES[spec.BWD_TC]}
    assert {(spec.backward_name("dkdv_tc", dt, cfg), True) for dt in ("float16", "bfloat16")
            for cfg in spec.BWD_TC_TILES} == tc


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_mqa_single_key_and_transposed_inputs(dtype):
    # MQA with one key, and [B, S, H, D] storage seen as [B, H, S, D] (not contiguous).
    gen = torch.Generator().manual_seed(2)
    q = torch.randn(1, 7, 8, 24, generator=gen).to(dtype).transpose(1, 2)
    k, v = (torch.randn(1, 1, 1, 24, generator=gen).to(dtype) for _ in range(2))
    grad_out = torch.randn(1, 8, 7, 24, generator=gen).to(dtype)
    _, grads = _kernel_grads(q, k, v, grad_out)
    _assert_grads_match(grads, q, k, v, grad_out, "none")


@pytest.mark.parametrize("scale", [-0.7, 0.3])
def test_gradients_with_explicit_scales(scale):
    q, k, v, grad_out = _problem(3, 1, 2, 1, 21, 30, 32, torch.float32)
    _, grads = _kernel_grads(q, k, v, grad_out, causal="top_left", scale=scale)
    _assert_grads_match(grads, q, k, v, grad_out, "top_left", scale)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_rows_that_see_no_key_get_zero_gradients(dtype):
    q, k, v, grad_out = _problem(4, 1, 2, 1, 50, 9, 16, dtype)  # bottom-right: the first 41 rows see nothing
    out, grads = _kernel_grads(q, k, v, grad_out, causal="bottom_right")
    blind = ~visible_keys("bottom_right", 50, 9).any(dim=1)
    assert int(blind.sum()) == 41 and not out[:, :, blind].any()
    assert not grads["grad_q"][:, :, blind].any()
    _assert_grads_match(grads, q, k, v, grad_out, "bottom_right")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=str)
def test_deterministic_mode_gives_bitwise_identical_gradients(dtype):
    q, k, v, grad_out = _problem(5, 2, 4, 1, 45, 70, 32, dtype)
    backend = HostBackend(threads=4)  # blocks on several workers: any order dependence would show
    first = _kernel_grads(q, k, v, grad_out, backend=backend, causal="top_left", deterministic=True)[1]
    second = _kernel_grads(q, k, v, grad_out, backend=backend, causal="top_left", deterministic=True)[1]
    for name in GRADS:
        assert torch.equal(first[name], second[name]), name


def test_deterministic_defaults_to_torchs_switch(monkeypatch):
    seen = []
    real = ops.backward_launcher
    monkeypatch.setattr(ops, "backward_launcher", lambda *args: seen.append(args[-1]) or real(*args))
    q, k, v, grad_out = _problem(6, 1, 1, 1, 5, 6, 8, torch.float32)
    _kernel_grads(q, k, v, grad_out)
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        _kernel_grads(q, k, v, grad_out)
        _kernel_grads(q, k, v, grad_out, deterministic=False)
    finally:
        torch.use_deterministic_algorithms(previous)
    assert seen == [False, True, False]


def test_no_grad_inputs_take_the_forward_only_path():
    q, k, v, _ = _problem(7, 1, 2, 1, 9, 11, 16, torch.float32)
    out = ops.attention(q, k, v, backend="host")
    assert out.grad_fn is None
    torch.testing.assert_close(out.double(), attention_reference(q, k, v), rtol=1e-5, atol=1e-5)


def test_reference_gradients_pass_gradcheck_in_float64():
    """The kernels have no float64 instantiation, so float64 gradcheck covers the reference whose
    autograd the kernels are judged against (the tests above)."""
    q, k, v, _ = _problem(8, 1, 2, 1, 6, 7, 4, torch.float64)
    leaves = [t.requires_grad_() for t in (q, k, v)]
    assert torch.autograd.gradcheck(lambda *t: attention_reference(*t, causal="bottom_right"), leaves)


@pytest.mark.parametrize("dtype, deterministic", [(torch.float32, False), (torch.float32, True),
                                                  (torch.bfloat16, False)], ids=["fp32-atomic", "fp32-det", "bf16-atomic"])
def test_backward_kernels_pass_memcheck_racecheck_initcheck(dtype, deterministic):
    q, k, v, grad_out = _problem(9, 1, 2, 1, 20, 35, 24, dtype)
    _, grads = _kernel_grads(q, k, v, grad_out, backend=HostBackend(checks=CHECKS), causal="bottom_right",
                             deterministic=deterministic)
    _assert_grads_match(grads, q, k, v, grad_out, "bottom_right")


def test_every_backward_kernel_is_an_instantiation():
    listed = {(i.source, i.name_expression): i for i in FAMILY.instantiations()}
    for part, dtype, cfg in spec.backward_instances():
        inst = listed[(spec.SOURCES[spec.BWD_PARTS[part][0]], spec.backward_name(part, dtype, cfg))]
        assert inst.threads_per_block == spec.backward_threads(part, cfg)
        assert inst.dynamic_smem == (spec.backward_shared_bytes(part, cfg) if cfg else 0) <= 99 * 1024
    for d in range(1, spec.MAX_HEAD_DIM + 1):
        assert spec.backward_tile(d).head_tile >= d


BACKWARD_SMOKE = [c for c in load_cases([CASES_DIR / "attention.yaml"], tier="smoke") if c.params["pass"] != "forward"]


def test_backward_smoke_cases_cover_both_modes_every_mask_and_both_passes():
    assert {(c.params["causal"], c.params["grad_mode"]) for c in BACKWARD_SMOKE} >= {
        (mode, grad_mode) for mode in ("none", "top_left", "bottom_right") for grad_mode in ("fast", "deterministic")}
    assert {c.params["pass"] for c in BACKWARD_SMOKE} == {"backward", "both"}
    assert {c.dtype for c in BACKWARD_SMOKE} == {"float32", "float16", "bfloat16"}


@pytest.mark.parametrize("case", BACKWARD_SMOKE[:3] + [c for c in BACKWARD_SMOKE if c.params["pass"] == "both"][:3],
                         ids=lambda c: f"{c.id}-{c.dtype}")
def test_backward_cases_run_end_to_end_under_the_checks(case):
    backend = HostBackend(checks=CHECKS)
    options = runner.RunOptions(baselines=False, timing=TimingConfig(warmup=0, min_samples=1, max_samples=1))
    result = runner.run_case(case, backend, backend.timer(), options)
    assert result.status == "passed", result.error
    names = {"grad_q", "grad_k", "grad_v"} | ({"out"} if case.params["pass"] == "both" else set())
    launched = FAMILY.run(case.kernel, case.params, FAMILY.make_inputs(case.params, case.dtype, case.seed,
                                                                       backend.device), get_backend("host"))
    assert set(launched.output) == names


@pytest.mark.parametrize("pass_", ["backward", "both"])
def test_sdpa_math_baseline_gives_the_gradients(pass_):
    params = {"batch": 1, "heads_q": 4, "heads_kv": 2, "seq_q": 9, "seq_k": 13, "head_dim": 16,
              "causal": "bottom_right", "pass": pass_, "grad_mode": "fast"}
    inputs = FAMILY.make_inputs(params, "float32", 7, torch.device("cpu"))
    grads = FAMILY.baseline("sdpa_math", spec.FP32, params, inputs)()
    ref64, _ = FAMILY.reference(spec.FP32, params, inputs, "float32")
    for name, grad in zip(GRADS, grads):
        torch.testing.assert_close(grad.double(), ref64[name], rtol=1e-5, atol=1e-5)
