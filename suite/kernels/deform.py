"""The deformable convolution family: the raw deform_im2col kernel and deform_conv2d built on it (or, for
depthwise weights, on the fused deform_conv2d_depthwise kernel)."""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from suite.kernels import deform_launch as launchers
from suite.kernels.family import Family, Instantiation, Launched, Param, Tolerance
from suite.references import deform as reference
from suite.references.deform import output_size, pair

TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
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


class DeformFamily(Family):
    name = "deform"
    description = ("deformable convolution (DCNv1, DCNv2 with a mask): bilinear im2col, then a matmul per group; "
                   "depthwise in one fused kernel")
    kernels = {
        "deform_im2col": "the raw kernel: deformable im2col columns [C*kh*kw, B*Ho*Wo]",
        "deform_conv2d": "suite.launchers.deform_conv2d: deform_im2col + one matmul per weight group (fp32 accumulation); "
                         "groups == in_channels: deform_conv2d_depthwise, sampling and accumulating in one pass",
    }
    baselines = {
        "torchvision": "torchvision.launchers.deform_conv2d (deform_conv2d cases; no bfloat16)",
        "im2col_matmul": "the suite's general path: deform_im2col + matmul, for cases that take the fused depthwise path",
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
        "channel_chunk": Param("int", launchers.CHANNEL_CHUNK, choices=launchers.CHANNEL_CHUNKS,
                               help="input channels per GPU thread (a tuning choice; same results)"),
    }
    # fp32: the sampling coordinate's own rounding (half an ulp of y, ~4e-6 at y=64) times the
    # image's slope, and the matmul's sum over C/groups*kh*kw terms with unit-scaled weights.
    # fp16/bf16: eps covers the final rounding where the dtype's reference happens to be exact.
    tolerances = {
        "float32": Tolerance(atol=1e-4, rtol=1e-4),
        "float16": Tolerance(eps=2e-3),
        "bfloat16": Tolerance(eps=1.6e-2),
    }

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
        return label + ("" if params["channel_chunk"] == launchers.CHANNEL_CHUNK else f" chunk{params['channel_chunk']}")

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
        return {k: None if v is None else v.to(device=device, dtype=TORCH_DTYPES[dtype]) for k, v in data.items()}

    def _geometry(self, params) -> dict:
        return {"stride": pair(params["stride"]), "padding": pair(params["padding"]), "dilation": pair(params["dilation"])}

    def run(self, kernel: str, params, inputs: dict, backend) -> Launched:
        x = inputs["input"]
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
                                                        channel_chunk=params["channel_chunk"])
        launch()
        return Launched(output=output, again=launch)

    def _reference(self, kernel: str, params, inputs: dict):
        if kernel == "deform_im2col":
            return reference.deform_im2col(inputs["input"], inputs["offset"], inputs["mask"], kernel_size=params["kernel"], **self._geometry(params))
        return reference.deform_conv2d(inputs["input"], inputs["offset"], inputs["weight"], inputs["bias"], mask=inputs["mask"], **self._geometry(params))

    def reference(self, kernel: str, params, inputs: dict, dtype: str):
        """ref64 from float64 copies of exactly the inputs the kernel saw; ref_lowp in the kernel's dtype."""
        as64 = {k: None if v is None else v.to(torch.float64) for k, v in inputs.items()}
        ref64 = self._reference(kernel, params, as64)
        return ref64, None if dtype == "float32" else self._reference(kernel, params, inputs)

    def flops(self, kernel: str, params) -> float:
        """deform_conv2d: the matmul's 2 FLOPs per multiply-add. The im2col's bilinear arithmetic is not
        counted: it is a gather bound by memory, judged by its bytes."""
        if kernel != "deform_conv2d":
            return 0.0
        out_h, out_w = _out_size(params)
        taps = math.prod(pair(params["kernel"]))
        return 2.0 * params["batch"] * params["out_channels"] * out_h * out_w * (params["in_channels"] // params["groups"]) * taps

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
        return float(elements * TORCH_DTYPES[dtype].itemsize)

    def baseline(self, name: str, kernel: str, params, inputs: dict):
        """For deform_conv2d cases: torchvision.launchers.deform_conv2d (None for bfloat16, which it lacks), or
        the suite's im2col + matmul path (None unless groups == in_channels, where the op fuses)."""
        if kernel != "deform_conv2d":
            return None
        args = (inputs["input"], inputs["offset"], inputs["weight"], inputs["bias"])
        if name == "im2col_matmul" and params["groups"] == params["in_channels"]:
            _, launch = launchers.deform_conv2d_im2col_matmul_launcher(*args, mask=inputs["mask"], **self._geometry(params),
                                                                 channel_chunk=params["channel_chunk"])
            return launch
        if name == "torchvision" and inputs["input"].dtype != torch.bfloat16:
            from torchvision.ops import deform_conv2d

            return functools.partial(deform_conv2d, *args, mask=inputs["mask"], **self._geometry(params))
        return None

    def instantiations(self) -> list[Instantiation]:
        """Every kernel the ops can launch, im2col and depthwise: 4 dtypes (float64 for torchvision's dtype)
        x int32/int64 indexing x channel chunks."""
        return [
            Instantiation(source=source, name_expression=name(dtype, index, chunk), threads_per_block=launchers.DEFORM_THREADS,
                          label=f"{str(dtype).removeprefix('torch.')}, {np.dtype(index).name} indexing, {chunk} channel(s)/thread")
            for source, name in ((launchers.DEFORM_SOURCE, launchers.deform_im2col_name),
                                 (launchers.DEPTHWISE_SOURCE, launchers.deform_conv2d_depthwise_name))
            for dtype in launchers.DEFORM_DTYPES for index in launchers.INDEX_TYPES for chunk in launchers.CHANNEL_CHUNKS
        ]


FAMILY = DeformFamily()
