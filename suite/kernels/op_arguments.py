"""Argument checks shared by the ops' launchers: bad arguments raise OpArgumentError (a RuntimeError,
as PyTorch's and torchvision's do), worded like theirs."""

from __future__ import annotations

import torch

from suite.backends import backend_for_tensor
from suite.errors import OpArgumentError

INT32_MAX = 2**31 - 1
INDEX32_LIMIT = INT32_MAX  # the largest flat index a kernel's int (not long long) instantiation may reach


def require(condition: bool, message: str) -> None:
    if not condition:
        raise OpArgumentError(message)


def check_like(op: str, name: str, tensor, input: torch.Tensor) -> None:
    """`tensor` must be a tensor of input's dtype on input's device."""
    require(isinstance(tensor, torch.Tensor), f"{op}: {name} must be a torch.Tensor, got {type(tensor).__name__}")
    require(tensor.dtype == input.dtype, f"{op}: {name} has dtype {tensor.dtype} but input has {input.dtype}; pass tensors of one dtype")
    require(tensor.device == input.device, f"{op}: {name} is on {tensor.device} but input is on {input.device}")


def backend_for(op: str, input: torch.Tensor, backend, argument: str = "input"):
    if backend is None or isinstance(backend, str):
        return backend_for_tensor(input, backend, argument)
    require(input.device.type == backend.device.type, f"{op}: {argument} is on {input.device}, but backend {backend.name!r} needs tensors on {backend.device.type}")
    return backend


def output_buffer(op: str, out, shape: tuple, like: torch.Tensor) -> torch.Tensor:
    """`out` checked against the shape the op produces, or a new buffer."""
    if out is None:
        return torch.empty(shape, dtype=like.dtype, device=like.device)
    check_like(op, "out", out, like)
    require(tuple(out.shape) == tuple(shape) and out.is_contiguous(), f"{op}: out must be a contiguous tensor of shape {tuple(shape)}, got {tuple(out.shape)}")
    return out
