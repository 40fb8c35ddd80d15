"""The raw kernels on the host backend (the unchanged .cu on the CPU) against the reference, with
NaN-poisoned output: deform_im2col for every smoke case of cases/deform_im2col.yaml, and the fused
deform_conv2d_depthwise for every depthwise deform_conv2d smoke case."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from suite import CASES_DIR, ops, validate
from suite.kernels import deform_launch as launchers
from suite.backends import CHECKS, get_backend
from suite.cases import load_cases
from suite.errors import OpArgumentError
from suite.kernels.deform import FAMILY, TORCH_DTYPES
from suite.references.deform import sampling_base

ALL_SMOKE = [c for c in load_cases([CASES_DIR / "deform_im2col.yaml"], "smoke") if c.params["pass"] == "forward"]
SMOKE = [c for c in ALL_SMOKE if c.kernel == "deform_im2col"]
# deform_conv2d cases whose weight is depthwise: the op runs the fused kernel for them
DEPTHWISE = [c for c in ALL_SMOKE if c.kernel == "deform_conv2d" and c.params["groups"] == c.params["in_channels"]]


@pytest.fixture(scope="module")
def host():
    return get_backend("host")


class Recording:
    """The host backend, recording the name expression of every kernel that a launch looks up."""

    def __init__(self, backend):
        self.backend, self.name, self.device, self.sm_count = backend, backend.name, backend.device, backend.sm_count
        self.chosen = []

    def load_module(self, *args, **kwargs):
        module, chosen = self.backend.load_module(*args, **kwargs), self.chosen

        class Module:
            def get_function(self, expression):
                chosen.append(expression)
                return module.get_function(expression)

        return Module()


@pytest.mark.parametrize("case", SMOKE + DEPTHWISE, ids=lambda c: c.id)
def test_smoke_case(case, host):
    inputs = FAMILY.make_inputs(case.params, case.dtype, case.seed, host.device)
    launched = FAMILY.run(case.kernel, case.params, inputs, host)
    ref64, ref_lowp = FAMILY.reference(case.kernel, case.params, inputs, case.dtype)
    verdict = validate.check(launched.output, ref64, ref_lowp, case.tolerance)
    assert verdict.passed, verdict.detail
    # a relaunch rewrites every element of the same buffer
    launched.output.fill_(math.nan)
    launched.again()
    assert validate.check(launched.output, ref64, ref_lowp, case.tolerance).passed


def test_cases_cover_the_brief():
    """The smoke tier exercises masks, strides, padding, dilation, both group kinds, batch 1 and > 32."""
    params = [c.params for c in SMOKE]
    assert {p["mask"] for p in params} == {False, True}
    assert {c.dtype for c in SMOKE} == {"float32", "float16", "bfloat16"}
    assert any(p["stride"] != (1, 1) for p in params) and any(p["padding"] != (0, 0) for p in params)
    assert any(p["dilation"] != (1, 1) for p in params)
    assert any(p["groups"] > 1 for p in params) and any(p["offset_groups"] > 1 for p in params)
    assert {1, 33} <= {p["batch"] for p in params}
    depthwise = [c.params for c in DEPTHWISE]
    assert any(p["out_channels"] > p["in_channels"] for p in depthwise)  # a channel multiplier
    assert {p["offset_groups"] > 1 for p in depthwise} == {False, True} and {p["mask"] for p in depthwise} == {False, True}


def test_offsets_hit_the_border_rules():
    """make_inputs puts sampling points exactly on -1, on H, on integers and half-integers, and outside."""
    case = next(c for c in SMOKE if c.dtype == "bfloat16" and c.params["batch"] == 2 and c.params["mask"])
    p = case.params
    inputs = FAMILY.make_inputs(p, case.dtype, case.seed, torch.device("cpu"))
    kh, kw = p["kernel"]
    out_h, out_w = inputs["offset"].shape[-2:]
    base_y, _ = sampling_base(p["kernel"], p["stride"], p["padding"], p["dilation"], out_h, out_w)
    y = inputs["offset"].double().reshape(p["batch"], -1, kh * kw, 2, out_h, out_w)[:, :, :, 0] + base_y
    h = p["height"]
    assert (y == -1).any() and (y == h).any() and (y == h - 0.5).any()
    assert ((y == y.round()) & (y >= 0) & (y < h)).any()
    assert ((y < -1) | (y > h)).any() and ((y > -1) & (y < h) & (y != (2 * y).round() / 2)).any()


@pytest.mark.parametrize("cases, kernel_name", [(SMOKE, launchers.deform_im2col_name), (DEPTHWISE, launchers.deform_conv2d_depthwise_name)],
                         ids=["deform_im2col", "deform_conv2d_depthwise"])
def test_long_long_indexing(host, monkeypatch, cases, kernel_name):
    """The int64-index instantiation computes the same output (forced by lowering the int limit)."""
    case = next(c for c in cases if c.dtype == "float16" and c.params["mask"] and c.params["offset_groups"] > 1)
    params = case.params | {"channel_chunk": launchers.CHANNEL_CHUNK}
    inputs = FAMILY.make_inputs(params, case.dtype, case.seed, host.device)
    monkeypatch.setattr(launchers, "INDEX32_LIMIT", 100)
    recording = Recording(host)
    launched = FAMILY.run(case.kernel, params, inputs, recording)
    assert recording.chosen == [kernel_name(torch.float16, np.int64)]
    ref64, ref_lowp = FAMILY.reference(case.kernel, params, inputs, case.dtype)
    verdict = validate.check(launched.output, ref64, ref_lowp, case.tolerance)
    assert verdict.passed, verdict.detail


def test_depthwise_weights_take_the_fused_kernel(host):
    """deform_conv2d looks up the depthwise kernel alone for depthwise weights, deform_im2col for any
    other; the im2col_matmul baseline keeps the general path for depthwise cases and is None elsewhere."""
    depthwise = next(c for c in DEPTHWISE if c.dtype == "bfloat16")
    grouped = next(c for c in ALL_SMOKE if c.kernel == "deform_conv2d" and 1 < c.params["groups"] < c.params["in_channels"])
    for case, expected in ((depthwise, launchers.deform_conv2d_depthwise_name), (grouped, launchers.deform_im2col_name)):
        inputs = FAMILY.make_inputs(case.params, case.dtype, case.seed, host.device)
        recording = Recording(host)
        FAMILY.run(case.kernel, case.params | {"channel_chunk": launchers.CHANNEL_CHUNK}, inputs, recording)
        assert recording.chosen == [expected(inputs["input"].dtype)], case.id

    p = depthwise.params
    inputs = FAMILY.make_inputs(p, depthwise.dtype, depthwise.seed, host.device)
    recording = Recording(host)
    output, launch = ops.deform_conv2d_im2col_matmul_launcher(inputs["input"], inputs["offset"], inputs["weight"], inputs["bias"],
                                                              p["stride"], p["padding"], p["dilation"], inputs["mask"],
                                                              backend=recording, channel_chunk=launchers.CHANNEL_CHUNK)
    launch()
    assert recording.chosen == [launchers.deform_im2col_name(torch.bfloat16)]
    verdict = validate.check(output, *FAMILY.reference(depthwise.kernel, p, inputs, depthwise.dtype), depthwise.tolerance)
    assert verdict.passed, verdict.detail
    assert callable(FAMILY.baseline("im2col_matmul", depthwise.kernel, p, inputs))
    assert FAMILY.baseline("im2col_matmul", "deform_im2col", p, inputs) is None
    other = FAMILY.make_inputs(grouped.params, grouped.dtype, grouped.seed, host.device)
    assert FAMILY.baseline("im2col_matmul", grouped.kernel, grouped.params, other) is None


@pytest.mark.parametrize("check", CHECKS)
def test_depthwise_kernel_under_host_checks(check):
    """memcheck (guarded buffers), racecheck (other fiber schedules) and initcheck (unwritten outputs)
    on the fused kernel with partial chunks (12 channels: 8 + 4), a channel multiplier, mask and bias."""
    case = next(c for c in DEPTHWISE if c.dtype == "float32" and c.params["mask"])
    params = case.params | {"in_channels": 12, "groups": 12, "out_channels": 24, "offset_groups": 1}
    backend = get_backend("host", checks=(check,))
    inputs = FAMILY.make_inputs(params, case.dtype, case.seed, backend.device)
    launched = FAMILY.run(case.kernel, params, inputs, backend)
    verdict = validate.check(launched.output, *FAMILY.reference(case.kernel, params, inputs, case.dtype), case.tolerance)
    assert verdict.passed, verdict.detail


def test_float64_instantiation_is_exact(host):
    """double samples in double: equal to the float64 reference up to rounding."""
    case = next(c for c in SMOKE if c.params["offset_groups"] > 1)
    inputs = FAMILY.make_inputs(case.params, "float32", case.seed, host.device)
    inputs = {k: None if v is None else v.double() for k, v in inputs.items()}
    p = case.params
    got = ops.deform_im2col(inputs["input"], inputs["offset"], inputs["mask"], kernel_size=p["kernel"], stride=p["stride"],
                            padding=p["padding"], dilation=p["dilation"], backend=host)
    expected, _ = FAMILY.reference(case.kernel, p, inputs, "float32")
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("case", [c for c in ALL_SMOKE if c.dtype == "float16"], ids=lambda c: c.id)
def test_byte_model_counts_each_input_and_output_once(case):
    """deform_im2col's output is the columns; deform_conv2d's is its output (columns are an intermediate)."""
    inputs = FAMILY.make_inputs(case.params, case.dtype, case.seed, "cpu")
    read = ["input", "offset"] + (["mask"] if case.params["mask"] else [])
    if case.kernel == "deform_conv2d":
        read += ["weight", "bias"]
        written = ops.deform_conv2d(*(inputs[k] for k in ("input", "offset", "weight", "bias")), mask=inputs["mask"],
                                    **FAMILY._geometry(case.params), backend="host")
    else:
        written = ops.deform_im2col(inputs["input"], inputs["offset"], inputs["mask"], kernel_size=case.params["kernel"],
                                    **FAMILY._geometry(case.params), backend="host")
    expected = (sum(inputs[k].numel() for k in read) + written.numel()) * 2
    assert FAMILY.bytes_moved(case.kernel, case.params, case.dtype) == expected


@pytest.mark.parametrize("chunk", launchers.CHANNEL_CHUNKS)
def test_channel_chunk_picks_its_instantiation_and_changes_no_result(host, chunk):
    case = next(c for c in SMOKE if c.sweep == "channel_chunks" and c.params["channel_chunk"] == chunk)
    inputs = FAMILY.make_inputs(case.params, case.dtype, case.seed, host.device)
    recording = Recording(host)
    launched = FAMILY.run(case.kernel, case.params, inputs, recording)
    assert recording.chosen == [launchers.deform_im2col_name(TORCH_DTYPES[case.dtype], np.int32, chunk)]
    other_chunk = next(c for c in launchers.CHANNEL_CHUNKS if c != chunk)
    other = FAMILY.run(case.kernel, case.params | {"channel_chunk": other_chunk}, inputs, host)
    torch.testing.assert_close(launched.output, other.output, atol=0, rtol=0)


def test_the_auto_chunk_keeps_8_channels_while_the_grid_fills_two_waves():
    class Gpu:
        sm_count = 10  # two waves: 2 * 10 SMs * 1024 resident threads = 20480 work items of 8 channels

    # items with chunk 8: batch * offset groups * ceil(channels per group / 8) * 16*16 output pixels
    for channels, offset_groups, batch, chunk in ((64, 1, 10, 8), (64, 1, 9, 1), (64, 8, 10, 8), (12, 1, 40, 8),
                                                   (12, 1, 39, 1)):
        g = launchers.DeformGeometry(batch, channels, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, offset_groups, 16, 16,
                                     launchers.AUTO_CHUNK)
        assert launchers.with_chunk(g, Gpu).channel_chunk == chunk, (channels, offset_groups, batch)
        assert launchers.with_chunk(dataclasses.replace(g, channel_chunk=1), Gpu).channel_chunk == 1  # forced
    # the depthwise kernel holds half the blocks (its registers), so half the items fill its waves
    g = launchers.DeformGeometry(5, 64, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 16, 16, launchers.AUTO_CHUNK)
    assert launchers.with_chunk(g, Gpu, "deform_conv2d_depthwise").channel_chunk == 8
    assert launchers.with_chunk(g, Gpu, "deform_im2col").channel_chunk == 1


def test_an_unknown_channel_chunk_is_refused():
    x, offset = torch.randn(1, 2, 5, 5), torch.randn(1, 18, 3, 3)
    with pytest.raises(OpArgumentError, match=r"channel_chunk must be one of 8, 1 or 0 \(auto\), got 4"):
        ops.deform_im2col_launcher(x, offset, kernel_size=3, channel_chunk=4, backend="host")
