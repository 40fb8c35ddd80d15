"""The pure-PyTorch deformable reference against torchvision.ops.deform_conv2d and hand-computed values."""

import pytest
import torch
from torchvision.ops import deform_conv2d as tv_deform_conv2d

from suite.references.deform import deform_conv2d, deform_im2col, output_size, pair

# (batch, in, out, (H, W), kernel, stride, padding, dilation, groups, offset_groups, mask)
CONFIGS = [
    (2, 4, 4, (7, 9), 3, 1, 0, 1, 1, 1, False),
    (2, 4, 4, (7, 9), 3, 1, 1, 1, 1, 1, True),
    (1, 3, 2, (9, 8), 3, (2, 1), (1, 2), (1, 2), 1, 1, True),
    (3, 6, 2, (5, 4), (3, 2), (2, 1), (1, 0), (2, 1), 2, 3, True),  # torchvision's own test geometry
    (2, 6, 6, (6, 5), 3, 2, 1, 1, 6, 2, False),  # depthwise
    (1, 2, 2, (2, 5), 3, 2, 0, 1, 1, 1, True),  # input shorter than the kernel: one output row
]


def _random_args(config, dtype, seed):
    b, c, o, (h, w), k, s, p, d, g, og, use_mask = config
    gen = torch.Generator().manual_seed(seed)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = pair(k), pair(s), pair(p), pair(d)
    oh, ow = output_size(h, kh, sh, ph, dh), output_size(w, kw, sw, pw, dw)
    rand = lambda *shape, scale=1.0: (scale * torch.randn(*shape, generator=gen, dtype=torch.float64)).to(dtype)
    return dict(
        input=rand(b, c, h, w),
        offset=rand(b, og * 2 * kh * kw, oh, ow, scale=2.5),
        weight=rand(o, c // g, kh, kw),
        bias=rand(o),
        stride=s, padding=p, dilation=d,
        mask=torch.rand(b, og * kh * kw, oh, ow, generator=gen, dtype=torch.float64).to(dtype) if use_mask else None,
    )


@pytest.mark.parametrize("config", CONFIGS, ids=str)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 2e-5)])
def test_matches_torchvision(config, dtype, tol):
    args = _random_args(config, dtype, seed=CONFIGS.index(config))
    expected = tv_deform_conv2d(**args)
    got = deform_conv2d(**args)
    assert got.dtype == dtype and got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=tol, rtol=tol)


@pytest.mark.parametrize("config", CONFIGS[:4], ids=str)
def test_matches_torchvision_float16(config):
    args = _random_args(config, torch.float16, seed=7)
    try:
        expected = tv_deform_conv2d(**args)
    except RuntimeError as exc:  # builds whose CPU kernel lacks half
        pytest.skip(f"torchvision's CPU deform_conv2d has no float16 here: {exc}")
    exact = tv_deform_conv2d(**{k: v.double() if isinstance(v, torch.Tensor) else v for k, v in args.items()})
    got = deform_conv2d(**args)
    # Both round at each half operation, in different orders: each must be about as far from the exact result.
    tv_err = (expected.double() - exact).abs().max()
    assert (got.double() - exact).abs().max() <= 2 * tv_err + 1e-2


def test_hand_computed_points():
    """Sample points at documented positions of a 4x5 plane and compare with values worked by hand."""
    h, w = 4, 5
    gen = torch.Generator().manual_seed(3)
    v = torch.randn(h, w, generator=gen, dtype=torch.float64)
    points = [
        ((2.0, 3.0), v[2, 3]),  # integer position: the pixel itself
        ((-1.0, 2.0), 0.0),  # exactly y = -1: outside by the `> -1` rule
        ((-0.5, 2.0), 0.5 * v[0, 2]),  # only the row-0 corners count, weight 1 - 0.5
        ((h - 1 + 0.5, 1.25), 0.5 * (0.75 * v[h - 1, 1] + 0.25 * v[h - 1, 2])),  # H-1+0.5: lower corners are outside
        ((float(h), 0.0), 0.0),  # exactly y = H: outside
        ((1.5, -1.0), 0.0),  # exactly x = -1
        ((1.5, -0.25), 0.5 * 0.75 * (v[1, 0] + v[2, 0])),  # x corners -1 (outside) and 0 (weight 0.75)
        ((1.5, w - 1.0), 0.5 * (v[1, w - 1] + v[2, w - 1])),  # last column exactly: right corners outside
        ((0.25, 3.5), 0.75 * 0.5 * (v[0, 3] + v[0, 4]) + 0.25 * 0.5 * (v[1, 3] + v[1, 4])),  # interior
        ((h - 0.5, w - 0.5), 0.25 * v[h - 1, w - 1]),  # corner: one neighbour inside
    ]
    # A 1x1 kernel on the 4x5 image gives 20 output pixels; pixel n (row-major) samples points[n].
    offset = torch.zeros(1, 2, h, w, dtype=torch.float64)
    for n, ((y, x), _) in enumerate(points):
        oy, ox = divmod(n, w)
        offset[0, 0, oy, ox], offset[0, 1, oy, ox] = y - oy, x - ox
    mask = torch.rand(1, 1, h, w, generator=gen, dtype=torch.float64)
    for dtype in (torch.float64, torch.float32):
        columns = deform_im2col(v.reshape(1, 1, h, w).to(dtype), offset.to(dtype), mask.to(dtype), kernel_size=1)
        for n, (_, expected) in enumerate(points):
            assert float(columns[0, n]) == pytest.approx(float(mask.flatten()[n] * expected), abs=1e-6), points[n][0]
        # and the same values through torchvision
        tv = tv_deform_conv2d(v.reshape(1, 1, h, w).to(dtype), offset.to(dtype), torch.ones(1, 1, 1, 1, dtype=dtype), mask=mask.to(dtype))
        torch.testing.assert_close(columns.reshape(1, 1, h, w), tv)


def test_im2col_layout_matches_unfold_without_offsets():
    """Zero offsets make deform_im2col an ordinary im2col: torch.nn.functional.unfold's rows and columns."""
    gen = torch.Generator().manual_seed(11)
    x = torch.randn(3, 4, 6, 7, generator=gen, dtype=torch.float64)
    k, s, p, d = (3, 2), (2, 1), (1, 1), (1, 2)
    oh, ow = output_size(6, 3, 2, 1, 1), output_size(7, 2, 1, 1, 2)
    offset = torch.zeros(3, 2 * 6, oh, ow, dtype=torch.float64)
    columns = deform_im2col(x, offset, kernel_size=k, stride=s, padding=p, dilation=d)
    unfolded = torch.nn.functional.unfold(x, k, dilation=d, padding=p, stride=s)  # [B, C*kh*kw, L]
    torch.testing.assert_close(columns, unfolded.permute(1, 0, 2).reshape(columns.shape))


def test_output_size_truncates_like_torchvision():
    assert output_size(2, 3, 2, 0, 1) == 1  # C++ truncation of -1/2
    assert output_size(2, 3, 1, 0, 1) == 0
    assert output_size(7, 3, 2, 1, 1) == 4
