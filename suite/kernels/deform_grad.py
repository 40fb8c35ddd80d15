"""Launchers of the deformable convolution's backward kernels (the forward's are in deform_launch.py).

Given grad_output, per step of up to MAX_PARALLEL_IMAGES images (as the forward):
  columns       = deform_im2col(input, offset, mask)             (recomputed, for the weight's gradient)
  grad_weight  += grad_output @ columns^T                         (one matmul per weight group)
  grad_columns  = weight^T @ grad_output                          (one matmul per weight group)
  grad_input    = col2im(grad_columns)                            (kernels_cu/deform_col2im.cu)
  grad_offset, grad_mask = col2im_coord(input, grad_columns)      (kernels_cu/deform_col2im_coord.cu)
and grad_bias = grad_output summed over images and pixels. The matmuls take gemm_dtype (tensor cores
for fp16/bf16 on the GPU, fp32 accumulation); grad_weight and grad_bias sum in fp32 (fp64 for fp64)
and are rounded once.

grad_input has two modes (GRAD_MODES): "fast" scatters with atomics (the order of the additions
varies run to run), "deterministic" sorts the scatter's targets once per step and gathers in that
order (the same bits every run). `deterministic=None` follows torch.are_deterministic_algorithms_enabled().
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import torch

from suite import KERNELS_DIR
from suite.kernels.deform_launch import (AUTO_CHUNK, CHANNEL_CHUNK, DEFORM_DTYPES, INDEX_TYPES, MAX_PARALLEL_IMAGES,
                                         DeformGeometry, all_names, conv_geometry, contiguous, gemm_dtype,
                                         grid_stride_launch, im2col_launch, kernel_name, with_chunk)
from suite.kernels.op_arguments import backend_for, require
from suite.kernels.torch_flags import EXACT_CUDA_MATMUL, torch_flags_off

COL2IM_SOURCE = KERNELS_DIR / "deform_col2im.cu"
COORD_SOURCE = KERNELS_DIR / "deform_col2im_coord.cu"
GRAD_MODES = ("fast", "deterministic")


def col2im_atomic_name(dtype: torch.dtype, index=np.int32, chunk: int = CHANNEL_CHUNK) -> str:
    return kernel_name("deform_col2im_atomic", dtype, index, chunk)


def col2im_gather_name(dtype: torch.dtype, index=np.int32, chunk: int = CHANNEL_CHUNK) -> str:
    return kernel_name("deform_col2im_gather", dtype, index, chunk)


def col2im_plan_name(dtype: torch.dtype, index=np.int32, chunk: int | None = None) -> str:
    """The plan kernel's name; it has no channel chunk (`chunk` is taken and ignored, as the launch
    helper passes one to every name function)."""
    return f"deform_col2im_plan<{DEFORM_DTYPES[dtype]}, {INDEX_TYPES[index]}>"


def col2im_coord_name(dtype: torch.dtype, index=np.int32, chunk: int | None = None) -> str:
    """The coordinate kernel's name; no channel chunk, as col2im_plan_name."""
    return f"deform_col2im_coord<{DEFORM_DTYPES[dtype]}, {INDEX_TYPES[index]}>"


def _unchunked_names(name) -> tuple[str, ...]:
    return tuple(name(d, i) for d in DEFORM_DTYPES for i in INDEX_TYPES)


COL2IM_NAME_EXPRESSIONS = (all_names(col2im_atomic_name) + all_names(col2im_gather_name)
                           + _unchunked_names(col2im_plan_name))
COORD_NAME_EXPRESSIONS = _unchunked_names(col2im_coord_name)
# (source, name function, has a channel chunk) of every backward kernel: what `suite check` compiles.
KERNELS = ((COL2IM_SOURCE, col2im_atomic_name, True), (COL2IM_SOURCE, col2im_gather_name, True),
           (COL2IM_SOURCE, col2im_plan_name, False), (COORD_SOURCE, col2im_coord_name, False))


def _col2im_fast(backend, g: DeformGeometry, offset, mask, grad_columns, accumulator):
    """grad_input += col2im(grad_columns) by atomics into `accumulator` (zeroed by the caller)."""
    tensors = (offset, offset if mask is None else mask, grad_columns, accumulator)
    return grid_stride_launch(backend, COL2IM_SOURCE, COL2IM_NAME_EXPRESSIONS, col2im_atomic_name, g, g.work_items,
                              tensors, (*g.kernel_sizes, mask is not None), accumulators=(3,))


def _col2im_deterministic(backend, g: DeformGeometry, offset, mask, grad_columns, grad_input):
    """grad_input = col2im(grad_columns), each element summing its contributions in a fixed order."""
    taps, pixels = g.kernel_h * g.kernel_w, g.out_h * g.out_w
    groups = g.batch * g.offset_groups
    entries = groups * taps * pixels * 4
    device = offset.device
    keys = torch.empty(entries, dtype=torch.int64, device=device)
    weights = torch.empty(entries, dtype=torch.float64 if offset.dtype == torch.float64 else torch.float32, device=device)
    sorted_keys, order = torch.empty_like(keys), torch.empty_like(keys)
    cells = torch.arange(groups * (g.height * g.width + 1) + 1, device=device)
    starts = torch.empty_like(cells)
    plan = grid_stride_launch(backend, COL2IM_SOURCE, COL2IM_NAME_EXPRESSIONS, col2im_plan_name, g, groups * pixels,
                              (offset, offset if mask is None else mask, keys, weights), (*g.kernel_sizes, mask is not None))
    # The gather's work items are input pixels: the geometry's work_items with the input as "output".
    over_input = dataclasses.replace(g, out_h=g.height, out_w=g.width)
    gather = grid_stride_launch(backend, COL2IM_SOURCE, COL2IM_NAME_EXPRESSIONS, col2im_gather_name, g,
                                over_input.work_items, (grad_columns, order, starts, weights, grad_input), g.kernel_sizes)

    def launch():
        plan()
        torch.sort(keys, stable=True, out=(sorted_keys, order))  # stable: each key's run keeps the plan's order
        torch.searchsorted(sorted_keys, cells, out=starts)
        gather()

    return launch


def _coord(backend, g: DeformGeometry, input, offset, mask, grad_columns, grad_offset, grad_mask):
    tensors = (input, offset, offset if mask is None else mask, grad_columns, grad_offset,
               grad_offset if grad_mask is None else grad_mask)
    return grid_stride_launch(backend, COORD_SOURCE, COORD_NAME_EXPRESSIONS, col2im_coord_name, g, offset.numel(),
                              tensors, (*g.kernel_sizes, mask is not None))


def deform_conv2d_backward_launcher(grad_output, input, offset, weight, bias=None, stride=1, padding=0, dilation=1,
                                    mask=None, *, backend=None, deterministic: bool | None = None,
                                    channel_chunk: int = AUTO_CHUNK):
    """(grads, launch): the gradients of deform_conv2d(input, offset, weight, bias, ..., mask) under
    grad_output, as a dict keyed "input", "offset", "weight", "mask" and "bias" (the last two only when
    given), each a new buffer that `launch()` fills (again and again, with no allocation). Arguments are checked as deform_conv2d's;
    grad_output must have the output's shape, dtype and device."""
    op = "deform_conv2d backward"
    require(deterministic in (None, True, False), f"{op}: deterministic must be True, False or None, got {deterministic!r}")
    g = conv_geometry(op, input, offset, weight, bias, stride, padding, dilation, mask, channel_chunk)
    out_channels, group_channels, kh, kw = weight.shape
    require(isinstance(grad_output, torch.Tensor) and grad_output.dtype == input.dtype and grad_output.device == input.device
            and tuple(grad_output.shape) == (g.batch, out_channels, g.out_h, g.out_w),
            f"{op}: grad_output must be a {input.dtype} tensor on {input.device} of the output's shape "
            f"{(g.batch, out_channels, g.out_h, g.out_w)}, got {getattr(grad_output, 'shape', type(grad_output).__name__)}")
    runner = backend_for(op, input, backend)
    g = with_chunk(g, runner)
    if deterministic is None:
        deterministic = torch.are_deterministic_algorithms_enabled()
    grad_output, input, offset, mask, weight = contiguous(grad_output, input, offset, mask, weight)
    new = functools.partial(torch.empty, dtype=input.dtype, device=input.device)
    grads = {"input": new(input.shape), "offset": new(offset.shape), "weight": new(weight.shape)}
    if mask is not None:
        grads["mask"] = new(mask.shape)
    if bias is not None:
        grads["bias"] = new(bias.shape)

    groups = g.channels // group_channels
    acc = gemm_dtype(input)
    sums = torch.float64 if input.dtype == torch.float64 else torch.float32  # grad_weight, grad_bias, atomics
    widen = acc != input.dtype
    chunk = max(1, min(g.batch, MAX_PARALLEL_IMAGES))
    rows, pixels = g.channels * kh * kw, g.out_h * g.out_w
    buffer = functools.partial(torch.empty, device=input.device)
    columns = buffer(rows * chunk * pixels, dtype=input.dtype)
    columns_acc = buffer(columns.shape, dtype=acc) if widen else columns
    grad_columns_acc = buffer(columns.shape, dtype=acc)
    grad_columns = buffer(columns.shape, dtype=input.dtype) if widen else grad_columns_acc
    grad_out_acc = buffer(out_channels * chunk * pixels, dtype=acc)
    weight_acc = weight.to(acc).reshape(groups, out_channels // groups, group_channels * kh * kw)
    weight_products = buffer(weight_acc.shape, dtype=acc)
    grad_weight_sum = buffer(weight_acc.shape, dtype=sums)
    # fast mode: atomics add into grad_input itself in fp32/fp64, else into an fp32 buffer rounded at the end
    accumulator = None if deterministic else grads["input"] if input.dtype == sums else buffer(input.shape, dtype=sums)

    steps = [grad_weight_sum.zero_] + ([] if accumulator is None else [accumulator.zero_])
    for start in range(0, g.batch, chunk):
        images = min(chunk, g.batch - start)
        size = images * pixels
        part = slice(start, start + images)
        step = dataclasses.replace(g, batch=images)
        part_mask = None if mask is None else mask[part]
        cols, cols_acc = (c[: rows * size].view(groups, rows // groups, size) for c in (columns, columns_acc))
        gcols_acc, gcols = (c[: rows * size].view(groups, rows // groups, size) for c in (grad_columns_acc, grad_columns))
        gout = grad_out_acc[: out_channels * size].view(out_channels, images, g.out_h, g.out_w)
        steps.append(im2col_launch(runner, step, input[part], offset[part], part_mask, cols.view(rows, size)))
        if widen:
            steps.append(functools.partial(cols_acc.copy_, cols))
        steps.append(functools.partial(gout.copy_, grad_output[part].permute(1, 0, 2, 3)))
        gout = gout.view(groups, out_channels // groups, size)
        steps.append(functools.partial(torch.bmm, gout, cols_acc.transpose(1, 2), out=weight_products))
        steps.append(functools.partial(grad_weight_sum.add_, weight_products))
        steps.append(functools.partial(torch.bmm, weight_acc.transpose(1, 2), gout, out=gcols_acc))
        if widen:
            steps.append(functools.partial(gcols.copy_, gcols_acc))
        flat_gcols = gcols.view(rows, size)
        if deterministic:
            steps.append(_col2im_deterministic(runner, step, offset[part], part_mask, flat_gcols, grads["input"][part]))
        else:
            steps.append(_col2im_fast(runner, step, offset[part], part_mask, flat_gcols, accumulator[part]))
        steps.append(_coord(runner, step, input[part], offset[part], part_mask, flat_gcols, grads["offset"][part],
                            None if mask is None else grads["mask"][part]))
    if accumulator is not None and accumulator is not grads["input"]:
        steps.append(functools.partial(grads["input"].copy_, accumulator))
    steps.append(functools.partial(grads["weight"].copy_, grad_weight_sum.view(weight.shape)))
    if bias is not None:
        grad_bias_sum = buffer(bias.shape, dtype=sums)
        steps.append(functools.partial(torch.sum, grad_output, (0, 2, 3), dtype=sums, out=grad_bias_sum))
        steps.append(functools.partial(grads["bias"].copy_, grad_bias_sum))

    def launch():
        with torch.no_grad(), torch_flags_off(*EXACT_CUDA_MATMUL):
            for s in steps:
                s()

    return grads, launch
