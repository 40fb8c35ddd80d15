"""Trainable layers on the suite's kernels: DeformConv2d and MultiheadAttention, and the
differentiable ops under them.

Forward and backward run the raw kernels: suite.ops.deform_conv2d and suite.ops.attention are
torch.autograd.Functions whose backward launches the backward kernels.

`backend` (ops and modules): None runs where the tensors live (a CUDA tensor on the GPU, a CPU
tensor on the host emulation), "cupy" or "host" force one, a backend object is used as is, and
"reference" runs the pure-PyTorch references instead, forward and backward (autograd through them);
it checks no arguments.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from suite import ops
from suite.errors import InputError, OpArgumentError
from suite.references import deform as deform_reference
from suite.references.attention import attention_reference
from suite.references.deform import pair

REFERENCE = "reference"
BACKEND_NAMES = ("auto", "cupy", "host", REFERENCE)


def _checked_backend(backend):
    if isinstance(backend, str) and backend not in BACKEND_NAMES:
        raise InputError(f"backend={backend!r} is not one of {', '.join(BACKEND_NAMES)} (or None, or a backend object)")
    return backend


def deform_conv2d(input, offset, weight, bias=None, stride=1, padding=0, dilation=1, mask=None, *, backend=None,
                  deterministic=None):
    """suite.ops.deform_conv2d (torchvision.ops.deform_conv2d's semantics) with gradients for every
    tensor; `deterministic` as suite.ops.deform_conv2d's (None: torch.are_deterministic_algorithms_enabled())."""
    if _checked_backend(backend) == REFERENCE:
        return deform_reference.deform_conv2d(input, offset, weight, bias, stride, padding, dilation, mask)
    return ops.deform_conv2d(input, offset, weight, bias, stride, padding, dilation, mask, backend=backend,
                             deterministic=deterministic)


def attention(q, k, v, *, causal=False, scale=None, backend=None):
    """suite.ops.attention (q [B, Hq, Sq, D], k and v [B, Hkv, Sk, D]) with gradients for q, k and v."""
    if _checked_backend(backend) == REFERENCE:
        return attention_reference(q, k, v, causal=causal, scale=scale, dtype=q.dtype)
    return ops.attention(q, k, v, causal=causal, scale=scale, backend=backend)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InputError(message)


def _positive_int(layer: str, name: str, value) -> int:
    _require(isinstance(value, int) and not isinstance(value, bool) and value > 0,
             f"{layer}: {name} must be a positive int, got {value!r}")
    return value


def _pair_argument(layer: str, name: str, value, minimum: int) -> tuple[int, int]:
    try:
        h, w = pair(value)
    except (TypeError, ValueError):
        raise InputError(f"{layer}: {name} must be an int or a pair of ints, got {value!r}") from None
    _require(min(h, w) >= minimum, f"{layer}: {name} must be at least {minimum}, got {value!r}")
    return h, w


class DeformConv2d(nn.Module):
    """torchvision.ops.DeformConv2d that predicts its own offsets (and, modulated, its DCNv2 mask),
    running suite.ops.deform_conv2d.

    `offset_conv` is a Conv2d(in_channels, 2*offset_groups*kh*kw) and, when `modulated`, `mask_conv` a
    Conv2d(in_channels, offset_groups*kh*kw) followed by a sigmoid (DCNv2), both with this layer's
    kernel size, stride, padding and dilation, so they give one offset (and mask) per output position.
    Both start at zero: offsets 0, mask 0.5; a new layer is the plain convolution by `weight` (with
    its weight halved when modulated, as in DCNv2). `weight` and `bias` have torchvision's names,
    shapes and initialisation: `layer.load_state_dict(torchvision_layer.state_dict(), strict=False)`
    loads them and reports the offset/mask convolutions as missing keys. `deterministic` as
    suite.ops.deform_conv2d's: how the backward sums the input's gradient.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 offset_groups=1, bias=True, modulated=False, *, backend=None, deterministic=None, device=None,
                 dtype=None):
        super().__init__()
        name = "DeformConv2d"
        self.in_channels = _positive_int(name, "in_channels", in_channels)
        self.out_channels = _positive_int(name, "out_channels", out_channels)
        self.groups = _positive_int(name, "groups", groups)
        self.offset_groups = _positive_int(name, "offset_groups", offset_groups)
        _require(in_channels % groups == 0, f"{name}: in_channels={in_channels} is not divisible by groups={groups}")
        _require(out_channels % groups == 0, f"{name}: out_channels={out_channels} is not divisible by groups={groups}")
        _require(in_channels % offset_groups == 0,
                 f"{name}: in_channels={in_channels} is not divisible by offset_groups={offset_groups}")
        self.kernel_size = _pair_argument(name, "kernel_size", kernel_size, 1)
        self.stride = _pair_argument(name, "stride", stride, 1)
        self.padding = _pair_argument(name, "padding", padding, 0)
        self.dilation = _pair_argument(name, "dilation", dilation, 1)
        self.modulated = bool(modulated)
        self.backend = _checked_backend(backend)
        self.deterministic = deterministic
        factory = {"device": device, "dtype": dtype}
        kh, kw = self.kernel_size
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, kh, kw, **factory))
        self.bias = nn.Parameter(torch.empty(out_channels, **factory)) if bias else None

        def predictor(per_tap: int) -> nn.Conv2d:
            return nn.Conv2d(in_channels, per_tap * offset_groups * kh * kw, self.kernel_size, self.stride,
                             self.padding, self.dilation, **factory)

        self.offset_conv = predictor(2)
        self.mask_conv = predictor(1) if self.modulated else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torchvision's initialisation of weight and bias; zero offset and mask predictors."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.weight[0].numel())
            nn.init.uniform_(self.bias, -bound, bound)
        for conv in (self.offset_conv, self.mask_conv):
            if conv is not None:
                nn.init.zeros_(conv.weight)
                nn.init.zeros_(conv.bias)

    def offsets(self, input: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(offset, mask) that this layer predicts for `input`: torchvision.ops.deform_conv2d's
        `offset` and `mask` arguments (mask None unless modulated)."""
        mask = torch.sigmoid(self.mask_conv(input)) if self.modulated else None
        return self.offset_conv(input), mask

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not isinstance(input, torch.Tensor) or input.ndim != 4 or input.shape[1] != self.in_channels:
            raise OpArgumentError(f"DeformConv2d: input must be a 4-D tensor [batch, in_channels={self.in_channels}, "
                                  f"height, width]; got {tuple(getattr(input, 'shape', ())) or type(input).__name__}")
        offset, mask = self.offsets(input)
        return deform_conv2d(input, offset, self.weight, self.bias, self.stride, self.padding, self.dilation, mask,
                             backend=self.backend, deterministic=self.deterministic)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}, "
                f"offset_groups={self.offset_groups}, bias={self.bias is not None}, modulated={self.modulated}")


class MultiheadAttention(nn.Module):
    """Multi-head attention on suite.ops.attention: q/k/v projections, attention per head (grouped
    K/V heads when num_kv_heads < num_heads), heads concatenated, output projection.

    forward(query, key, value, causal=False) returns the output only (the flash kernels never form
    the attention weights); it equals `torch.nn.MultiheadAttention(...)(query, key, value,
    need_weights=False)[0]` with the same weights (see load_torch_state_dict), without dropout.
    Inputs are [batch, seq, embed_dim] (batch_first=True), [seq, batch, embed_dim] (batch_first=False)
    or unbatched [seq, embed_dim]. `causal` is suite.ops.attention's: True masks as
    scaled_dot_product_attention(is_causal=True), "bottom_right" aligns the mask to the last key.
    Parameters: q_proj, k_proj, v_proj, out_proj (nn.Linear); initialised as torch's layer.
    """

    def __init__(self, embed_dim, num_heads, num_kv_heads=None, bias=True, batch_first=True, *, backend=None,
                 device=None, dtype=None):
        super().__init__()
        name = "MultiheadAttention"
        self.embed_dim = _positive_int(name, "embed_dim", embed_dim)
        self.num_heads = _positive_int(name, "num_heads", num_heads)
        self.num_kv_heads = num_heads if num_kv_heads is None else _positive_int(name, "num_kv_heads", num_kv_heads)
        _require(embed_dim % num_heads == 0, f"{name}: embed_dim={embed_dim} is not divisible by num_heads={num_heads}")
        _require(num_heads % self.num_kv_heads == 0,
                 f"{name}: num_heads={num_heads} is not divisible by num_kv_heads={self.num_kv_heads}")
        self.head_dim = embed_dim // num_heads
        _require(self.head_dim <= ops.MAX_HEAD_DIM, f"{name}: embed_dim/num_heads={self.head_dim} is above the "
                                                    f"attention kernels' head dim limit {ops.MAX_HEAD_DIM}; use more heads")
        self.batch_first = bool(batch_first)
        self.backend = _checked_backend(backend)
        factory = {"bias": bool(bias), "device": device, "dtype": dtype}
        kv_dim = self.num_kv_heads * self.head_dim
        self.q_proj = nn.Linear(embed_dim, embed_dim, **factory)
        self.k_proj = nn.Linear(embed_dim, kv_dim, **factory)
        self.v_proj = nn.Linear(embed_dim, kv_dim, **factory)
        self.out_proj = nn.Linear(embed_dim, embed_dim, **factory)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """As torch's layer: xavier-uniform over the packed q/k/v projection, zero projection biases
        (out_proj keeps nn.Linear's weight initialisation)."""
        packed_rows = self.embed_dim + 2 * self.num_kv_heads * self.head_dim
        bound = math.sqrt(6.0 / (self.embed_dim + packed_rows))
        for proj in (self.q_proj, self.k_proj, self.v_proj):
            nn.init.uniform_(proj.weight, -bound, bound)
        for proj in (self.q_proj, self.k_proj, self.v_proj, self.out_proj):
            if proj.bias is not None:
                nn.init.zeros_(proj.bias)

    def _torch_layout(self) -> list[tuple[str, tuple[str, ...]]]:
        """torch.nn.MultiheadAttention's state-dict keys and the parameters of this layer they hold."""
        layout = [("in_proj_weight", ("q_proj.weight", "k_proj.weight", "v_proj.weight")),
                  ("out_proj.weight", ("out_proj.weight",))]
        if self.out_proj.bias is not None:
            layout += [("in_proj_bias", ("q_proj.bias", "k_proj.bias", "v_proj.bias")), ("out_proj.bias", ("out_proj.bias",))]
        return layout

    def _require_torch_compatible(self, what: str) -> None:
        _require(self.num_kv_heads == self.num_heads,
                 f"MultiheadAttention.{what}: torch.nn.MultiheadAttention has no grouped K/V heads; this layer has "
                 f"num_kv_heads={self.num_kv_heads} < num_heads={self.num_heads}")

    def torch_state_dict(self) -> dict[str, torch.Tensor]:
        """The state dict of the equivalent torch.nn.MultiheadAttention(embed_dim, num_heads, bias=...)."""
        self._require_torch_compatible("torch_state_dict")
        own = self.state_dict()
        return {key: torch.cat([own[p] for p in parts]) for key, parts in self._torch_layout()}

    def load_torch_state_dict(self, state_dict) -> None:
        """Load the weights of a torch.nn.MultiheadAttention(embed_dim, num_heads, bias=...) with packed
        q/k/v projections (kdim = vdim = embed_dim, no add_bias_kv)."""
        self._require_torch_compatible("load_torch_state_dict")
        layout = self._torch_layout()
        expected = {key for key, _ in layout}
        _require(set(state_dict) == expected, f"MultiheadAttention.load_torch_state_dict: expected the keys "
                                              f"{sorted(expected)}, got {sorted(state_dict)}")
        own = {}
        for key, parts in layout:
            chunks = state_dict[key].chunk(len(parts))
            own.update(zip(parts, chunks))
        self.load_state_dict(own)

    def _check_input(self, name: str, tensor, rank: int | None) -> None:
        layout = "[batch, seq, embed_dim]" if self.batch_first else "[seq, batch, embed_dim]"
        if not isinstance(tensor, torch.Tensor) or tensor.ndim not in (2, 3) or tensor.shape[-1] != self.embed_dim \
                or (rank is not None and tensor.ndim != rank):
            raise OpArgumentError(f"MultiheadAttention: {name} must be {layout} or unbatched [seq, embed_dim] with "
                                  f"embed_dim={self.embed_dim}{'' if rank is None else f', {rank}-D like query'}; "
                                  f"got {tuple(getattr(tensor, 'shape', ())) or type(tensor).__name__}")

    def _heads(self, projected: torch.Tensor, heads: int) -> torch.Tensor:
        """[B, S, heads*D] -> [B, heads, S, D]: heads split the feature axis, never the sequence."""
        return projected.unflatten(-1, (heads, self.head_dim)).transpose(1, 2)

    def forward(self, query, key, value, causal=False) -> torch.Tensor:
        self._check_input("query", query, None)
        self._check_input("key", key, query.ndim)
        self._check_input("value", value, query.ndim)
        batched = query.ndim == 3
        if batched and not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        elif not batched:
            query, key, value = (t.unsqueeze(0) for t in (query, key, value))
        if key.shape[:2] != value.shape[:2] or key.shape[0] != query.shape[0]:
            raise OpArgumentError(f"MultiheadAttention: key and value must have the same batch and sequence "
                                  f"sizes, and query's batch; got query {tuple(query.shape)}, key {tuple(key.shape)}, "
                                  f"value {tuple(value.shape)} (as [batch, seq, embed_dim])")
        q = self._heads(self.q_proj(query), self.num_heads)
        k = self._heads(self.k_proj(key), self.num_kv_heads)
        v = self._heads(self.v_proj(value), self.num_kv_heads)
        heads = attention(q, k, v, causal=causal, backend=self.backend)
        out = self.out_proj(heads.transpose(1, 2).flatten(2))  # [B, Sq, embed_dim], heads concatenated
        if not batched:
            return out.squeeze(0)
        return out if self.batch_first else out.transpose(0, 1)

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, num_kv_heads={self.num_kv_heads}, "
                f"bias={self.out_proj.bias is not None}, batch_first={self.batch_first}")
