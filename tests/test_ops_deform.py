"""suite.ops.deform_conv2d / deform_im2col on the host backend against torchvision and the reference; the
fused depthwise path also against the general im2col + matmul path."""

import math

import pytest
import torch
from torchvision.ops import deform_conv2d as tv_deform_conv2d

from suite import ops, validate
from suite.errors import OpArgumentError
from suite.kernels.deform import FAMILY
from suite.references import deform as reference

# torchvision's TestDeformConv geometry (test/test_ops.py, get_fn_args)
STRIDE, PADDING, DILATION = (2, 1), (1, 0), (2, 1)
GEOMETRY = dict(stride=STRIDE, padding=PADDING, dilation=DILATION)


def torchvision_test_args(batch, dtype, contiguous=True, seed=0):
    """input, offset, mask, weight, bias as torchvision's test makes them: 6 -> 2 channels, 2 weight
    groups, 3 offset groups, a 3x2 kernel on 5x4 images."""
    gen = torch.Generator().manual_seed(seed)
    f64 = dict(generator=gen, dtype=torch.float64)
    out_h, out_w = 2, 3  # (5 + 2*1 - (2*2 + 1)) // 2 + 1, (4 - 2) // 1 + 1
    x = torch.rand(batch, 6, 5, 4, **f64).to(dtype)
    offset = torch.randn(batch, 3 * 2 * 3 * 2, out_h, out_w, **f64).to(dtype)
    mask = torch.randn(batch, 3 * 3 * 2, out_h, out_w, **f64).to(dtype)
    weight = torch.randn(2, 3, 3, 2, **f64).to(dtype)
    bias = torch.randn(2, **f64).to(dtype)
    if not contiguous:
        x = x.permute(0, 1, 3, 2).contiguous().permute(0, 1, 3, 2)
        offset = offset.permute(1, 3, 0, 2).contiguous().permute(2, 0, 3, 1)
        mask = mask.permute(1, 3, 0, 2).contiguous().permute(2, 0, 3, 1)
        weight = weight.permute(3, 2, 0, 1).contiguous().permute(2, 3, 1, 0)
        assert not weight.is_contiguous() and (batch == 0 or not x.is_contiguous())
    return x, offset, mask, weight, bias


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("contiguous", [True, False])
@pytest.mark.parametrize("batch", [0, 1, 33])
@pytest.mark.parametrize("use_mask", [True, False])
def test_matches_torchvision(dtype, contiguous, batch, use_mask):
    x, offset, mask, weight, bias = torchvision_test_args(batch, dtype, contiguous, seed=batch)
    mask = mask if use_mask else None
    expected = tv_deform_conv2d(x, offset, weight, bias, mask=mask, **GEOMETRY)
    got = ops.deform_conv2d(x, offset, weight, bias, mask=mask, **GEOMETRY, backend="host")
    assert got.shape == expected.shape and got.dtype == dtype
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("with_bias", [True, False])
def test_one_weight_group_matches_torchvision_across_image_steps(dtype, with_bias):
    """One weight group: the GEMM writes the output in place, per step of up to 32 images."""
    x, offset, mask, _, _ = torchvision_test_args(33, dtype, seed=11)
    gen = torch.Generator().manual_seed(12)
    weight = torch.randn(4, 6, 3, 2, generator=gen, dtype=torch.float64).to(dtype)
    bias = torch.randn(4, generator=gen, dtype=torch.float64).to(dtype) if with_bias else None
    expected = tv_deform_conv2d(x, offset, weight, bias, mask=mask, **GEOMETRY)
    got = ops.deform_conv2d(x, offset, weight, bias, mask=mask, **GEOMETRY, backend="host")
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_without_bias_and_with_int_geometry():
    x, _, _, weight, _ = torchvision_test_args(3, torch.float32, seed=5)
    gen = torch.Generator().manual_seed(6)
    offset = torch.randn(3, 2 * 3 * 2, 3, 3, generator=gen)  # one offset group; output 5-3+1 x 4-2+1
    expected = tv_deform_conv2d(x, offset, weight, stride=1, padding=0, dilation=1)
    got = ops.deform_conv2d(x, offset, weight, stride=1, padding=0, dilation=1)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_float16_no_worse_than_torchvision():
    """fp32 sampling and accumulation: at most twice as far from the exact result as torchvision's fp16."""
    x, offset, mask, weight, bias = torchvision_test_args(33, torch.float16, seed=9)
    exact = reference.deform_conv2d(*(t.double() for t in (x, offset, weight, bias)), mask=mask.double(), **GEOMETRY)
    got = ops.deform_conv2d(x, offset, weight, bias, mask=mask, **GEOMETRY, backend="host")
    tv_half = tv_deform_conv2d(x, offset, weight, bias, mask=mask, **GEOMETRY)
    verdict = validate.check(got, exact, tv_half, FAMILY.tolerances["float16"])
    assert verdict.passed, verdict.detail


def test_bfloat16_by_low_precision_rule():
    x, offset, mask, weight, bias = torchvision_test_args(33, torch.bfloat16, contiguous=False, seed=4)
    got = ops.deform_conv2d(x, offset, weight, bias, mask=mask, **GEOMETRY, backend="host")
    assert got.dtype == torch.bfloat16
    ref64 = reference.deform_conv2d(*(t.double() for t in (x, offset, weight, bias)), mask=mask.double(), **GEOMETRY)
    ref_lowp = reference.deform_conv2d(x, offset, weight, bias, mask=mask, **GEOMETRY)
    verdict = validate.check(got, ref64, ref_lowp, FAMILY.tolerances["bfloat16"])
    assert verdict.passed, verdict.detail


@pytest.mark.parametrize("contiguous", [True, False])
def test_im2col_matches_reference(contiguous):
    x, offset, mask, _, _ = torchvision_test_args(4, torch.float32, contiguous, seed=2)
    got = ops.deform_im2col(x, offset, mask, kernel_size=(3, 2), **GEOMETRY, backend="host")
    expected = reference.deform_im2col(x.double(), offset.double(), mask.double(), kernel_size=(3, 2), **GEOMETRY)
    assert got.shape == (6 * 3 * 2, 4 * 2 * 3)
    torch.testing.assert_close(got.double(), expected, atol=1e-5, rtol=1e-5)


def test_launcher_relaunches_into_the_same_buffer():
    x, offset, mask, weight, bias = torchvision_test_args(40, torch.float32, seed=3)  # two 32-image steps
    out = torch.full((40, 2, 2, 3), float("nan"))
    output, launch = ops.deform_conv2d_launcher(x, offset, weight, bias, mask=mask, **GEOMETRY, backend="host", out=out)
    assert output is out
    launch()
    expected = tv_deform_conv2d(x, offset, weight, bias, mask=mask, **GEOMETRY)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    out.fill_(float("nan"))
    launch()
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


# Both kernels' threads own chunks of channels of one offset group (depthwise weights [C*m, 1, kh, kw]
# take the fused kernel). These tests force chunks of ops.CHANNEL_CHUNK (8), which the auto rule
# leaves to large shapes: 12 channels in 1 group give chunks 8 + 4, in 3 groups one partial chunk of
# 4 per group, 20 channels in 2 groups 8 + 2 per group.
CHANNELS_AND_OFFSET_GROUPS = [(12, 1), (12, 3), (20, 2)]
DEPTHWISE_GEOMETRY = dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2))


def depthwise_args(channels, offset_groups, multiplier, dtype, seed, batch=2):
    """input, offset, mask, weight [channels*multiplier, 1, 3, 2] and bias for 7x6 images (output 4x8
    with DEPTHWISE_GEOMETRY); offsets of a few pixels, so samples also fall across the borders."""
    gen = torch.Generator().manual_seed(seed)
    f64 = dict(generator=gen, dtype=torch.float64)
    kh, kw, out_h, out_w = 3, 2, 4, 8
    x = torch.randn(batch, channels, 7, 6, **f64)
    offset = 2 * torch.randn(batch, offset_groups * 2 * kh * kw, out_h, out_w, **f64)
    mask = torch.rand(batch, offset_groups * kh * kw, out_h, out_w, **f64)
    weight = torch.randn(channels * multiplier, 1, kh, kw, **f64) / math.sqrt(kh * kw)
    bias = torch.randn(channels * multiplier, **f64)
    return tuple(t.to(dtype) for t in (x, offset, mask, weight, bias))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("channels, offset_groups", CHANNELS_AND_OFFSET_GROUPS)
@pytest.mark.parametrize("multiplier", [1, 2])
@pytest.mark.parametrize("use_mask, use_bias", [(True, True), (False, False), (True, False), (False, True)])
def test_depthwise_matches_torchvision(dtype, channels, offset_groups, multiplier, use_mask, use_bias):
    x, offset, mask, weight, bias = depthwise_args(channels, offset_groups, multiplier, dtype, seed=channels + multiplier)
    mask, bias = (mask if use_mask else None), (bias if use_bias else None)
    expected = tv_deform_conv2d(x, offset, weight, bias, mask=mask, **DEPTHWISE_GEOMETRY)
    got, launch = ops.deform_conv2d_launcher(x, offset, weight, bias, mask=mask, **DEPTHWISE_GEOMETRY, backend="host",
                                             channel_chunk=ops.CHANNEL_CHUNK)
    launch()
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(got, expected, atol=tol, rtol=tol)


@pytest.mark.parametrize("channels, offset_groups", CHANNELS_AND_OFFSET_GROUPS)
@pytest.mark.parametrize("use_mask", [True, False])
def test_im2col_matches_reference_across_channel_chunks(channels, offset_groups, use_mask):
    x, offset, mask, _, _ = depthwise_args(channels, offset_groups, 1, torch.float64, seed=channels + use_mask)
    mask = mask if use_mask else None
    expected = reference.deform_im2col(x, offset, mask, kernel_size=(3, 2), **DEPTHWISE_GEOMETRY)
    got, launch = ops.deform_im2col_launcher(x, offset, mask, kernel_size=(3, 2), **DEPTHWISE_GEOMETRY, backend="host",
                                             channel_chunk=ops.CHANNEL_CHUNK)
    launch()
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=1e-12)


def _ulp(t: torch.Tensor) -> torch.Tensor:
    """The spacing of t's dtype at |t|, as float32."""
    magnitude = t.abs()
    return (torch.nextafter(magnitude, torch.full_like(magnitude, math.inf)) - magnitude).float()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("channels, offset_groups", CHANNELS_AND_OFFSET_GROUPS)
def test_depthwise_kernel_does_the_general_paths_arithmetic(dtype, channels, offset_groups):
    """Same inputs through the fused kernel and through im2col + matmul: the same columns (sampled,
    masked, rounded to the dtype) and fp32 accumulation, so only the summation order may differ."""
    x, offset, mask, weight, bias = depthwise_args(channels, offset_groups, 2, dtype, seed=channels * offset_groups)
    fused, launch_fused = ops.deform_conv2d_launcher(x, offset, weight, bias, mask=mask, **DEPTHWISE_GEOMETRY,
                                                     backend="host", channel_chunk=ops.CHANNEL_CHUNK)
    general, launch = ops.deform_conv2d_im2col_matmul_launcher(x, offset, weight, bias, mask=mask, **DEPTHWISE_GEOMETRY,
                                                               backend="host", channel_chunk=ops.CHANNEL_CHUNK)
    launch_fused()
    launch()
    if dtype in (torch.float32, torch.float64):
        tol = 1e-12 if dtype == torch.float64 else 1e-6
        torch.testing.assert_close(fused, general, atol=tol, rtol=tol)
        return
    # At most one rounding step apart (plus fp32 summation-order noise where the dtype's spacing is
    # tinier still, near 0); a kernel skipping the columns' rounding is dozens of steps off.
    beyond = float(((fused.float() - general.float()).abs() - _ulp(general)).max())
    assert beyond <= 2**-20, f"the fused path is up to {beyond} beyond one rounding step from the general path"
    ref64 = reference.deform_conv2d(*(t.double() for t in (x, offset, weight, bias)), mask=mask.double(), **DEPTHWISE_GEOMETRY)
    verdict = validate.check(fused, ref64, general, FAMILY.tolerances[str(dtype).removeprefix("torch.")])
    assert verdict.passed, verdict.detail


def _bad_inputs():
    """(name, kwargs changes) that torchvision rejects with a RuntimeError; built on batch 4."""
    x, offset, mask, weight, bias = torchvision_test_args(4, torch.float64, seed=1)
    rand = lambda *shape: torch.rand(*shape, dtype=torch.float64)
    return {
        "offset channels not a multiple of 2*kh*kw": dict(offset=offset[:, :2]),
        "mask channels": dict(mask=mask[:, :2]),
        "offset groups do not divide channels": dict(offset=rand(4, 4 * 2 * 6, 2, 3)),
        "offset spatial size": dict(offset=offset[:, :, :1]),
        "offset batch": dict(offset=offset[:1]),
        "mask batch": dict(mask=mask[:1]),
        "mask spatial size": dict(mask=mask[:, :, :1]),
        "mask not 4-D": dict(mask=mask[0]),
        "output too small": dict(input=x[:, :, :1], offset=rand(4, 36, 0, 3)),
        "negative padding": dict(padding=(-1, 0)),
        "zero dilation": dict(dilation=(0, 1)),
        "weight groups do not divide channels": dict(weight=rand(2, 4, 3, 2)),
        "groups do not divide out_channels": dict(weight=rand(3, 3, 3, 2), bias=rand(3)),
        "offset dtype": dict(offset=offset.float()),
        "bias shape": dict(bias=rand(3)),
    }, dict(input=x, offset=offset, weight=weight, bias=bias, mask=mask, **GEOMETRY)


@pytest.mark.parametrize("name", list(_bad_inputs()[0]))
def test_bad_inputs_raise_runtime_error_like_torchvision(name):
    changes, args = _bad_inputs()
    args = args | changes[name]
    with pytest.raises(RuntimeError):
        tv_deform_conv2d(**args)
    with pytest.raises(OpArgumentError) as error:
        ops.deform_conv2d(**args, backend="host")
    assert isinstance(error.value, RuntimeError)


def test_zero_stride_is_an_error():
    # torchvision's CPU kernel divides by the stride before checking it; we check first.
    x, offset, mask, weight, bias = torchvision_test_args(2, torch.float32)
    with pytest.raises(OpArgumentError, match="stride_h: 0"):
        ops.deform_conv2d(x, offset, weight, bias, stride=(0, 1), padding=PADDING, dilation=DILATION)


def test_torchvision_messages_for_shape_errors():
    changes, args = _bad_inputs()
    with pytest.raises(RuntimeError, match="the shape of the offset"):
        ops.deform_conv2d(**(args | changes["offset channels not a multiple of 2*kh*kw"]))
    with pytest.raises(RuntimeError, match=r"mask.shape\[1\] is not valid"):
        ops.deform_conv2d(**(args | changes["mask channels"]))
