"""The deformable backward kernels on the host backend: every backward smoke case of
cases/deform_im2col.yaml against float64 autograd of the reference (NaN-poisoned gradients), some
under the host checks, the deterministic mode bitwise stable, torchvision's backward, float64
gradcheck through the kernels, the runner's per-gradient record."""

import math

import pytest
import torch
import torchvision
from torch.autograd import gradcheck

from suite import CASES_DIR, ops, runner, validate
from suite.backends import CHECKS, get_backend
from suite.cases import load_cases
from suite.errors import OpArgumentError
from suite.kernels import deform_grad
from suite.kernels.deform import DIFFERENTIABLE, FAMILY
from suite.kernels.family import OUTPUT, grad_key

BACKWARD = [c for c in load_cases([CASES_DIR / "deform_im2col.yaml"], "smoke") if c.params["pass"] != "forward"]


@pytest.fixture(scope="module")
def host():
    return get_backend("host")


def _judge(case, backend):
    inputs = FAMILY.make_inputs(case.params, case.dtype, case.seed, backend.device)
    launched = FAMILY.run(case.kernel, case.params, inputs, backend)
    refs = FAMILY.reference(case.kernel, case.params, inputs, case.dtype)
    return launched, refs, validate.check_outputs(launched.output, *refs, case.tolerance)


def test_the_smoke_tier_has_backward_cases_of_both_modes_and_passes():
    assert {c.params["grad_mode"] for c in BACKWARD} == set(deform_grad.GRAD_MODES)
    assert {c.params["pass"] for c in BACKWARD} == {"backward", "both"}
    assert all(c.kernel == "deform_conv2d" for c in BACKWARD)  # deform_im2col has no backward


@pytest.mark.parametrize("case", BACKWARD, ids=lambda c: c.id)
def test_backward_smoke_case(case, host):
    launched, refs, verdict = _judge(case, host)
    expected = {grad_key(n) for n in DIFFERENTIABLE if n != "mask" or case.params["mask"]}
    expected |= {OUTPUT} if case.params["pass"] == "both" else set()
    assert set(launched.output) == expected == set(refs[0])
    assert verdict.passed, verdict.detail
    # a relaunch rewrites every gradient in the same buffers
    for g in launched.output.values():
        g.fill_(math.nan)
    launched.again()
    assert validate.check_outputs(launched.output, *refs, case.tolerance).passed


@pytest.mark.parametrize("mode", deform_grad.GRAD_MODES)
def test_backward_under_the_host_checks(mode):
    case = next(c for c in BACKWARD if c.dtype == "float16" and c.params["grad_mode"] == mode
                and c.params["offset_groups"] > 1 and c.params["groups"] > 1)
    _, _, verdict = _judge(case, get_backend("host", checks=CHECKS))
    assert verdict.passed, verdict.detail


def test_a_wrong_gradient_fails_the_case_and_is_named(host, monkeypatch):
    case = next(c for c in BACKWARD if c.dtype == "float32" and c.params["mask"])
    launch = FAMILY.run

    def wrong_mask_gradient(*args):
        launched = launch(*args)
        launched.output["grad_mask"][0, 0, 0, 0] += 1.0
        return launched

    monkeypatch.setattr(FAMILY, "run", wrong_mask_gradient)
    result = runner.run_case(case, host, host.timer("cold", 1), runner.RunOptions(baselines=False))
    assert result.status == "failed" and result.validation["worst_output"] == "grad_mask"
    assert result.error.startswith("grad_mask: ") and result.validation["outputs"]["grad_input"]["passed"]


def test_runner_records_every_gradient(host):
    case = next(c for c in BACKWARD if c.dtype == "bfloat16" and c.params["pass"] == "both")
    result = runner.run_case(case, host, host.timer("cold", 1), runner.RunOptions(baselines=False))
    assert result.passed, result.error
    outputs = result.validation["outputs"]
    assert OUTPUT in outputs and "grad_offset" in outputs and all(v["rule"] == "2x lowp" for v in outputs.values())
    assert result.validation["max_abs_err"] == outputs[result.validation["worst_output"]]["max_abs_err"]
    assert result.metrics["flops"] == FAMILY.flops(case.kernel, case.params) > 0


def _layer_inputs(dtype, seed=3, batch=2, channels=6, groups=3, offset_groups=2, size=(6, 5)):
    gen = torch.Generator().manual_seed(seed)
    taps = 9
    x = torch.randn(batch, channels, *size, generator=gen, dtype=torch.float64)
    offset = 1.5 * torch.randn(batch, 2 * offset_groups * taps, *size, generator=gen, dtype=torch.float64)
    weight = torch.randn(6, channels // groups, 3, 3, generator=gen, dtype=torch.float64)
    bias = torch.randn(6, generator=gen, dtype=torch.float64)
    mask = torch.rand(batch, offset_groups * taps, *size, generator=gen, dtype=torch.float64)
    grad = torch.randn(batch, 6, *size, generator=gen, dtype=torch.float64)
    return [t.to(dtype) for t in (x, offset, weight, bias, mask)], grad.to(dtype)


def _gradients(tensors, grad, **options):
    leaves = [t.detach().requires_grad_() for t in tensors]
    x, offset, weight, bias, mask = leaves
    out = ops.deform_conv2d(x, offset, weight, bias, padding=1, mask=mask, backend="host", **options)
    return torch.autograd.grad(out, leaves, grad)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_deterministic_mode_gives_the_same_bits_every_run(dtype):
    # 24 images: many sampling points share input elements, so the order of the sums matters
    tensors, grad = _layer_inputs(dtype, batch=24)
    first = _gradients(tensors, grad, deterministic=True)
    again = _gradients(tensors, grad, deterministic=True)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    fast = _gradients(tensors, grad, deterministic=False)
    scale = float(first[0].abs().max())
    assert float((fast[0].float() - first[0].float()).abs().max()) <= 1e-2 * scale  # the same sum, another order
    assert all(torch.equal(a, b) for a, b in zip(first[1:], fast[1:]))  # the rest is deterministic in both modes


def test_torch_deterministic_switch_selects_the_gather(monkeypatch):
    chosen = []
    launch = deform_grad.grid_stride_launch

    def recording(backend, source, names, kernel_name, *args, **kwargs):
        chosen.append(kernel_name.__name__)
        return launch(backend, source, names, kernel_name, *args, **kwargs)

    monkeypatch.setattr(deform_grad, "grid_stride_launch", recording)
    tensors, grad = _layer_inputs(torch.float32)
    torch.use_deterministic_algorithms(True)
    try:
        _gradients(tensors, grad)
    finally:
        torch.use_deterministic_algorithms(False)
    assert "col2im_gather_name" in chosen and "col2im_atomic_name" not in chosen
    chosen.clear()
    _gradients(tensors, grad)
    assert "col2im_atomic_name" in chosen and "col2im_gather_name" not in chosen


def test_gradients_equal_torchvisions_backward():
    tensors, grad = _layer_inputs(torch.float32, seed=5)
    ours = _gradients(tensors, grad)
    leaves = [t.detach().requires_grad_() for t in tensors]
    x, offset, weight, bias, mask = leaves
    theirs = torch.autograd.grad(torchvision.ops.deform_conv2d(x, offset, weight, bias, padding=1, mask=mask), leaves, grad)
    for name, a, b in zip(("input", "offset", "weight", "bias", "mask"), ours, theirs, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4, msg=lambda m: f"grad {name}: {m}")


@pytest.mark.parametrize("deterministic", [False, True])
def test_gradcheck_float64_through_the_kernels(deterministic):
    tensors, _ = _layer_inputs(torch.float64, seed=6, batch=1, size=(4, 3))
    tensors = [t.requires_grad_() for t in tensors]

    def op(x, offset, weight, bias, mask):
        return ops.deform_conv2d(x, offset, weight, bias, padding=1, mask=mask, backend="host", deterministic=deterministic)

    assert gradcheck(op, tensors)


def test_depthwise_gradcheck_float64_through_the_kernels():
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(1, 3, 4, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    offset = (1.5 * torch.randn(1, 18, 4, 4, generator=gen, dtype=torch.float64)).requires_grad_()
    weight = torch.randn(6, 1, 3, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda x, o, w: ops.deform_conv2d(x, o, w, padding=1, backend="host"), (x, offset, weight))


def test_bad_backward_arguments_are_named():
    (x, offset, weight, bias, mask), grad = _layer_inputs(torch.float32)
    with pytest.raises(OpArgumentError, match="grad_output must be a torch.float32 tensor .* of the output's shape"):
        deform_grad.deform_conv2d_backward_launcher(grad[:1], x, offset, weight, bias, padding=1, mask=mask, backend="host")
    with pytest.raises(OpArgumentError, match="deterministic must be True, False or None, got 'yes'"):
        deform_grad.deform_conv2d_backward_launcher(grad, x, offset, weight, bias, padding=1, mask=mask, backend="host",
                                                    deterministic="yes")


def test_backward_flops_count_two_gemms_and_the_sampling():
    case = next(c for c in BACKWARD if c.params["pass"] == "backward")
    params = dict(case.params)
    forward = FAMILY.flops("deform_conv2d", params | {"pass": "forward"})
    backward = FAMILY.flops("deform_conv2d", params)
    both = FAMILY.flops("deform_conv2d", params | {"pass": "both"})
    assert backward > 2 * forward and both == forward + backward
    assert FAMILY.bytes_moved("deform_conv2d", params, "float32") == 2 * FAMILY.bytes_moved(
        "deform_conv2d", params | {"pass": "forward"}, "float32")


def test_every_backward_kernel_is_checked():
    names = {i.name_expression for i in FAMILY.instantiations()}
    assert set(deform_grad.COL2IM_NAME_EXPRESSIONS) | set(deform_grad.COORD_NAME_EXPRESSIONS) <= names

