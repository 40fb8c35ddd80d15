"""The deformable convolution family: the raw deform_im2col kernel and deform_conv2d built on it, or on
the fused deform_conv2d_implicit (implicit GEMM, `path`) or deform_conv2d_depthwise (depthwise weights)
kernels, forward and backward (`pass`)."""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from suite.kernels import deform_grad
from suite.kernels import deform_launch as launchers
from suite.kernels.family import (OUTPUT, Family, Instantiation, Launched, Param, Tolerance, autograd_outputs, grad_key,
                                  pass_param)
from suite.references import deform as reference
from suite.references.deform import output_size, pair

TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
DIFFERENTIABLE = ("input", "offset", "weight", "bias", "mask")
# Backward sampling FLOPs per column element (C*kh*kw x B*Ho*Wo): the recomputed sample (4 corner
# products, their sum, the mask) 8, its scatter onto the corners (4 products and 4 adds) 8, and the
# two coordinate derivatives (3 differences, 2 products, a sum, scaled by mask and gradient and
# accumulated: 8 each) 16. The forward's sampling is not counted (see flops).
BACKWARD_SAMPLING_FLOPS = 32
RANDOM_SHARE = 0.5  # of sampling coordinates; the rest land on the special positions (see _axis_offsets)


def _pair_label(value) -> str:
    h, w = pair(value)
    return str(h) if h == w else f"{h}x{w}"


def _out_size(params) -> tuple[int, int]:
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (pair(params[k]) for k in ("kernel", "stride", "padding", "dilation"))
    return output_size(params["height"], kh, sh, ph, dh), output_size(params["width"], kw, sw, pw, dw)


def _axis_offsets(gen, shape, base, extent: int, scale: float) -> torch.Tensor:
    """float64 offsets along one axis, so that the sampling coordinate base + offset is, per element:
    random (offset ~ scale*N(0,1)) with probability RANDOM_SHARE, else in equal shares exactly an
    integer inside [0, extent-1], exactly -1, exactly `extent`, a half-integer in [-0.5, extent-0.5]
    (extent-1+0.5 included), or outside (in (-3, -1) or (extent, extent+2)). The exact cases sit on
    the `-1 < y < H` rule and on each corner's validity test; they are small integers and halves, so
    exact in fp16 and, for the suite's sizes, in bf16."""
    base = base.to(torch.float64)
    u = torch.rand(shape, generator=gen, dtype=torch.float64)
    outside = torch.where(torch.rand(shape, generator=gen) < 0.5, -1.0 - 2.0 * u.clamp_min(1e-3), extent + 2.0 * u.clamp_min(1e-3))
    targets = torch.stack([
        torch.randint(0, extent, shape, generator=gen, dtype=torch.float64),
        torch.full(shape, -1.0, dtype=torch.float64),
        torch.full(shape, float(extent), dtype=torch.float64),
        torch.randint(-1, extent, shape, generator=gen, dtype=torch.float64) + 0.5,
        outside,
    ])
    special = targets.gather(0, torch.randint(0, len(targets), (1, *shape), generator=gen)).squeeze(0) - base
    random = scale * torch.randn(shape, generator=gen, dtype=torch.float64)
    return torch.where(torch.rand(shape, generator=gen) < RANDOM_SHARE, random, special)


def _path(params, dtype: torch.dtype) -> str:
    """The kernels a deform_conv2d case runs: resolve_path's choice for its `path`, dtype and weight."""
    return launchers.resolve_path(params["path"], dtype, params["groups"] == params["in_channels"])


def _deterministic(params) -> bool:
    return params["grad_mode"] == "deterministic"


def _in_turn(*launches):
    """One callable running the launches in order (a forward, then its backward)."""
    def launch():
        for step in launches:
            step()

    return launch


def _offsets_at_kernel_coordinates(params, offset: torch.Tensor) -> torch.Tensor:
    """float64 offsets that put each sampling point where the kernels compute it: the tap's integer
    position plus the offset, added in fp32 (in float64 for float64 offsets)."""
    offset64 = offset.to(torch.float64)
    if offset.dtype == torch.float64:
        return offset64
    b, _, out_h, out_w = offset.shape
    og, taps = params["offset_groups"], math.prod(pair(params["kernel"]))
    base_y, base_x = reference.sampling_base(params["kernel"], params["stride"], params["padding"], params["dilation"],
                                             out_h, out_w, offset.device)
    base = torch.stack([base_y.expand(taps, out_h, out_w), base_x.expand(taps, out_h, out_w)], dim=1)  # [taps, 2, Ho, Wo]
    moved = base.to(torch.float32) + offset.reshape(b, og, taps, 2, out_h, out_w).to(torch.float32)
    return (moved.to(torch.float64) - base).reshape(offset.shape)


def _autograd_backward(forward, tensors: dict, grad_output, with_forward: bool):
    """A callable running autograd's backward of forward(**tensors) under grad_output: of a graph built
    once here, or (with_forward) forward and backward each call."""
    leaves = {k: None if v is None else v.detach().requires_grad_() for k, v in tensors.items()}
    wanted = [v for v in leaves.values() if v is not None]

    def backward(out):
        return torch.autograd.grad(out, wanted, grad_output, retain_graph=not with_forward)

    if with_forward:
        return lambda: backward(forward(**leaves))
    with torch.enable_grad():
        out = forward(**leaves)
    return functools.partial(backward, out)


class DeformFamily(Family):
    name = "deform"
    description = ("deformable convolution (DCNv1, DCNv2 with a mask): bilinear im2col, then a matmul per group, "
                   "or one implicit-GEMM kernel; depthwise in one fused kernel")
    kernels = {
        "deform_im2col": "the raw kernel: deformable im2col columns [C*kh*kw, B*Ho*Wo]",
        "deform_conv2d": "suite.ops.deform_conv2d, by `path`: deform_conv2d_implicit (the fp16/bf16 default: "
                         "each K-slice sampled into shared memory, tensor cores) or deform_im2col + one matmul per "
                         "weight group (the fp32 default; fp32 accumulation); groups == in_channels: "
                         "deform_conv2d_depthwise, sampling and accumulating in one pass",
    }
    baselines = {
        "torchvision": "torchvision.ops.deform_conv2d (deform_conv2d cases; no bfloat16), its autograd backward "
                       "for backward/both passes",
        "im2col_matmul": "the suite's general path: deform_im2col + matmul, for cases that take a fused kernel "
                         "(implicit GEMM or depthwise)",
    }
    params = {
        "batch": Param("int", 2, minimum=1, help="images"),
        "in_channels": Param("int", 4, minimum=1),
        "out_channels": Param("int", 4, minimum=1, help="deform_conv2d only"),
        "height": Param("int", 8, minimum=1),
        "width": Param("int", 8, minimum=1),
        "kernel": Param("pair", (3, 3), minimum=1),
        "stride": Param("pair", (1, 1), minimum=1),
        "padding": Param("pair", (0, 0), minimum=0),
        "dilation": Param("pair", (1, 1), minimum=1),
        "groups": Param("int", 1, minimum=1, help="weight groups (deform_conv2d)"),
        "offset_groups": Param("int", 1, minimum=1),
        "mask": Param("bool", False, help="DCNv2 modulation mask"),
        "offset_scale": Param("float", 2.0, minimum=0.0, help="std (pixels) of the random share of the offsets"),
        "channel_chunk": Param("int", launchers.AUTO_CHUNK, choices=launchers.CHUNK_CHOICES,
                               help="input channels per GPU thread, a tuning choice (same results): 8, 1, or 0 "
                                    "= the launcher's rule (8 while the grid fills two waves of the SMs, else 1)"),
        "pass": pass_param("forward | backward (every gradient of deform_conv2d; deform_im2col cases are forward "
                           "only) | both"),
        "path": Param("str", "auto", choices=launchers.PATHS,
                      help="deform_conv2d's kernels: implicit_gemm (one fused kernel) | im2col_gemm (columns, then "
                           "matmuls) | auto (the op's rule: depthwise weights fused, fp16/bf16 implicit_gemm, "
                           "fp32 im2col_gemm)"),
        "gather": Param("str", "auto", choices=launchers.GATHERS,
                        help="the implicit GEMM's input layout (path implicit_gemm only): nchw (a 2-byte load per "
                             "corner and channel) | nhwc (fp16/bf16, channels per weight and offset group multiples "
                             "of 8: a 16-byte load per corner and 8 channels, the input staged channels-last at each "
                             "launch) | auto (the launcher's rule: nhwc where it fits from 16 channels per group)"),
        "grad_mode": Param("str", "fast", choices=deform_grad.GRAD_MODES,
                           help="grad_input's sum: fast (atomics) or deterministic (the same bits every run)"),
    }
    # fp32: the sampling coordinate's own rounding (half an ulp of y, ~4e-6 at y=64) times the
    # image's slope, and the matmul's sum over C/groups*kh*kw terms with unit-scaled weights.
    # fp16/bf16: eps covers the final rounding where the dtype's reference happens to be exact.
    tolerances = {
        "float32": Tolerance(atol=1e-4, rtol=1e-4),
        "float16": Tolerance(eps=2e-3),
        "bfloat16": Tolerance(eps=1.6e-2),
    }

    def supports(self, kernel: str, dtype: str, params=None) -> bool:
        """deform_im2col has no backward pass, and no `path` or `gather` to choose: a case naming
        one runs deform_conv2d only; one naming a `gather`, only the dtypes whose path is the
        implicit GEMM."""
        if params is None or not super().supports(kernel, dtype):
            return super().supports(kernel, dtype)
        if kernel == "deform_im2col":
            return params["pass"] == "forward" and params["path"] == "auto" and params["gather"] == "auto"
        return params["gather"] == "auto" or _path(params, TORCH_DTYPES[dtype]) == "implicit_gemm"

    def check_params(self, params) -> None:
        c, o = params["in_channels"], params["out_channels"]
        if c % params["groups"] or o % params["groups"]:
            raise ValueError(f"groups={params['groups']} must divide in_channels={c} and out_channels={o}")
        if c % params["offset_groups"]:
            raise ValueError(f"offset_groups={params['offset_groups']} must divide in_channels={c}")
        out_h, out_w = _out_size(params)
        if out_h <= 0 or out_w <= 0:
            raise ValueError(f"the output would be {out_h}x{out_w}: the dilated kernel does not fit in the padded "
                             f"{params['height']}x{params['width']} input; enlarge it or reduce kernel/dilation")

    def shape_label(self, params) -> str:
        label = (f"B{params['batch']} C{params['in_channels']}->{params['out_channels']} {params['height']}x{params['width']} "
                 f"k{_pair_label(params['kernel'])} s{_pair_label(params['stride'])} p{_pair_label(params['padding'])} "
                 f"d{_pair_label(params['dilation'])} g{params['groups']} og{params['offset_groups']}")
        label += " mask" if params["mask"] else ""
        label += "" if params["channel_chunk"] == launchers.AUTO_CHUNK else f" chunk{params['channel_chunk']}"
        label += "" if params["path"] == "auto" else f" {params['path']}"
        label += "" if params["gather"] == "auto" else f" {params['gather']}"
        if params["pass"] != "forward":
            label += (" bwd" if params["pass"] == "backward" else " fwd+bwd") + (" det" if _deterministic(params) else "")
        return label

    def make_inputs(self, params, dtype: str, seed: int, device) -> dict:
        """Seeded float64 data on the CPU (the same on every device), cast to `dtype` on `device`."""
        gen = torch.Generator().manual_seed(seed)
        b, c, o = params["batch"], params["in_channels"], params["out_channels"]
        h, w, og, groups = params["height"], params["width"], params["offset_groups"], params["groups"]
        kh, kw = pair(params["kernel"])
        out_h, out_w = _out_size(params)
        f64 = torch.float64
        base_y, base_x = reference.sampling_base((kh, kw), params["stride"], params["padding"], params["dilation"], out_h, out_w)
        shape = (b, og, kh * kw, out_h, out_w)
        offset = torch.stack([
            _axis_offsets(gen, shape, base_y.expand(shape[2:]), h, params["offset_scale"]),
            _axis_offsets(gen, shape, base_x.expand(shape[2:]), w, params["offset_scale"]),
        ], dim=3).reshape(b, og * 2 * kh * kw, out_h, out_w)
        data = {
            "input": torch.randn(b, c, h, w, generator=gen, dtype=f64),
            "offset": offset,
            "mask": torch.rand(b, og * kh * kw, out_h, out_w, generator=gen, dtype=f64) if params["mask"] else None,
            # unit-variance outputs: the scale of a conv weight initialisation
            "weight": torch.randn(o, c // groups, kh, kw, generator=gen, dtype=f64) / math.sqrt(c // groups * kh * kw),
            "bias": torch.randn(o, generator=gen, dtype=f64),
        }
        if params["pass"] != "forward":  # drawn last: a forward case's data stays what it was
            data["grad_output"] = torch.randn(b, o, out_h, out_w, generator=gen, dtype=f64)
        return {k: None if v is None else v.to(device=device, dtype=TORCH_DTYPES[dtype]) for k, v in data.items()}

    def _geometry(self, params) -> dict:
        return {"stride": pair(params["stride"]), "padding": pair(params["padding"]), "dilation": pair(params["dilation"])}

    def _backward(self, params, inputs: dict, backend):
        """(gradients keyed grad_<name>, NaN-poisoned; launch filling them)."""
        grads, launch = deform_grad.deform_conv2d_backward_launcher(
            inputs["grad_output"], inputs["input"], inputs["offset"], inputs["weight"], inputs["bias"], mask=inputs["mask"],
            **self._geometry(params), backend=backend, deterministic=_deterministic(params),
            channel_chunk=params["channel_chunk"])
        for g in grads.values():
            g.fill_(math.nan)
        return {grad_key(name): g for name, g in grads.items()}, launch

    def run(self, kernel: str, params, inputs: dict, backend) -> Launched:
        x = inputs["input"]
        if params["pass"] == "backward":
            grads, launch = self._backward(params, inputs, backend)
            launch()
            return Launched(output=grads, again=launch)
        if kernel == "deform_im2col":
            rows = params["in_channels"] * math.prod(pair(params["kernel"]))
            out_h, out_w = _out_size(params)
            poisoned = torch.full((rows, params["batch"] * out_h * out_w), math.nan, dtype=x.dtype, device=x.device)
            output, launch = launchers.deform_im2col_launcher(x, inputs["offset"], inputs["mask"], kernel_size=params["kernel"],
                                                        **self._geometry(params), backend=backend, out=poisoned,
                                                        channel_chunk=params["channel_chunk"])
        else:
            out_h, out_w = _out_size(params)
            poisoned = torch.full((params["batch"], params["out_channels"], out_h, out_w), math.nan, dtype=x.dtype, device=x.device)
            output, launch = launchers.deform_conv2d_launcher(x, inputs["offset"], inputs["weight"], inputs["bias"], mask=inputs["mask"],
                                                        **self._geometry(params), backend=backend, out=poisoned,
                                                        channel_chunk=params["channel_chunk"], path=params["path"],
                                                        gather=params["gather"])
        if params["pass"] == "both":
            grads, backward = self._backward(params, inputs, backend)
            output, launch = {OUTPUT: output} | grads, _in_turn(launch, backward)
        launch()
        return Launched(output=output, again=launch)

    def _reference(self, kernel: str, params, inputs: dict):
        if kernel == "deform_im2col":
            return reference.deform_im2col(inputs["input"], inputs["offset"], inputs["mask"], kernel_size=params["kernel"], **self._geometry(params))
        return reference.deform_conv2d(inputs["input"], inputs["offset"], inputs["weight"], inputs["bias"], mask=inputs["mask"], **self._geometry(params))

    def reference(self, kernel: str, params, inputs: dict, dtype: str):
        """ref64 from float64 copies of exactly the inputs the kernel saw; ref_lowp in the kernel's dtype.
        Backward/both passes: the dicts of autograd_outputs of the reference, under grad_output."""
        as64 = {k: None if v is None else v.to(torch.float64) for k, v in inputs.items()}
        if params["pass"] == "forward":
            ref64 = self._reference(kernel, params, as64)
            return ref64, None if dtype == "float32" else self._reference(kernel, params, inputs)
        # The kernels add a tap's offset to its integer position in fp32; a float64 sum could land on
        # the other side of an integer, where the coordinate derivative jumps. The float64 reference
        # takes the offsets that give the kernel's coordinates (their gradients are the same).
        as64["offset"] = _offsets_at_kernel_coordinates(params, inputs["offset"])

        def both_or_backward(tensors):
            grad_output = tensors["grad_output"]
            tensors = {k: tensors[k] for k in DIFFERENTIABLE}
            return autograd_outputs(lambda **t: self._reference(kernel, params, t), tensors, grad_output, DIFFERENTIABLE,
                                    with_output=params["pass"] == "both")

        return both_or_backward(as64), None if dtype == "float32" else both_or_backward(inputs)

    def flops(self, kernel: str, params) -> float:
        """deform_conv2d forward: the matmul's 2 FLOPs per multiply-add. The im2col's bilinear arithmetic
        is not counted: it is a gather bound by memory, judged by its bytes. Backward: its two matmuls
        (grad_weight and grad_columns, each the forward's size) and BACKWARD_SAMPLING_FLOPS per column
        element; both: forward + backward."""
        if kernel != "deform_conv2d":
            return 0.0
        out_h, out_w = _out_size(params)
        taps = math.prod(pair(params["kernel"]))
        gemm = 2.0 * params["batch"] * params["out_channels"] * out_h * out_w * (params["in_channels"] // params["groups"]) * taps
        backward = 2 * gemm + BACKWARD_SAMPLING_FLOPS * params["in_channels"] * taps * params["batch"] * out_h * out_w
        return {"forward": gemm, "backward": backward, "both": gemm + backward}[params["pass"]]

    def bytes_moved(self, kernel: str, params, dtype: str) -> float:
        """The fewest bytes of the operation, whatever the implementation: each input, offset and mask
        element read once, and each output element written once: the columns for deform_im2col; the
        weight, bias and output for deform_conv2d, whose columns are an intermediate (the im2col +
        matmul path writes and reads them back, the fused depthwise path never has them), so GB/s and
        its percentage of the copy peak say how close either path is to the op's floor."""
        b, c, o = params["batch"], params["in_channels"], params["out_channels"]
        taps = math.prod(pair(params["kernel"]))
        out_h, out_w = _out_size(params)
        og, pixels = params["offset_groups"], out_h * out_w
        elements = b * c * params["height"] * params["width"] + b * og * taps * pixels * (3 if params["mask"] else 2)
        if kernel == "deform_conv2d":
            elements += o * (c // params["groups"]) * taps + o + b * o * pixels
        else:
            elements += c * taps * b * pixels
        # Backward: the same tensors read (grad_output for the output) and each one's gradient written.
        passes = {"forward": 1, "backward": 2, "both": 3}[params["pass"]]
        return float(passes * elements * TORCH_DTYPES[dtype].itemsize)

    def baseline(self, name: str, kernel: str, params, inputs: dict):
        """For deform_conv2d cases: torchvision.ops.deform_conv2d (None for bfloat16, which it lacks; for
        backward/both passes its autograd backward, alone or after its forward), or the suite's im2col +
        matmul path (forward cases only; None unless the case runs a fused kernel: depthwise, implicit GEMM)."""
        if kernel != "deform_conv2d":
            return None
        args = (inputs["input"], inputs["offset"], inputs["weight"], inputs["bias"])
        fused = _path(params, inputs["input"].dtype) != "im2col_gemm"
        if name == "im2col_matmul" and fused and params["pass"] == "forward":
            _, launch = launchers.deform_conv2d_im2col_matmul_launcher(*args, mask=inputs["mask"], **self._geometry(params),
                                                                 channel_chunk=params["channel_chunk"])
            return launch
        if name == "torchvision" and inputs["input"].dtype != torch.bfloat16:
            from torchvision.ops import deform_conv2d

            geometry = self._geometry(params)

            def forward(input, offset, weight, bias, mask):
                return deform_conv2d(input, offset, weight, bias, mask=mask, **geometry)

            tensors = {k: inputs[k] for k in DIFFERENTIABLE}
            if params["pass"] == "forward":
                return functools.partial(forward, **tensors)
            return _autograd_backward(forward, tensors, inputs["grad_output"], with_forward=params["pass"] == "both")
        return None

    def instantiations(self) -> list[Instantiation]:
        """Every kernel the ops can launch, forward (im2col, depthwise) and backward (col2im's atomic,
        plan and gather kernels, the coordinate kernel): 4 dtypes (float64 for torchvision's dtype) x
        int32/int64 indexing x channel chunks (for the kernels that have them); and the implicit GEMM
        (its 64-bit indexing is built in) for fp32 (SIMT) and fp16/bf16 (tensor cores), the latter with
        NCHW and NHWC gathers."""
        kernels = ((launchers.DEFORM_SOURCE, launchers.deform_im2col_name, True),
                   (launchers.DEPTHWISE_SOURCE, launchers.deform_conv2d_depthwise_name, True), *deform_grad.KERNELS)

        def planned_blocks(name, dtype, index, chunk) -> int:  # what with_chunk's rule counts on
            kernel = name(dtype, index, chunk).split("<")[0]
            sized = chunk == 8 and index == np.int32 and dtype != torch.float64
            return launchers.CHUNK8_BLOCKS_PER_SM.get(kernel, 0) if sized else 0

        return [
            Instantiation(source=source, name_expression=name(dtype, index, chunk), threads_per_block=launchers.DEFORM_THREADS,
                          label=f"{str(dtype).removeprefix('torch.')}, {np.dtype(index).name} indexing"
                                + (f", {chunk} channel(s)/thread" if chunked else ""),
                          min_blocks_per_sm=planned_blocks(name, dtype, index, chunk))
            for source, name, chunked in kernels
            for dtype in launchers.DEFORM_DTYPES for index in launchers.INDEX_TYPES
            for chunk in (launchers.CHANNEL_CHUNKS if chunked else (None,))
        ] + [
            Instantiation(source=launchers.IMPLICIT_SOURCE, name_expression=launchers.deform_conv2d_implicit_name(dtype, nhwc),
                          threads_per_block=launchers.IMPLICIT_THREADS, dynamic_smem=launchers.implicit_shared_bytes(dtype),
                          tensor_core=dtype != torch.float32, expect=("LDGSTS",) if dtype == torch.float32 else ("LDSM", "LDGSTS"),
                          label=f"{str(dtype).removeprefix('torch.')} implicit GEMM {'x'.join(map(str, launchers.IMPLICIT_TILE))}"
                                + (", NHWC gather" if nhwc else ""),
                          min_blocks_per_sm=launchers.IMPLICIT_BLOCKS_PER_SM[dtype])
            for dtype in launchers.IMPLICIT_DTYPES
            for nhwc in ((False, True) if dtype in launchers.NHWC_DTYPES else (False,))
        ]


FAMILY = DeformFamily()
