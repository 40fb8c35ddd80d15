"""Pure-PyTorch deformable im2col and deform_conv2d with torchvision's exact semantics.

Works in any float dtype (float64 for the reference, the kernel's dtype for the low-precision
reference) on any device; vectorised with gather, no Python loop over pixels. Arguments are assumed
valid: suite.ops checks them.
"""

from __future__ import annotations

import torch


def pair(value) -> tuple[int, int]:
    """An int or a 2-sequence of ints as (h, w), like torch.nn.modules.utils._pair."""
    if isinstance(value, int):
        return value, value
    h, w = value
    return int(h), int(w)


def output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """torchvision's output extent. The division truncates toward zero as in its C++ code, so an input
    one pixel shorter than the dilated kernel still gives one output position."""
    span = size + 2 * padding - (dilation * (kernel - 1) + 1)
    quotient = abs(span) // stride
    return (quotient if span >= 0 else -quotient) + 1


def sampling_base(kernel_size, stride, padding, dilation, out_h: int, out_w: int, device=None):
    """The undeformed sampling positions as int64 tensors: y [taps, Ho, 1] and x [taps, 1, Wo], with
    tap = i*kw + j; y = oy*stride_h - pad_h + i*dilation_h, and likewise x. Offsets move them."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = pair(kernel_size), pair(stride), pair(padding), pair(dilation)
    y = (torch.arange(kh, device=device) * dh).repeat_interleave(kw)[:, None] + torch.arange(out_h, device=device) * sh - ph
    x = (torch.arange(kw, device=device) * dw).repeat(kh)[:, None] + torch.arange(out_w, device=device) * sw - pw
    return y[:, :, None], x[:, None, :]


def deform_im2col(input, offset, mask=None, *, kernel_size, stride=1, padding=0, dilation=1) -> torch.Tensor:
    """Columns [C*kh*kw, B*Ho*Wo] in torchvision's order (row (c, i, j), column (b, oy, ox))."""
    kh, kw = pair(kernel_size)
    batch, channels, height, width = input.shape
    out_h, out_w = offset.shape[-2:]
    groups = offset.shape[1] // (2 * kh * kw)
    taps = kh * kw
    dtype, device = input.dtype, input.device

    # Sampling coordinates [B, G, taps, Ho, Wo]: integer base position (exact) plus the offset,
    # added in `dtype` as torchvision does.
    off = offset.reshape(batch, groups, taps, 2, out_h, out_w)
    base_y, base_x = sampling_base((kh, kw), stride, padding, dilation, out_h, out_w, device)
    y = base_y.to(dtype) + off[:, :, :, 0]
    x = base_x.to(dtype) + off[:, :, :, 1]

    # Closed, not torchvision's forward rule -1 < y < H: on the edge y == -1 (or H) the sample is 0
    # either way (the one corner inside has weight 0), and including it gives autograd torchvision's
    # coordinate derivative there (the one-sided one of its col2im_coord kernel). NaN is outside.
    inside = (y >= -1) & (y <= height) & (x >= -1) & (x <= width)
    y_low, x_low = torch.floor(y), torch.floor(x)
    ly, lx = y - y_low, x - x_low
    hy, hx = 1 - ly, 1 - lx
    y_low, x_low = y_low.long(), x_low.long()

    # Each image's channels split into offset groups: [B, G, C/G, H*W], gathered at flat positions.
    planes = input.reshape(batch, groups, channels // groups, height * width)
    flat = taps * out_h * out_w

    def corner(cy, cx, weight):
        valid = inside & (cy >= 0) & (cy <= height - 1) & (cx >= 0) & (cx <= width - 1)
        position = (cy.clamp(0, height - 1) * width + cx.clamp(0, width - 1)).reshape(batch, groups, 1, flat)
        values = planes.gather(3, position.expand(-1, -1, channels // groups, -1))
        # where, not a product: a non-finite weight of a point outside must still give 0
        return torch.where(valid, weight, 0).reshape(batch, groups, 1, flat) * values

    # torchvision's summation order: (low,low) + (low,high) + (high,low) + (high,high).
    sampled = (
        corner(y_low, x_low, hy * hx)
        + corner(y_low, x_low + 1, hy * lx)
        + corner(y_low + 1, x_low, ly * hx)
        + corner(y_low + 1, x_low + 1, ly * lx)
    )
    if mask is not None:
        sampled = mask.reshape(batch, groups, 1, flat) * sampled
    # [B, G, C/G, taps, Ho, Wo] -> [C, taps, B, Ho, Wo] -> columns
    sampled = sampled.reshape(batch, channels, taps, out_h, out_w).permute(1, 2, 0, 3, 4)
    return sampled.reshape(channels * taps, batch * out_h * out_w)


def deform_conv2d(input, offset, weight, bias=None, stride=1, padding=0, dilation=1, mask=None) -> torch.Tensor:
    """torchvision.ops.deform_conv2d computed from deform_im2col and one matmul per weight group."""
    batch = input.shape[0]
    out_channels, channels_per_group, kh, kw = weight.shape
    groups = input.shape[1] // channels_per_group
    out_h, out_w = offset.shape[-2:]
    columns = deform_im2col(input, offset, mask, kernel_size=(kh, kw), stride=stride, padding=padding, dilation=dilation)
    columns = columns.reshape(groups, channels_per_group * kh * kw, batch * out_h * out_w)
    out = torch.matmul(weight.reshape(groups, out_channels // groups, -1), columns)
    out = out.reshape(out_channels, batch, out_h, out_w).permute(1, 0, 2, 3)
    if bias is not None:
        out = out + bias.reshape(1, out_channels, 1, 1)
    return out.contiguous()
