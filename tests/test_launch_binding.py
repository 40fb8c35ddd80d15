"""A launcher converts its arguments once: relaunching (timing, benchmark rounds) costs the launch
only. On the CPU the host backend's packing is counted; the GPU backend's DLPack views are counted
by tests/test_gpu_backend.py."""

import math

import pytest
import torch

from suite import ops
from suite.backends import get_backend
from suite.emulator import args as host_args
from suite.kernels import deform_launch
from suite.kernels.attention import FP32, launcher
from suite.references import attention as attention_reference, deform as deform_reference


@pytest.fixture
def packs(monkeypatch):
    """The kernel names whose arguments the host backend packed, in order."""
    packed, real = [], host_args.pack
    monkeypatch.setattr(host_args, "pack", lambda kernel, params, args: packed.append(kernel) or real(kernel, params, args))
    return packed


def _relaunches_reuse_the_conversion(output, launch, packs, expected):
    """Launch five times, poisoning the output before each: every launch writes it again, right, and
    no launch converts an argument."""
    converted = list(packs)
    assert converted  # building the launcher converted the arguments
    for _ in range(5):
        output.fill_(math.nan)
        launch()
        torch.testing.assert_close(output.double(), expected, atol=1e-4, rtol=1e-4)
    assert packs == converted


def test_deform_conv2d_launcher_packs_each_kernel_launch_once(packs):
    gen = torch.Generator().manual_seed(3)
    # 2 weight groups: the general im2col + matmul path; 33 images: two im2col launches (32 images per step)
    images = deform_launch.MAX_PARALLEL_IMAGES + 1
    x, weight = torch.randn(images, 4, 6, 5, generator=gen), torch.randn(6, 2, 3, 3, generator=gen)
    offset, bias = torch.randn(images, 2 * 9, 4, 3, generator=gen), torch.randn(6, generator=gen)
    output, launch = ops.deform_conv2d_launcher(x, offset, weight, bias, backend="host")
    expected = deform_reference.deform_conv2d(x.double(), offset.double(), weight.double(), bias.double())
    _relaunches_reuse_the_conversion(output, launch, packs, expected)
    assert len(packs) == 2


def test_attention_launcher_packs_once(packs):
    gen = torch.Generator().manual_seed(4)
    q, k, v = (torch.randn(1, 2, seq, 16, generator=gen) for seq in (9, 13, 13))
    out = torch.empty_like(q)
    launch = launcher(FP32, q, k, v, out, "none", None, get_backend("host"))
    expected = attention_reference.attention_reference(q, k, v)
    _relaunches_reuse_the_conversion(out, launch, packs, expected)
    assert len(packs) == 1
