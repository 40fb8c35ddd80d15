"""Launch geometry and launchers of the deformable convolution kernels (forward; the backward ones
are in deform_grad.py): argument checks as torchvision's, kernel names, grid sizes, and the
im2col + matmul steps. suite.ops wraps them as the public ops; the family (deform.py) times them.

Deformable convolution takes one of three paths (`path`, resolve_path): kernels_cu/deform_im2col.cu,
then one matmul per weight group (im2col_gemm); kernels_cu/deform_conv2d_implicit.cu, which samples
each K-slice of the columns into shared memory and multiplies it there (implicit_gemm); for depthwise
weights (weight.shape[1] == 1: each output channel reads one input channel)
kernels_cu/deform_conv2d_depthwise.cu, which samples and accumulates in one pass.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import torch

from suite import KERNELS_DIR
from suite.kernels.op_arguments import INDEX32_LIMIT, INT32_MAX, backend_for, check_like, output_buffer, require
from suite.kernels.torch_flags import EXACT_CUDA_MATMUL, torch_flags_off
from suite.references.deform import output_size, pair

DEFORM_SOURCE = KERNELS_DIR / "deform_im2col.cu"
DEPTHWISE_SOURCE = KERNELS_DIR / "deform_conv2d_depthwise.cu"
IMPLICIT_SOURCE = KERNELS_DIR / "deform_conv2d_implicit.cu"
DEFORM_THREADS = 256
DEFORM_MAX_BLOCKS = 65536  # enough to fill any GPU; the kernels' grid-stride loops cover the rest
MAX_PARALLEL_IMAGES = 32  # images per im2col + matmul step, as torchvision: bounds the columns buffer
# Input channels per thread of both kernels (their CHUNK template parameter): the channels of a chunk
# share each tap's offsets, mask and bilinear point. Both CHANNEL_CHUNKS are instantiated; AUTO_CHUNK
# (the default) lets with_chunk pick one per launch, and a case can force either (`channel_chunk`) to
# time one against the other. CHANNEL_CHUNK is the chunk the name helpers default to.
CHANNEL_CHUNK = 8
CHANNEL_CHUNKS = (8, 1)
AUTO_CHUNK = 0
CHUNK_CHOICES = (AUTO_CHUNK, *CHANNEL_CHUNKS)
# Blocks of DEFORM_THREADS resident on one SM of the chunk-8 kernels that with_chunk sizes launches
# by, at their registers (ptxas, sm_80 and sm_90, int32 indexing, fp32/fp16/bf16: im2col 62-64,
# depthwise 84-87); `suite check` fails a kernel that falls below (Instantiation.min_blocks_per_sm).
# The backward's chunk follows its first kernel, the im2col recompute. And the waves to fill.
CHUNK8_BLOCKS_PER_SM = {"deform_im2col": 4, "deform_conv2d_depthwise": 2}
CHUNK_MIN_WAVES = 2
DEFORM_DTYPES = {torch.float32: "float", torch.float16: "__half", torch.bfloat16: "__nv_bfloat16", torch.float64: "double"}
INDEX_TYPES = {np.int32: "int", np.int64: "long long"}


def kernel_name(kernel: str, dtype: torch.dtype, index, chunk: int) -> str:
    return f"{kernel}<{DEFORM_DTYPES[dtype]}, {INDEX_TYPES[index]}, {chunk}>"


def deform_im2col_name(dtype: torch.dtype, index=np.int32, chunk: int = CHANNEL_CHUNK) -> str:
    """The kernel's name expression for a tensor dtype, an index type (numpy.int32 or numpy.int64) and
    a channel chunk (one of CHANNEL_CHUNKS)."""
    return kernel_name("deform_im2col", dtype, index, chunk)


def deform_conv2d_depthwise_name(dtype: torch.dtype, index=np.int32, chunk: int = CHANNEL_CHUNK) -> str:
    """The depthwise kernel's name expression, as deform_im2col_name."""
    return kernel_name("deform_conv2d_depthwise", dtype, index, chunk)


def all_names(kernel_name) -> tuple[str, ...]:
    return tuple(kernel_name(d, i, c) for d in DEFORM_DTYPES for i in INDEX_TYPES for c in CHANNEL_CHUNKS)


DEFORM_NAME_EXPRESSIONS = all_names(deform_im2col_name)
DEPTHWISE_NAME_EXPRESSIONS = all_names(deform_conv2d_depthwise_name)

# deform_conv2d's paths: "auto" is the op's rule (resolve_path); the others force one.
PATHS = ("auto", "implicit_gemm", "im2col_gemm")
IMPLICIT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)  # float64 keeps im2col + matmul
# The implicit GEMM's tile: BM output channels x BN output positions (= its threads: one position
# each in the gather) x BK channels of one tap; the kernel's header gives the performance model.
IMPLICIT_TILE = (64, 128, 32)
IMPLICIT_THREADS = 128
# Blocks per SM the kernel's performance model counts on (its header): 4 by registers (124-128 per
# thread); fp32's 51 KiB of shared memory leave 3 on sm_80. `suite check` holds them.
IMPLICIT_BLOCKS_PER_SM = {torch.float32: 3, torch.float16: 4, torch.bfloat16: 4}
IMPLICIT_GRID_YZ_MAX = 65535  # grid z is the weight groups


# The implicit GEMM's gathers: from the NCHW input, one 2-byte load per corner and channel, or from a
# channels-last (NHWC) input, one 16-byte load per corner and NHWC_VECTOR channels (fp16/bf16 only).
# "auto" is resolve_gather's rule; the others force a layout, so that a sweep times one against the other.
GATHERS = ("auto", "nchw", "nhwc")
NHWC_DTYPES = (torch.float16, torch.bfloat16)
NHWC_VECTOR = 8  # channels per 16-byte load
NHWC_MIN_CHANNELS = 16  # channels per weight group from which auto takes NHWC (resolve_gather)


def deform_conv2d_implicit_name(dtype: torch.dtype, nhwc: bool = False) -> str:
    bm, bn, bk = IMPLICIT_TILE
    return f"deform_conv2d_implicit<{DEFORM_DTYPES[dtype]}, {bm}, {bn}, {bk}, {str(nhwc).lower()}>"


IMPLICIT_NAME_EXPRESSIONS = (*(deform_conv2d_implicit_name(d) for d in IMPLICIT_DTYPES),
                             *(deform_conv2d_implicit_name(d, nhwc=True) for d in NHWC_DTYPES))


def implicit_shared_bytes(dtype: torch.dtype) -> int:
    """Two A and two B slice buffers (rows padded by 16 bytes), or the epilogue's staging tile (rows
    padded by 8 elements) if larger."""
    bm, bn, bk = IMPLICIT_TILE
    size = dtype.itemsize
    pad = 16 // size
    return max(2 * (bm * (bk + pad) + bk * (bn + pad)), bm * (bn + 8)) * size


def resolve_path(path: str, dtype: torch.dtype, depthwise: bool) -> str:
    """The kernels deform_conv2d runs: "depthwise", "implicit_gemm" or "im2col_gemm". A forced `path`
    is taken as given. The rule for "auto", to be confirmed on the first GPU run (the full tier's
    path sweeps time both ways):
    - depthwise weights: the fused depthwise kernel. K is only kh*kw there, so a GEMM tile would be
      mostly padding, and the depthwise kernel already never writes columns.
    - fp16/bf16: implicit_gemm. Tensor cores at the GEMM's rate, and the columns (taps times the
      input's size) never make the round trip through DRAM that dominates im2col + GEMM.
    - fp32 (and float64, which has no implicit instantiation): im2col_gemm. The fused kernel's fp32
      inner product is a plain SIMT loop (about one shared-memory load per three FMAs), while
      cuBLAS's SGEMM is register-blocked near the FP32 peak; with TF32 off, the GEMM's FLOPs, not the
      columns' bytes, are predicted to dominate at the channel counts the suite times."""
    if path != "auto":
        return path
    if depthwise:
        return "depthwise"
    return "implicit_gemm" if dtype in (torch.float16, torch.bfloat16) else "im2col_gemm"


def nhwc_fits(dtype: torch.dtype, group_channels: int, offset_group_channels: int) -> bool:
    """Whether the NHWC gather can run: a 16-bit dtype, and the channels of every weight group and of
    every offset group a multiple of NHWC_VECTOR, so that no 8-channel vector crosses a group (whose
    channels differ in weights or in sampling point) and every vector is 16-byte aligned."""
    return dtype in NHWC_DTYPES and group_channels % NHWC_VECTOR == 0 and offset_group_channels % NHWC_VECTOR == 0


def resolve_gather(gather: str, dtype: torch.dtype, group_channels: int, offset_group_channels: int) -> str:
    """The implicit GEMM's gather layout, "nchw" or "nhwc". A forced "nhwc" must fit (nhwc_fits). The
    rule for "auto", a PREDICTION to be confirmed on the first GPU run (the full tier's gather_tuning
    times both): NHWC where it fits and a weight group has at least NHWC_MIN_CHANNELS channels. A
    slice's gather then issues 4 corner loads per 8 channels instead of 32 (8x fewer load
    instructions, address computations and predicates, the part of the gather that scales with the
    channels), against the staging copy of an NCHW input (one read and one write of the input per
    launch, small beside the gather's taps x ceil(out channels per group / BM) passes over it).
    Below 16 channels a 32-channel slice is at least half zero padding, and each position's point
    (3 offset/mask loads and its coordinate arithmetic per offset group) weighs as much as the few
    corner loads left to save, so the copy is predicted not to pay; NCHW there."""
    if gather == "auto":
        fits = nhwc_fits(dtype, group_channels, offset_group_channels) and group_channels >= NHWC_MIN_CHANNELS
        return "nhwc" if fits else "nchw"
    require(gather != "nhwc" or nhwc_fits(dtype, group_channels, offset_group_channels),
            f"deform_conv2d: gather='nhwc' needs float16 or bfloat16 and channels per weight group and per offset "
            f"group that are multiples of {NHWC_VECTOR}; got {dtype}, {group_channels} and {offset_group_channels}")
    return gather


def stage_channels_last(input: torch.Tensor):
    """(input channels-last, the callable that refills it): the input itself and None where it already
    is channels-last with 16-byte aligned vectors (no copy), else a copy made once here and refilled
    by each call of the callable, so that a relaunch reads the input's current values."""
    if input.is_contiguous(memory_format=torch.channels_last) and input.data_ptr() % 16 == 0:
        return input, None
    staged = torch.empty_like(input, memory_format=torch.channels_last)
    return staged, functools.partial(staged.copy_, input)


@dataclasses.dataclass(frozen=True)
class DeformGeometry:
    """The sizes of one deformable im2col."""

    batch: int
    channels: int
    height: int
    width: int
    kernel_h: int
    kernel_w: int
    stride_h: int
    stride_w: int
    pad_h: int
    pad_w: int
    dilation_h: int
    dilation_w: int
    offset_groups: int
    out_h: int
    out_w: int
    channel_chunk: int = CHANNEL_CHUNK  # a launch choice, not a size: input channels per thread (or AUTO_CHUNK)

    @property
    def columns_shape(self) -> tuple[int, int]:
        return self.channels * self.kernel_h * self.kernel_w, self.batch * self.out_h * self.out_w

    @property
    def work_items(self) -> int:
        """Threads' work of both kernels: one output pixel x a chunk of channel_chunk channels of one
        offset group (kernels_cu/common/channel_chunks.cuh)."""
        chunks = -(-(self.channels // self.offset_groups) // self.channel_chunk)
        return self.batch * self.offset_groups * chunks * self.out_h * self.out_w

    @property
    def kernel_sizes(self) -> tuple[int, ...]:
        """The int sizes both kernels take after `n`, in their order."""
        return (self.batch, self.channels, self.height, self.width, self.kernel_h, self.kernel_w, self.pad_h, self.pad_w,
                self.stride_h, self.stride_w, self.dilation_h, self.dilation_w, self.offset_groups, self.out_h, self.out_w)


def deform_geometry(op: str, input, offset, mask, kernel_size, stride, padding, dilation,
                    channel_chunk: int = AUTO_CHUNK) -> DeformGeometry:
    """Check the im2col arguments as torchvision's deform_conv2d does, in its order and with its messages."""
    require(channel_chunk in CHUNK_CHOICES,
            f"{op}: channel_chunk must be one of {', '.join(map(str, CHANNEL_CHUNKS))} or {AUTO_CHUNK} (auto), "
            f"got {channel_chunk!r}")
    require(isinstance(input, torch.Tensor), f"{op}: input must be a torch.Tensor, got {type(input).__name__}")
    require(input.dtype in DEFORM_DTYPES, f"{op}: input dtype {input.dtype} is not supported; use one of {', '.join(map(str, DEFORM_DTYPES))}")
    check_like(op, "offset", offset, input)
    require(input.ndim == 4, f"{op}: input must be 4-D [batch, channels, height, width], got {input.ndim}-D")
    require(offset.ndim == 4, f"{op}: offset must be 4-D [batch, 2*offset_groups*kh*kw, out_h, out_w], got {offset.ndim}-D")
    if mask is not None:
        check_like(op, "mask", mask, input)
        require(mask.ndim == 4, f"{op}: mask must be 4-D [batch, offset_groups*kh*kw, out_h, out_w], got {mask.ndim}-D")
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = pair(kernel_size), pair(stride), pair(padding), pair(dilation)
    batch, channels, height, width = input.shape
    groups = offset.shape[1] // (2 * kh * kw) if kh > 0 and kw > 0 else 0
    require(
        groups > 0,
        "the shape of the offset tensor at dimension 1 is not valid. It should be a multiple of "
        f"2 * weight.size[2] * weight.size[3].\nGot offset.shape[1]={offset.shape[1]}, while 2 * weight.size[2] * weight.size[3]={2 * kh * kw}",
    )
    require(kh > 0 and kw > 0, f"weight_h: {kh} weight_w: {kw}")
    require(sh > 0 and sw > 0, f"stride_h: {sh} stride_w: {sw}")
    require(ph >= 0 and pw >= 0, f"pad_h: {ph} pad_w: {pw}")
    require(dh > 0 and dw > 0, f"dilation_h: {dh} dilation_w: {dw}")
    require(offset.shape[1] == groups * 2 * kh * kw, f"offset.shape[1] is not valid: got: {offset.shape[1]} expected: {groups * 2 * kh * kw}")
    if mask is not None:
        require(mask.shape[1] == groups * kh * kw, f"mask.shape[1] is not valid: got: {mask.shape[1]} expected: {groups * kh * kw}")
    require(channels % groups == 0, f"input.shape[1]={channels} is not divisible by the {groups} offset groups")
    out_h, out_w = output_size(height, kh, sh, ph, dh), output_size(width, kw, sw, pw, dw)
    require(offset.shape[0] == batch, "invalid batch size of offset")
    require(
        tuple(offset.shape[2:]) == (out_h, out_w),
        f"offset output dims: ({offset.shape[2]}, {offset.shape[3]}) - computed output dims: ({out_h}, {out_w})",
    )
    if mask is not None:
        require(mask.shape[0] == batch, "invalid batch size of mask")
        require(tuple(mask.shape[2:]) == (out_h, out_w), f"mask output dims: ({mask.shape[2]}, {mask.shape[3]}) - computed output dims: ({out_h}, {out_w})")
    require(out_h > 0 and out_w > 0, f"Calculated output size too small - out_h: {out_h} out_w: {out_w}")
    # The kernel takes sizes as int and addresses one image plane with int offsets.
    require(height * width <= INT32_MAX and channels <= INT32_MAX and batch <= INT32_MAX, f"{op}: an input image plane or dimension exceeds 2^31-1 elements")
    return DeformGeometry(batch, channels, height, width, kh, kw, sh, sw, ph, pw, dh, dw, groups, out_h, out_w, channel_chunk)


def with_chunk(g: DeformGeometry, backend, kernel: str = "deform_im2col") -> DeformGeometry:
    """g with AUTO_CHUNK resolved for `kernel` on `backend`'s GPU: 8 channels per thread while that
    still gives every SM CHUNK_MIN_WAVES waves of the kernel's resident threads, else 1 (up to 8x the
    threads): an unfilled GPU loses more than sharing a tap's point saves. A rule on paper, to be
    confirmed by the full tier's chunk_tuning sweeps; the host backend counts an H100's SMs."""
    if g.channel_chunk != AUTO_CHUNK:
        return g
    eight = dataclasses.replace(g, channel_chunk=8)
    resident = CHUNK8_BLOCKS_PER_SM[kernel] * DEFORM_THREADS
    fills = eight.work_items >= CHUNK_MIN_WAVES * backend.sm_count * resident
    return eight if fills else dataclasses.replace(g, channel_chunk=1)


def grid_stride_launch(backend, source, name_expressions, kernel_name, g: DeformGeometry, n: int, tensors: tuple,
                        sizes: tuple, accumulators: tuple[int, ...] = ()):
    """A zero-argument callable running kernel_name(dtype, index, g.channel_chunk) from `source` as
    kernel(*tensors, n, *sizes) over n work items with a grid-stride loop; tensors[0] gives the dtype.
    `accumulators`: indices of the tensors the kernel adds into with atomics (see HostKernel)."""
    if n == 0:
        return lambda: None
    blocks = min(math.ceil(n / DEFORM_THREADS), DEFORM_MAX_BLOCKS)
    # int indexing when no flat index, nor the grid-stride loop's last step, can pass 2^31-1.
    largest = max(*(t.numel() for t in tensors), n + blocks * DEFORM_THREADS)
    index = np.int32 if largest <= INDEX32_LIMIT else np.int64
    kernel = backend.load_module(source, name_expressions).get_function(kernel_name(tensors[0].dtype, index, g.channel_chunk))
    kernel.accumulators = frozenset(accumulators)
    return kernel.bind((blocks,), (DEFORM_THREADS,), (*tensors, index(n), *map(np.int32, sizes)))


def im2col_launch(backend, g: DeformGeometry, input, offset, mask, columns):
    """A zero-argument callable writing deform_im2col(input, offset, mask) into `columns`; all contiguous."""
    # Without a mask the kernel never reads its mask pointer; offset stands in for it.
    tensors = (input, offset, offset if mask is None else mask, columns)
    return grid_stride_launch(backend, DEFORM_SOURCE, DEFORM_NAME_EXPRESSIONS, deform_im2col_name, g, g.work_items,
                               tensors, (*g.kernel_sizes, mask is not None))


def contiguous(*tensors):
    return tuple(None if t is None else t.detach().contiguous() for t in tensors)


def deform_im2col_launcher(input, offset, mask=None, *, kernel_size, stride=1, padding=0, dilation=1, backend=None, out=None,
                           channel_chunk=AUTO_CHUNK):
    """(columns, launch): see deform_im2col; `out` is an optional preallocated columns buffer;
    `channel_chunk` (one of CHANNEL_CHUNKS, or AUTO_CHUNK: with_chunk's rule): input channels per GPU
    thread, a tuning choice."""
    g = deform_geometry("deform_im2col", input, offset, mask, kernel_size, stride, padding, dilation, channel_chunk)
    runner = backend_for("deform_im2col", input, backend)
    g = with_chunk(g, runner)
    columns = output_buffer("deform_im2col", out, g.columns_shape, input)
    return columns, im2col_launch(runner, g, *contiguous(input, offset, mask), columns)


def _depthwise_launch(backend, g: DeformGeometry, input, offset, mask, weight, bias, output):
    """deform_conv2d for weight [C*m, 1, kh, kw] in one kernel: sampling and accumulation fused."""
    multiplier = weight.shape[0] // g.channels
    n = g.work_items if multiplier else 0
    # Without a mask or a bias the kernel never reads that pointer; offset and weight stand in.
    tensors = (input, offset, offset if mask is None else mask, weight, weight if bias is None else bias, output)
    return grid_stride_launch(backend, DEPTHWISE_SOURCE, DEPTHWISE_NAME_EXPRESSIONS, deform_conv2d_depthwise_name, g, n,
                               tensors, (*g.kernel_sizes, multiplier, mask is not None, bias is not None))


def _batched_gemm(bias, a, b, out):
    """A callable computing out = a @ b (+ bias), batched over the first dimension, into `out`."""
    if bias is None:
        return functools.partial(torch.bmm, a, b, out=out)
    return functools.partial(torch.baddbmm, bias, a, b, out=out)


def gemm_dtype(input: torch.Tensor) -> torch.dtype:
    """The dtype the matmuls take. fp16/bf16 products accumulate in fp32 and the result is rounded once.
    On the GPU cuBLAS does that on tensor cores in the storage dtype (reduced-precision reductions
    off); an fp32 GEMM there would be an order of magnitude slower. On the CPU the same arithmetic is
    spelled out: widen to fp32, multiply, round into the result."""
    lowp = input.dtype in (torch.float16, torch.bfloat16)
    return torch.float32 if lowp and not input.is_cuda else input.dtype


def _im2col_matmul_launch(backend, g: DeformGeometry, input, offset, mask, weight, bias, output):
    """deform_conv2d for any weight: im2col into a columns buffer, then one matmul per weight group,
    up to MAX_PARALLEL_IMAGES images at a time."""
    out_channels, group_channels, kh, kw = weight.shape
    groups = g.channels // group_channels
    acc = gemm_dtype(input)
    widen = acc != input.dtype
    # With one weight group and no widening, the GEMM writes the output in its own [image, channel,
    # pixel] layout: image i's columns are a strided block of the buffer, which cuBLAS takes as one
    # matrix of a batch, so no permuting pass over the output follows.
    direct = groups == 1 and not widen
    chunk = max(1, min(g.batch, MAX_PARALLEL_IMAGES))
    rows, pixels = g.channels * kh * kw, g.out_h * g.out_w
    columns = torch.empty(rows * chunk * pixels, dtype=input.dtype, device=input.device)
    columns_acc = torch.empty(columns.shape, dtype=acc, device=input.device) if widen else columns
    products = None if direct else torch.empty(out_channels * chunk * pixels, dtype=acc, device=input.device)
    weight_acc = weight.to(acc).reshape(groups, out_channels // groups, group_channels * kh * kw)
    bias_acc = None if bias is None else bias.to(acc).reshape(groups, -1, 1)

    steps = []
    for start in range(0, g.batch, chunk):
        images = min(chunk, g.batch - start)
        size = images * pixels
        part = slice(start, start + images)
        cols = columns[: rows * size].view(rows, size)
        steps.append(im2col_launch(backend, dataclasses.replace(g, batch=images), input[part], offset[part],
                                    None if mask is None else mask[part], cols))
        cols_acc = columns_acc[: rows * size].view(rows, size)
        if widen:
            steps.append(functools.partial(cols_acc.copy_, cols))
        if direct:
            steps.append(_batched_gemm(None if bias_acc is None else bias_acc[0], weight_acc[0].expand(images, -1, -1),
                                       cols.view(rows, images, pixels).transpose(0, 1),
                                       output[part].view(images, out_channels, pixels)))
        else:
            prods = products[: out_channels * size].view(groups, out_channels // groups, size)
            steps.append(_batched_gemm(bias_acc, weight_acc, cols_acc.view(groups, -1, size), prods))
            steps.append(functools.partial(output[part].copy_, prods.view(out_channels, images, g.out_h, g.out_w)
                                           .permute(1, 0, 2, 3)))

    def launch():
        with torch.no_grad(), torch_flags_off(*EXACT_CUDA_MATMUL):
            for step in steps:
                step()

    return launch


def conv_geometry(op: str, input, offset, weight, bias, stride, padding, dilation, mask, channel_chunk) -> DeformGeometry:
    """deform_conv2d's argument checks (deform_geometry's, then the weight's and bias's)."""
    require(isinstance(input, torch.Tensor), f"{op}: input must be a torch.Tensor, got {type(input).__name__}")
    check_like(op, "weight", weight, input)
    require(weight.ndim == 4, f"{op}: weight must be 4-D [out_channels, in_channels/groups, kh, kw], got {weight.ndim}-D")
    out_channels, group_channels, kh, kw = weight.shape
    g = deform_geometry(op, input, offset, mask, (kh, kw), stride, padding, dilation, channel_chunk)
    groups = g.channels // group_channels if group_channels > 0 else 0
    require(
        groups > 0 and group_channels * groups == g.channels and out_channels % groups == 0,
        f"{op}: weight.shape[1]={group_channels} must divide input.shape[1]={g.channels}, and the resulting "
        f"{groups} groups must divide weight.shape[0]={out_channels}",
    )
    if bias is not None:
        check_like(op, "bias", bias, input)
        require(tuple(bias.shape) == (out_channels,), f"{op}: bias must have shape ({out_channels},), got {tuple(bias.shape)}")
    return g


def _implicit_launch(backend, g: DeformGeometry, gather, input, offset, mask, weight, bias, output):
    """deform_conv2d for any weight as one implicit-GEMM kernel (kernels_cu/deform_conv2d_implicit.cu),
    gathering from the input NCHW-contiguous or channels-last (`gather`, one of GATHERS)."""
    out_channels, group_channels, kh, kw = weight.shape
    groups, taps = g.channels // group_channels, kh * kw
    nhwc = resolve_gather(gather, input.dtype, group_channels, g.channels // g.offset_groups) == "nhwc"
    if output.numel() == 0:
        return lambda: None
    # The staging copy (NHWC from an NCHW input) is part of every launch, so timings include it.
    input, restage = stage_channels_last(input) if nhwc else (input.contiguous(), None)
    require(groups <= IMPLICIT_GRID_YZ_MAX,
            f"deform_conv2d: path='implicit_gemm' takes at most {IMPLICIT_GRID_YZ_MAX} weight groups, got {groups}")
    bm, bn, bk = IMPLICIT_TILE
    padded = -(-group_channels // bk) * bk
    # The weight as the kernel reads it: w[o][tap][c], channels zero-padded to a multiple of BK (see
    # the kernel). Recopied at each launch, so a launch sees the weight's current values.
    packed = torch.zeros(out_channels, taps, padded, dtype=weight.dtype, device=weight.device)
    repack = functools.partial(packed[:, :, :group_channels].copy_,
                               weight.view(out_channels, group_channels, taps).transpose(1, 2))
    name = deform_conv2d_implicit_name(input.dtype, nhwc)
    fn = backend.load_module(IMPLICIT_SOURCE, IMPLICIT_NAME_EXPRESSIONS).get_function(name)
    smem = implicit_shared_bytes(input.dtype)
    fn.max_dynamic_shared_size_bytes = smem  # the opt-in fp32's tiles need (above 48 KiB); harmless below
    # Without a mask or a bias the kernel never reads that pointer; offset and the weight stand in.
    tensors = (input, offset, offset if mask is None else mask, packed, packed if bias is None else bias, output)
    sizes = (*g.kernel_sizes, out_channels, groups, padded, mask is not None, bias is not None)
    grid = (-(-g.batch * g.out_h * g.out_w // bn), -(-(out_channels // groups) // bm), groups)
    kernel = fn.bind(grid, (IMPLICIT_THREADS,), (*tensors, *map(np.int32, sizes)), shared_mem=smem)

    def launch():
        with torch.no_grad():
            repack()
            if restage is not None:
                restage()
        kernel()

    return launch


def _deform_conv2d_launcher(path, input, offset, weight, bias, stride, padding, dilation, mask, backend, out,
                            channel_chunk, gather="auto"):
    """deform_conv2d's checks, then its launch on the kernels resolve_path picks."""
    op = "deform_conv2d"
    require(path in PATHS, f"{op}: path must be one of {', '.join(PATHS)}; got {path!r}")
    require(gather in GATHERS, f"{op}: gather must be one of {', '.join(GATHERS)}; got {gather!r}")
    g = conv_geometry(op, input, offset, weight, bias, stride, padding, dilation, mask, channel_chunk)
    chosen = resolve_path(path, input.dtype, weight.shape[1] == 1)
    require(chosen != "implicit_gemm" or input.dtype in IMPLICIT_DTYPES,
            f"{op}: path='implicit_gemm' takes float32, float16 or bfloat16, not {input.dtype}; "
            "use path='im2col_gemm' or 'auto'")
    require(chosen == "implicit_gemm" or gather == "auto",
            f"{op}: gather={gather!r} applies to path='implicit_gemm' only; this call takes {chosen}")
    runner = backend_for(op, input, backend)
    g = with_chunk(g, runner, "deform_conv2d_depthwise" if chosen == "depthwise" else "deform_im2col")
    output = output_buffer(op, out, (g.batch, weight.shape[0], g.out_h, g.out_w), input)
    if chosen == "implicit_gemm":  # it lays out the input itself: a channels-last one may be read as is
        return output, _implicit_launch(runner, g, gather, input.detach(), *contiguous(offset, mask, weight, bias),
                                        output)
    build = {"depthwise": _depthwise_launch, "im2col_gemm": _im2col_matmul_launch}[chosen]
    return output, build(runner, g, *contiguous(input, offset, mask, weight, bias), output)


def deform_conv2d_launcher(input, offset, weight, bias=None, stride=1, padding=0, dilation=1, mask=None, *, backend=None,
                           out=None, channel_chunk=AUTO_CHUNK, path="auto", gather="auto"):
    """(output, launch): see deform_conv2d; `out` is an optional preallocated output; `channel_chunk` as
    in deform_im2col_launcher (im2col and depthwise kernels). `path` (one of PATHS): "auto" follows
    resolve_path's rule (depthwise weights run the fused depthwise kernel, fp16/bf16 the implicit
    GEMM, fp32 and float64 im2col + matmul); "implicit_gemm" or "im2col_gemm" force that path.
    `gather` (one of GATHERS, implicit GEMM only): the input layout its gathers read, resolve_gather's
    rule for "auto"; "nhwc" stages an NCHW input channels-last at each launch (a channels-last input
    is read in place)."""
    return _deform_conv2d_launcher(path, input, offset, weight, bias, stride, padding, dilation, mask, backend, out,
                                   channel_chunk, gather)


def deform_conv2d_im2col_matmul_launcher(input, offset, weight, bias=None, stride=1, padding=0, dilation=1, mask=None, *,
                                         backend=None, out=None, channel_chunk=AUTO_CHUNK):
    """deform_conv2d_launcher on the im2col + matmul path whatever the weight (path="im2col_gemm"): the
    general path that the fused kernels replace, kept callable to be timed and compared against them."""
    return _deform_conv2d_launcher("im2col_gemm", input, offset, weight, bias, stride, padding, dilation, mask, backend,
                                   out, channel_chunk)
