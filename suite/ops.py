"""Public torch-facing ops built on the suite's raw kernels: the thin surface over the launchers in
suite/kernels/<family>*.py, which hold each family's launch geometry (and never import this module).

Each op checks its arguments the way its PyTorch/torchvision counterpart does (bad arguments raise
OpArgumentError, which is a RuntimeError like theirs), prepares its launches once and runs them.
The `*_launcher` variants return `(output, launch)`: `launch()` recomputes into the same output with
no allocation and no re-validation, which is what the runner times. An input the launcher had to
lay out again (a non-contiguous tensor, attention rows padded for cp.async) is copied once, when
the launcher is prepared, and `launch()` reads that copy: change inputs in place between launches
only when they are contiguous (the implicit GEMM's weight and channels-last staging are the
exceptions: recopied at every launch). deform_conv2d and attention are differentiable
(torch.autograd: their backward runs the backward kernels). `backend`: None runs where the input
lives, "cupy" or "host" forces one (see suite.backends.backend_for_tensor); a backend object (the
runner's, perhaps with checks) is used as is.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from suite.errors import OpArgumentError
from suite.kernels.attention import (DECODE_DTYPES, FP32, GRID_YZ_MAX, KERNEL_DTYPES, MAX_HEAD_DIM, TC, backward_launcher,
                                    decode_fits, decode_launcher, launcher)
# The launchers and the channel-chunk choice are public too, re-exported from their home.
from suite.kernels.deform_launch import (CHANNEL_CHUNK, CHANNEL_CHUNKS, deform_conv2d_im2col_matmul_launcher,  # noqa: F401
                                         deform_conv2d_launcher, deform_im2col_launcher)
from suite.kernels.deform_grad import deform_conv2d_backward_launcher
from suite.kernels.op_arguments import backend_for as _backend
from suite.references.attention import causal_mode


# ----------------------------------------------------------------------------------------------
# Deformable convolution: launchers in suite/kernels/deform_launch.py (forward) and
# suite/kernels/deform_grad.py (backward).


def deform_im2col(input, offset, mask=None, *, kernel_size, stride=1, padding=0, dilation=1, backend=None) -> torch.Tensor:
    """The deformable im2col columns [C*kh*kw, B*Ho*Wo] in torchvision's order: row (c, i, j),
    column (b, oy, ox). Shapes, group rules and errors as torchvision.ops.deform_conv2d."""
    columns, launch = deform_im2col_launcher(
        input, offset, mask, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation, backend=backend
    )
    launch()
    return columns


class _DeformConv2d(torch.autograd.Function):
    """deform_conv2d's forward kernels; backward: its backward kernels (suite/kernels/deform_grad.py)."""

    @staticmethod
    def forward(ctx, input, offset, weight, bias, mask, geometry: dict, backend, deterministic):
        ctx.geometry, ctx.backend, ctx.deterministic = geometry, backend, deterministic
        ctx.save_for_backward(input, offset, weight, bias, mask)
        output, launch = deform_conv2d_launcher(input, offset, weight, bias, mask=mask, backend=backend, **geometry)
        launch()
        return output

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        input, offset, weight, bias, mask = ctx.saved_tensors
        grads, launch = deform_conv2d_backward_launcher(grad_output, input, offset, weight, bias, mask=mask,
                                                        backend=ctx.backend, deterministic=ctx.deterministic,
                                                        **ctx.geometry)
        launch()
        tensors = ("input", "offset", "weight", "bias", "mask")  # forward's order
        return (*(grads.get(name) if need else None for name, need in zip(tensors, ctx.needs_input_grad)), None, None, None)


def deform_conv2d(input, offset, weight, bias=None, stride=1, padding=0, dilation=1, mask=None, *, backend=None,
                  deterministic: bool | None = None) -> torch.Tensor:
    """torchvision.ops.deform_conv2d (DCNv1; DCNv2 with `mask`) on the suite's kernel, plus bfloat16.
    Same shapes, group rules and errors; batch 0 gives an empty output. Differentiable in every
    tensor: backward runs the backward kernels. `deterministic`: True sums grad_input in a fixed order
    (bitwise the same every run), False with atomics (faster); None follows
    torch.are_deterministic_algorithms_enabled()."""
    geometry = {"stride": stride, "padding": padding, "dilation": dilation}
    return _DeformConv2d.apply(input, offset, weight, bias, mask, geometry, backend, deterministic)


# ----------------------------------------------------------------------------------------------
# Attention: kernels_cu/attention_fp32.cu (float32) and kernels_cu/attention_tc.cu (fp16/bf16), and
# kernels_cu/attention_decode.cu for short fp16/bf16 queries without gradients; launch geometry and
# tile choices live in suite/kernels/attention_*.py.

_KERNEL_FOR_DTYPE = {dt: kernel for kernel in (FP32, TC) for dt in KERNEL_DTYPES[kernel]}


def _forward_launcher(q, k, v, out, mode, scale, backend):
    """The forward kernel for these inputs. Short fp16/bf16 queries (decoding, decode_fits) take
    the split-KV decode kernel, which packs a KV head's query heads into one tile and splits
    the keys over blocks, where attention_tc would run a 128-row tile for each head's few rows and
    one block per head. It keeps no log-sum-exp, so the autograd path always takes attention_tc."""
    dtype = str(q.dtype).removeprefix("torch.")
    if dtype in DECODE_DTYPES and decode_fits(q.shape[2], q.shape[3]):
        return decode_launcher(q, k, v, out, mode, scale, backend)
    return launcher(_KERNEL_FOR_DTYPE[dtype], q, k, v, out, mode, scale, backend)


def _check_inputs(q, k, v) -> None:
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor) or t.dim() != 4:
            raise OpArgumentError(f"attention: {name} must be a 4-D tensor [batch, heads, seq, head_dim]; "
                             f"got {getattr(t, 'shape', type(t).__name__)}")
    if q.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise OpArgumentError(f"attention: q has dtype {q.dtype}; supported: float32, float16, bfloat16")
    for name, t in (("k", k), ("v", v)):
        if t.dtype != q.dtype or t.device != q.device:
            raise OpArgumentError(f"attention: {name} is {t.dtype} on {t.device} but q is {q.dtype} on {q.device}; "
                             "they must match")
    if k.shape != v.shape:
        raise OpArgumentError(f"attention: k {tuple(k.shape)} and v {tuple(v.shape)} must have the same shape")
    batch, heads_q, _, head_dim = q.shape
    if k.shape[0] != batch or k.shape[3] != head_dim:
        raise OpArgumentError(f"attention: k/v {tuple(k.shape)} must match q {tuple(q.shape)} in batch and head_dim")
    if k.shape[1] == 0 or heads_q % k.shape[1]:
        raise OpArgumentError(f"attention: q's heads ({heads_q}) must be a multiple of k/v's heads ({k.shape[1]})")
    if head_dim > MAX_HEAD_DIM:
        raise OpArgumentError(f"attention: head_dim {head_dim} (last dim of q) is above the supported {MAX_HEAD_DIM}")
    if batch > GRID_YZ_MAX or heads_q > GRID_YZ_MAX:
        raise OpArgumentError(f"attention: batch ({batch}) and q's heads ({heads_q}) must be at most {GRID_YZ_MAX}")


class _Attention(torch.autograd.Function):
    """The forward kernel (keeping each row's log-sum-exp) and, for the gradients, the backward
    kernels of kernels_cu/attention_bwd.cu: no reference recompute."""

    @staticmethod
    def forward(ctx, q, k, v, mode, scale, backend, deterministic):
        out = torch.empty(q.shape, dtype=q.dtype, device=q.device)
        lse = torch.empty(q.shape[:3], dtype=torch.float32, device=q.device)
        if out.numel():
            launcher(_KERNEL_FOR_DTYPE[str(q.dtype).removeprefix("torch.")], q, k, v, out, mode, scale, backend, lse=lse)()
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.settings = (mode, scale, backend, deterministic)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        q, k, v, out, lse = ctx.saved_tensors
        grads = [torch.zeros(t.shape, dtype=t.dtype, device=t.device) for t in (q, k, v)]
        if out.numel():
            backward_launcher(q, k, v, out, lse, grad_out, *grads, *ctx.settings)()
        return (*grads, None, None, None, None)


def attention(q, k, v, *, causal=False, scale=None, backend=None, deterministic=None) -> torch.Tensor:
    """softmax(q k^T * scale, masked) v for q [B, Hq, Sq, D], k and v [B, Hkv, Sk, D], Hq % Hkv == 0.

    causal: False; True (= SDPA's is_causal: query i sees keys j <= i); "top_left" (the same);
    "bottom_right" (FlashAttention: query i sees keys j <= i + Sk - Sq; a row seeing no key gives 0).
    scale defaults to 1/sqrt(D). Inputs may be non-contiguous. Accumulation is in float32.
    backend: None (by the tensors' device), "cupy", "host" or a backend object.
    Differentiable: when q, k or v requires grad, the gradients come from the backward kernels.
    deterministic: dQ without atomics, bitwise reproducible (default:
    torch.are_deterministic_algorithms_enabled()); dK and dV are reproducible in both modes.
    """
    _check_inputs(q, k, v)
    try:
        mode = causal_mode(causal)
    except ValueError as exc:
        raise OpArgumentError(f"attention: {exc}") from None
    if scale is not None and not isinstance(scale, (int, float)):
        raise OpArgumentError(f"attention: scale must be a number or None; got {type(scale).__name__}")
    if deterministic is None:
        deterministic = torch.are_deterministic_algorithms_enabled()
    chosen = _backend("attention", q, backend, argument="q")
    if q.numel() and k.shape[2] == 0:
        raise OpArgumentError("attention: k and v have no keys (seq length 0); every row would be empty")
    if torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v)):
        return _Attention.apply(q, k, v, mode, scale, chosen, bool(deterministic))
    out = torch.empty(q.shape, dtype=q.dtype, device=q.device)
    if out.numel():
        _forward_launcher(q, k, v, out, mode, scale, chosen)()
    return out
