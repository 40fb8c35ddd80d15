"""The attention family: flash-style scaled-dot-product attention with GQA and causal masks.

Kernels (kernels_cu/): `attention_fp32` (SIMT, float32) and `attention_tc` (mma.sync, float16 and
bfloat16) take the same arguments, so one launcher serves both (attention_launch.py); their tile
sizes are template parameters picked per head dim (attention_tiles.py). The backward kernels
(kernels_cu/attention_bwd*.cu) have `backward_launcher` (attention_grad.py); `attention_decode`
(split-KV for short queries) has `decode_launcher` (attention_decode.py). This module is the family:
cases, references, baselines and the `suite check` instantiations; it re-exports the launchers and
plans so that `suite.kernels.attention` stays attention's one public address.
"""

from __future__ import annotations

import torch

from suite.errors import InputError
from suite.kernels import attention_fa3 as fa3
from suite.kernels.family import (OUTPUT, Family, Instantiation, Launched, Param, Tolerance, autograd_outputs, grad_key,
                                  pass_param)
from suite.references.attention import CAUSAL_MODES, attention_reference, visible_pairs
# The launchers and plans are public from here too (suite.ops and the tests use this address): the
# names below that this module does not use itself are re-exports.
from suite.kernels.attention_tiles import (AUTO, BWD_TC, DECODE, DEFAULT_ARCH, FALLBACK_ROW, FP32, GRID_YZ_MAX,
                                           KERNEL_DTYPES, MAX_HEAD_DIM, PLAN_ROWS, SOURCES, TC, TC_CANDIDATES,
                                           TC_HEAD_TILES, TileConfig, _candidates, all_configs, name_expression,
                                           plan_row, shared_bytes, threads, tile_choices, tile_config, tile_label)
from suite.kernels.attention_launch import TILE_OVERHANG, launcher
from suite.kernels.attention_grad import (BWD_PARTS, BWD_TC_TILES, backward_instances, backward_launcher,
                                          backward_name, backward_shared_bytes, backward_threads, backward_tile)
from suite.kernels.attention_decode import (COMBINE_WARPS, DECODE_DTYPES, DECODE_MAX_SEQ_Q, DECODE_PLAN, DECODE_TILES,
                                            decode_applies, decode_configs, decode_fits, decode_launcher, decode_names,
                                            decode_plan, decode_shared_bytes, decode_splits, decode_tile)


def _heads_kv(params) -> int:
    return params["heads_kv"] or params["heads_q"]


GRAD_MODES = ("fast", "deterministic")  # as the deformable family's grad_mode


def _deterministic(params) -> bool:
    return params["grad_mode"] == "deterministic"


# Above this many query rows the references cover a sample of rows: a float64 reference of all of a
# 16k-token case costs a few TFLOP (tens of seconds even on an H100), more than timing it. The sample
# holds the first and the last EDGE_ROWS rows (the first query blocks, the partial last block, the
# causal corners) and RANDOM_ROWS rows drawn in between, the same for a shape every time.
CHECK_ALL_ROWS_UP_TO = 1024
EDGE_ROWS, RANDOM_ROWS = 256, 512


def checked_rows(seq_q: int) -> torch.Tensor | None:
    """The query rows the references cover (sorted), or None for all of them."""
    if seq_q <= CHECK_ALL_ROWS_UP_TO:
        return None
    middle = torch.arange(EDGE_ROWS, seq_q - EDGE_ROWS)
    drawn = middle[torch.randperm(len(middle), generator=torch.Generator().manual_seed(seq_q))[:RANDOM_ROWS]]
    return torch.cat([torch.arange(EDGE_ROWS), drawn.sort().values, torch.arange(seq_q - EDGE_ROWS, seq_q)])


_CANDIDATE_LIST = "; ".join(f"d{hd}: " + ", ".join(tile_label(cfg) for cfg, _ in _candidates() if cfg.head_tile == hd)
                            for hd in TC_CANDIDATES)

PASS_FLOPS = {"forward": 1.0, "backward": 2.5, "both": 3.5}
_SDPA_BACKENDS = {"sdpa_math": "MATH", "sdpa_flash": "FLASH_ATTENTION", "sdpa_efficient": "EFFICIENT_ATTENTION",
                  "sdpa_cudnn": "CUDNN_ATTENTION"}


class AttentionFamily(Family):
    name = "attention"
    description = "flash-style multi-head attention (GQA/MQA, causal top-left or bottom-right)"
    kernels = {FP32: "fp32 SIMT, shared-memory tiles, online softmax",
               TC: "fp16/bf16 mma.sync m16n8k16, ldmatrix, cp.async pipeline, FlashAttention-2 split of Q",
               DECODE: f"fp16/bf16 split-KV decode (seq_q <= {DECODE_MAX_SEQ_Q}, d <= {DECODE_TILES[-1].head_tile}): "
                       "GQA rows packed, tensor cores, log-sum-exp combine",
               fa3.FA3: "fp16/bf16 sm_90a FlashAttention-3 style forward: TMA producer warp, wgmma consumer "
                        "warpgroups, intra-warpgroup overlap, ping-pong"}
    opt_in_kernels = frozenset({fa3.FA3})  # sm_90a only: a case file names it (cases/attention_fa3.yaml)
    baselines = {name: f"torch SDPA restricted to the {b.lower()} backend" for name, b in _SDPA_BACKENDS.items()}
    params = {
        "batch": Param("int", 1, minimum=1),
        "heads_q": Param("int", minimum=1, help="query heads"),
        "heads_kv": Param("int", 0, minimum=0, help="key/value heads; 0 means heads_q (plain multi-head)"),
        "seq_q": Param("int", minimum=1),
        "seq_k": Param("int", minimum=1),
        "head_dim": Param("int", minimum=1),
        "causal": Param("str", "none", choices=CAUSAL_MODES),
        "pass": pass_param(),
        "grad_mode": Param("str", "fast", choices=GRAD_MODES,
                           help="backward: fast (dQ by fp32 atomics) | deterministic (dQ per query block, "
                                "bitwise reproducible)"),
        "tiles": Param("str", AUTO, help=f"{TC} tile shape BMxBNwWARPSsSTAGES (`{AUTO}`: the head dim's default; "
                                         f"a sweep naming one runs {TC} only); others by head tile: {_CANDIDATE_LIST}"),
    }
    kernel_dtypes = KERNEL_DTYPES | {DECODE: DECODE_DTYPES, fa3.FA3: fa3.DTYPES}
    tolerances = {
        "float32": Tolerance(atol=1e-5, rtol=1e-5),
        "float16": Tolerance(eps=1e-3),
        "bfloat16": Tolerance(eps=1e-2),
    }

    def check_params(self, params) -> None:
        if params["heads_q"] % _heads_kv(params):
            raise ValueError(f"heads_q ({params['heads_q']}) must be a multiple of heads_kv ({params['heads_kv']})")
        if params["head_dim"] > MAX_HEAD_DIM:
            raise ValueError(f"head_dim {params['head_dim']} is above the kernels' maximum {MAX_HEAD_DIM}")
        if params["heads_q"] > GRID_YZ_MAX or params["batch"] > GRID_YZ_MAX:
            raise ValueError(f"heads_q and batch must be at most {GRID_YZ_MAX} (grid y/z limits)")
        try:
            tile_config(TC, params["head_dim"], params["tiles"])
        except InputError as exc:
            raise ValueError(f"tiles: {exc}") from None

    def supports(self, kernel: str, dtype: str, params=None) -> bool:
        """attention_fp32 has one tile shape per head dim: a sweep choosing `tiles` is attention_tc's.
        attention_decode takes the short-query forward cases only (decode_applies)."""
        if params is None:
            return super().supports(kernel, dtype)
        if kernel == DECODE:
            return super().supports(kernel, dtype) and decode_applies(params)
        if kernel == fa3.FA3:  # forward only, its own tile plan
            return super().supports(kernel, dtype) and params["pass"] == "forward" and params["tiles"] == AUTO
        return super().supports(kernel, dtype) and not (params["tiles"] != AUTO and kernel == FP32)

    def shape_label(self, params) -> str:
        heads = f"{params['heads_q']}/{_heads_kv(params)}"
        mask = "" if params["causal"] == "none" else f" {params['causal']}"
        tiles = "" if params["tiles"] == AUTO else f" tiles {params['tiles']}"
        grads = "" if params["pass"] == "forward" else f" {params['pass']}{' det' if _deterministic(params) else ''}"
        return (f"b{params['batch']} h{heads} s{params['seq_q']}x{params['seq_k']} d{params['head_dim']}{mask}{tiles}"
                f"{grads}")

    def make_inputs(self, params, dtype: str, seed: int, device) -> dict:
        gen = torch.Generator().manual_seed(seed)
        b, d = params["batch"], params["head_dim"]

        def randn(heads, seq):
            return torch.randn(b, heads, seq, d, generator=gen).to(device=device, dtype=getattr(torch, dtype))

        inputs = {"q": randn(params["heads_q"], params["seq_q"]), "k": randn(_heads_kv(params), params["seq_k"]),
                  "v": randn(_heads_kv(params), params["seq_k"])}
        if params["pass"] != "forward":
            inputs["grad_out"] = randn(params["heads_q"], params["seq_q"])
        return inputs

    def run(self, kernel: str, params, inputs: dict, backend) -> Launched:
        q = inputs["q"]
        out = torch.full(q.shape, float("nan"), dtype=q.dtype, device=q.device)
        if params["pass"] == "forward":
            if kernel == fa3.FA3:
                again = fa3.launcher(q, inputs["k"], inputs["v"], out, params["causal"], None, backend)
            elif kernel == DECODE:
                again = decode_launcher(q, inputs["k"], inputs["v"], out, params["causal"], None, backend)
            else:
                again = launcher(kernel, q, inputs["k"], inputs["v"], out, params["causal"], None, backend,
                                 params["tiles"])
            again()
            rows = checked_rows(params["seq_q"])
            return Launched(out, again, None if rows is None else lambda o: o[:, :, rows.to(o.device)])
        # Backward cases compare every row: each row of q feeds every key's dK and dV.
        lse = torch.empty(q.shape[:3], dtype=torch.float32, device=q.device)
        forward = launcher(kernel, q, inputs["k"], inputs["v"], out, params["causal"], None, backend, params["tiles"],
                           lse=lse)
        forward()
        grads = {grad_key(n): torch.full(inputs[n].shape, float("nan"), dtype=q.dtype, device=q.device) for n in "qkv"}
        backward = backward_launcher(q, inputs["k"], inputs["v"], out, lse, inputs["grad_out"], *grads.values(),
                                     params["causal"], None, backend, _deterministic(params))
        backward()
        if params["pass"] == "backward":
            return Launched(grads, backward)
        return Launched({OUTPUT: out} | grads, lambda: (forward(), backward()))

    def reference(self, kernel: str, params, inputs: dict, dtype: str):
        qkv, mode = {n: inputs[n] for n in "qkv"}, params["causal"]
        if params["pass"] == "forward":
            rows = checked_rows(params["seq_q"])
            ref64 = attention_reference(*qkv.values(), causal=mode, rows=rows)
            ref_lowp = None if dtype == "float32" else attention_reference(*qkv.values(), causal=mode, rows=rows,
                                                                           dtype=getattr(torch, dtype))
            return ref64, ref_lowp

        def grads_in(precision):
            return autograd_outputs(lambda q, k, v: attention_reference(q, k, v, causal=mode, dtype=precision),
                                    {n: t.to(precision) for n, t in qkv.items()}, inputs["grad_out"].to(precision),
                                    "qkv", with_output=params["pass"] == "both")

        return grads_in(torch.float64), None if dtype == "float32" else grads_in(getattr(torch, dtype))

    def flops(self, kernel: str, params) -> float:
        """The matmuls over the unmasked area; backward counts 2.5x the forward (FlashAttention's
        convention: five matmuls to the forward's two), both 3.5x."""
        pairs = visible_pairs(params["causal"], params["seq_q"], params["seq_k"])
        return PASS_FLOPS[params["pass"]] * 4.0 * params["batch"] * params["heads_q"] * params["head_dim"] * pairs

    def bytes_moved(self, kernel: str, params, dtype: str) -> float:
        """Forward: q, k, v read once and the output written once. Backward: q, o, dO, k, v read once
        and dq, dk, dv written once (the fp32 dQ accumulator and lse/delta not counted)."""
        per_row = params["batch"] * params["head_dim"] * getattr(torch, dtype).itemsize
        q_rows, kv_rows = params["heads_q"] * params["seq_q"], _heads_kv(params) * params["seq_k"]
        rows = {"forward": 2 * q_rows + 2 * kv_rows, "backward": 4 * q_rows + 4 * kv_rows}
        rows["both"] = rows["forward"] + rows["backward"]
        return per_row * rows[params["pass"]]

    def baseline(self, name: str, kernel: str, params, inputs: dict):
        """SDPA pinned to one backend; None when that backend cannot run these inputs here."""
        import torch.nn.functional as F
        from torch.nn.attention import SDPBackend, sdpa_kernel
        from torch.nn.attention.bias import causal_lower_right

        q, k, v = inputs["q"], inputs["k"], inputs["v"]
        kwargs = {"enable_gqa": True} if q.shape[1] != k.shape[1] else {}
        if params["causal"] == "top_left":
            kwargs["is_causal"] = True
        elif params["causal"] == "bottom_right":
            kwargs["attn_mask"] = causal_lower_right(q.shape[2], k.shape[2])
        sdpa_backend = getattr(SDPBackend, _SDPA_BACKENDS[name])

        def forward(*qkv):
            with sdpa_kernel(sdpa_backend):
                return F.scaled_dot_product_attention(*qkv, **kwargs)

        leaves = [t.detach().requires_grad_(params["pass"] != "forward") for t in (q, k, v)]
        try:
            saved = forward(*leaves)
            if params["pass"] == "forward":
                return lambda: forward(q, k, v)

            def call():  # SDPA's backward, given the saved forward (pass backward) or after a new one
                out = forward(*leaves) if params["pass"] == "both" else saved
                return torch.autograd.grad(out, leaves, inputs["grad_out"], retain_graph=True)

            call()
        except (RuntimeError, TypeError, NotImplementedError):  # "no available kernel", old torch
            return None
        return call

    def launched_instantiations(self, kernel: str, params, dtype: str) -> list[Instantiation]:
        if kernel == fa3.FA3:  # the one its tile plan picks (the family's others compile for other archs)
            return [fa3.instantiation(dtype, fa3.tile(params["head_dim"], params["causal"] != "none"))]
        return super().launched_instantiations(kernel, params, dtype)

    def instantiations(self) -> list[Instantiation]:
        out = []
        for kernel in KERNEL_DTYPES:
            for dtype in KERNEL_DTYPES[kernel]:
                for cfg, archs in all_configs(kernel):
                    out.append(Instantiation(
                        source=SOURCES[kernel], name_expression=name_expression(kernel, dtype, cfg),
                        threads_per_block=threads(cfg), dynamic_smem=shared_bytes(kernel, cfg),
                        tensor_core=kernel == TC, expect=("LDSM", "LDGSTS") if kernel == TC else (),
                        label=f"{dtype} d<={cfg.head_tile} {cfg.block_m}x{cfg.block_n} "
                              f"{cfg.warps}w{f' {cfg.stages}st' if kernel == TC else ''}", archs=archs))
        for dtype in DECODE_DTYPES:
            for cfg, archs in decode_configs():
                split_name, combine_name = decode_names(dtype, cfg)
                out.append(Instantiation(
                    source=SOURCES[DECODE], name_expression=split_name, threads_per_block=threads(cfg),
                    dynamic_smem=decode_shared_bytes(cfg), tensor_core=True, expect=("LDSM", "LDGSTS"),
                    label=f"{dtype} decode split d<={cfg.head_tile} {cfg.block_m}x{cfg.block_n} {cfg.warps}w "
                          f"{cfg.stages}st", archs=archs))
            out.append(Instantiation(source=SOURCES[DECODE], name_expression=combine_name,
                                     threads_per_block=32 * COMBINE_WARPS, label=f"{dtype} decode combine"))
        for part, dtype, cfg in backward_instances():
            tensor_core = BWD_PARTS[part][0] == BWD_TC
            out.append(Instantiation(
                source=SOURCES[BWD_PARTS[part][0]], name_expression=backward_name(part, dtype, cfg),
                threads_per_block=backward_threads(part, cfg), dynamic_smem=backward_shared_bytes(part, cfg),
                tensor_core=tensor_core, expect=("LDSM", "LDGSTS") if tensor_core else (),
                label=f"{dtype} backward {part}" + (f" d<={cfg.head_tile} {cfg.block_m}x{cfg.block_n}" if cfg else "")))
        return out + fa3.instantiations()


FAMILY = AttentionFamily()
