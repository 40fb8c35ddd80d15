"""The layer family: suite.nn.DeformConv2d and suite.nn.MultiheadAttention timed and validated whole.

A case's params say which layer it is: `in_channels` (a deform_conv2d_layer case) or `embed_dim` (an
attention_layer case), exactly one of them; each sweep of cases/modules.yaml names its kernel.
Weights are seeded random data (a new layer's zero offset predictor would sample only at integer
positions). The reference is the same layer, with the same weights, through the pure-PyTorch
references (suite.nn's "reference" backend) in float64, and in the case's dtype for the
low-precision rule.
"""

from __future__ import annotations

import math

import torch

from suite import nn as layers
from suite.errors import InputError
from suite.kernels.torch_flags import torch_flags_off
from suite.kernels.family import Family, Launched, Param, Tolerance
from suite.references.attention import visible_pairs
from suite.references.deform import output_size, pair

DEFORM, ATTENTION = "deform_conv2d_layer", "attention_layer"
TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def _layer(params) -> str:
    return DEFORM if params["in_channels"] else ATTENTION


def _out_channels(params) -> int:
    return params["out_channels"] or params["in_channels"]


def _num_kv_heads(params) -> int:
    return params["num_kv_heads"] or params["num_heads"]


def _out_size(params) -> tuple[int, int]:
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (pair(params[k]) for k in ("kernel_size", "stride", "padding", "dilation"))
    return output_size(params["height"], kh, sh, ph, dh), output_size(params["width"], kw, sw, pw, dw)


def _pair_text(value) -> str:
    return "x".join(map(str, pair(value)))


def build_layer(params, dtype=None, device=None, backend=None):
    """The case's layer (default initialisation), in `dtype` on `device`, running on `backend`."""
    factory = {"backend": backend, "device": device, "dtype": dtype}
    if _layer(params) == DEFORM:
        return layers.DeformConv2d(params["in_channels"], _out_channels(params), params["kernel_size"], params["stride"],
                                   params["padding"], params["dilation"], params["groups"], params["offset_groups"],
                                   modulated=params["modulated"], **factory)
    return layers.MultiheadAttention(params["embed_dim"], params["num_heads"], _num_kv_heads(params), **factory)


def _float32_without_tf32():
    """float32 cases mean float32 arithmetic, for the layer and its baseline alike: TF32 in cuDNN
    convolutions (torch's default on a GPU) would put the predicted offsets ~1e-3 pixel off and the
    layer far outside the fp32 tolerance. Also a decorator."""
    return torch_flags_off((torch.backends.cudnn, "allow_tf32"), (torch.backends.cuda.matmul, "allow_tf32"))


class ModulesFamily(Family):
    name = "modules"
    description = "whole layers on the suite's kernels: suite.nn.DeformConv2d and suite.nn.MultiheadAttention"
    kernels = {
        DEFORM: "suite.nn.DeformConv2d: offset (and mask) convolutions, then suite.ops.deform_conv2d",
        ATTENTION: "suite.nn.MultiheadAttention: q/k/v projections, suite.ops.attention per head, output projection",
    }
    baselines = {
        "torchvision_layer": "the same offset/mask convolutions, then torchvision.ops.DeformConv2d (no bfloat16)",
        "torch_mha": "torch.nn.MultiheadAttention with the same weights (no grouped K/V heads)",
    }
    params = {
        "batch": Param("int", 2, minimum=1),
        "in_channels": Param("int", 0, minimum=0, help="deform_conv2d_layer cases: input channels (0 otherwise)"),
        "out_channels": Param("int", 0, minimum=0, help="0 means in_channels"),
        "height": Param("int", 8, minimum=1),
        "width": Param("int", 8, minimum=1),
        "kernel_size": Param("pair", (3, 3), minimum=1),
        "stride": Param("pair", (1, 1), minimum=1),
        "padding": Param("pair", (0, 0), minimum=0),
        "dilation": Param("pair", (1, 1), minimum=1),
        "groups": Param("int", 1, minimum=1),
        "offset_groups": Param("int", 1, minimum=1),
        "modulated": Param("bool", False, help="DCNv2: a predicted mask"),
        "offset_scale": Param("float", 2.0, minimum=0.0, help="std (pixels) of the predicted offsets"),
        "embed_dim": Param("int", 0, minimum=0, help="attention_layer cases: hidden size (0 otherwise)"),
        "num_heads": Param("int", 1, minimum=1),
        "num_kv_heads": Param("int", 0, minimum=0, help="0 means num_heads"),
        "seq": Param("int", 16, minimum=1, help="sequence length (self-attention)"),
        "causal": Param("bool", False),
    }
    # fp32: the kernels' own bounds widened for the projections and offset convolutions around them
    # (sums over embed_dim or C*kh*kw terms in fp32). fp16/bf16: eps covers the final rounding.
    tolerances = {
        "float32": Tolerance(atol=1e-4, rtol=1e-4),
        "float16": Tolerance(eps=2e-3),
        "bfloat16": Tolerance(eps=1.6e-2),
    }

    def check_params(self, params) -> None:
        if bool(params["in_channels"]) == bool(params["embed_dim"]):
            raise ValueError(f"give exactly one of in_channels ({DEFORM}) and embed_dim ({ATTENTION}); "
                             f"got in_channels={params['in_channels']}, embed_dim={params['embed_dim']}")
        build_layer(params, device="meta")  # the layer's own argument checks (InputError is a ValueError)
        if _layer(params) == DEFORM and min(_out_size(params)) <= 0:
            raise ValueError(f"the output would be {'x'.join(map(str, _out_size(params)))}: the dilated kernel does "
                             f"not fit in the padded {params['height']}x{params['width']} input")

    def shape_label(self, params) -> str:
        if _layer(params) == DEFORM:
            label = (f"B{params['batch']} C{params['in_channels']}->{_out_channels(params)} "
                     f"{params['height']}x{params['width']} k{_pair_text(params['kernel_size'])} "
                     f"s{_pair_text(params['stride'])} p{_pair_text(params['padding'])} "
                     f"d{_pair_text(params['dilation'])} g{params['groups']} og{params['offset_groups']}")
            return label + (" modulated" if params["modulated"] else "")
        label = (f"B{params['batch']} S{params['seq']} E{params['embed_dim']} "
                 f"h{params['num_heads']}/{_num_kv_heads(params)} d{params['embed_dim'] // params['num_heads']}")
        return label + (" causal" if params["causal"] else "")

    def make_inputs(self, params, dtype: str, seed: int, device) -> dict:
        """Seeded float64 data on the CPU (the same on every device), cast to `dtype` on `device`:
        the layer input `x` and a `state` dict of weights giving unit-scale activations."""
        gen = torch.Generator().manual_seed(seed)
        if _layer(params) == DEFORM:
            shape = (params["batch"], params["in_channels"], params["height"], params["width"])
        else:
            shape = (params["batch"], params["seq"], params["embed_dim"])
        data = {"x": torch.randn(shape, generator=gen, dtype=torch.float64)}
        state = {}
        for name, p in build_layer(params, device="meta").named_parameters():
            scale = params["offset_scale"] if name.startswith("offset_conv.") else 1.0
            fan_in = p[0].numel() if p.ndim > 1 else 1
            state[name] = scale * torch.randn(p.shape, generator=gen, dtype=torch.float64) / math.sqrt(fan_in)
        data["state"] = state
        return self._cast(data, TORCH_DTYPES[dtype], device)

    @staticmethod
    def _cast(data: dict, dtype, device) -> dict:
        state = {k: v.to(device=device, dtype=dtype) for k, v in data["state"].items()}
        return {"x": data["x"].to(device=device, dtype=dtype), "state": state}

    @staticmethod
    def _loaded(kernel: str, params, inputs: dict, backend):
        if kernel != _layer(params):
            raise InputError(f"{kernel} cases take {'in_channels' if kernel == DEFORM else 'embed_dim'}, these params "
                             f"describe a {_layer(params)} case; name the kernel in the sweep (kernels: [{_layer(params)}])")
        x = inputs["x"]
        layer = build_layer(params, x.dtype, x.device, backend)
        layer.load_state_dict(inputs["state"])
        return layer.requires_grad_(False)

    @staticmethod
    def _call(layer, params, x):
        return layer(x) if _layer(params) == DEFORM else layer(x, x, x, causal=params["causal"])

    def run(self, kernel: str, params, inputs: dict, backend) -> Launched:
        """The layer's forward, copied into a NaN-poisoned output (a layer allocates its own results)."""
        x = inputs["x"]
        layer = self._loaded(kernel, params, inputs, backend)
        if kernel == DEFORM:
            shape = (params["batch"], _out_channels(params), *_out_size(params))
        else:
            shape = tuple(x.shape)
        output = torch.full(shape, math.nan, dtype=x.dtype, device=x.device)

        @_float32_without_tf32()
        def again():
            output.copy_(self._call(layer, params, x))

        again()
        return Launched(output=output, again=again)

    def _reference(self, kernel: str, params, inputs: dict, dtype):
        cast = self._cast(inputs, dtype, inputs["x"].device)
        return self._call(self._loaded(kernel, params, cast, layers.REFERENCE), params, cast["x"])

    def reference(self, kernel: str, params, inputs: dict, dtype: str):
        """ref64 from float64 copies of exactly the weights and input the kernel saw; ref_lowp in the kernel's dtype."""
        ref64 = self._reference(kernel, params, inputs, torch.float64)
        return ref64, None if dtype == "float32" else self._reference(kernel, params, inputs, TORCH_DTYPES[dtype])

    def flops(self, kernel: str, params) -> float:
        """2 FLOPs per multiply-add of the convolutions, projections and matmuls; attention's scores and
        values over the unmasked area only. Bilinear sampling, softmax and biases are not counted."""
        b = params["batch"]
        if kernel == DEFORM:
            c, o = params["in_channels"], _out_channels(params)
            taps, pixels = math.prod(pair(params["kernel_size"])), math.prod(_out_size(params))
            predicted = params["offset_groups"] * taps * (3 if params["modulated"] else 2)  # offset (+ mask) channels
            return 2.0 * b * pixels * taps * (predicted * c + o * c // params["groups"])
        e, s, heads = params["embed_dim"], params["seq"], params["num_heads"]
        kv_dim = _num_kv_heads(params) * e // heads
        projections = 2.0 * b * s * e * (2 * e + 2 * kv_dim)
        pairs = visible_pairs("top_left" if params["causal"] else "none", s, s)
        return projections + 4.0 * b * heads * (e // heads) * pairs

    def bytes_moved(self, kernel: str, params, dtype: str) -> float:
        """The fewest bytes: the input and every weight read once, the output written once."""
        meta = build_layer(params, device="meta")
        weights = sum(p.numel() for p in meta.parameters())
        if kernel == DEFORM:
            pixels = math.prod(_out_size(params))
            image = params["in_channels"] * params["height"] * params["width"]
            elements = params["batch"] * (image + _out_channels(params) * pixels)
        else:
            elements = 2 * params["batch"] * params["seq"] * params["embed_dim"]
        return float((elements + weights) * TORCH_DTYPES[dtype].itemsize)

    def baseline(self, name: str, kernel: str, params, inputs: dict):
        """The PyTorch layer with the case's weights; None where it cannot run the case."""
        x = inputs["x"]
        if name == "torchvision_layer" and kernel == DEFORM and x.dtype != torch.bfloat16:
            from torchvision.ops import DeformConv2d

            layer = self._loaded(kernel, params, inputs, None)
            torchvision_layer = DeformConv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride,
                                             layer.padding, layer.dilation, layer.groups).to(x)
            torchvision_layer.load_state_dict({k: inputs["state"][k] for k in ("weight", "bias")})
            torchvision_layer.requires_grad_(False)
            return _float32_without_tf32()(lambda: torchvision_layer(x, *layer.offsets(x)))
        if name == "torch_mha" and kernel == ATTENTION and _num_kv_heads(params) == params["num_heads"]:
            layer = self._loaded(kernel, params, inputs, None)
            mha = torch.nn.MultiheadAttention(layer.embed_dim, layer.num_heads, batch_first=True).to(x)
            mha.load_state_dict(layer.torch_state_dict())
            mha.requires_grad_(False)
            causal = params["causal"]
            mask = torch.nn.Transformer.generate_square_subsequent_mask(x.shape[1], x.device, x.dtype) if causal else None
            return _float32_without_tf32()(
                lambda: mha(x, x, x, need_weights=False, attn_mask=mask, is_causal=causal)[0])
        return None

    def launched_instantiations(self, kernel: str, params, dtype: str) -> list:
        """A layer launches the deform or the attention family's kernels (it has none of its own)."""
        from suite.kernels import get_family  # here: the registry imports this module

        return get_family("deform" if kernel == DEFORM else "attention").instantiations()


FAMILY = ModulesFamily()
