"""Reference scaled-dot-product attention: plain matmul + softmax, with GQA and both causal alignments.

Causal modes (the canonical names used throughout the suite):
- "none": every query sees every key;
- "top_left": query i sees keys j <= i (SDPA's is_causal=True);
- "bottom_right": query i sees keys j <= i + Sk - Sq (FlashAttention); a row that sees no key gives 0.
"""

from __future__ import annotations

import math

import torch

CAUSAL_MODES = ("none", "top_left", "bottom_right")

# Query rows per chunk are chosen so one chunk's score matrix stays near this many elements.
_SCORES_PER_CHUNK = 1 << 25


def causal_mode(causal) -> str:
    """The canonical mode for an op's `causal` argument: False/None, True, or one of CAUSAL_MODES."""
    if causal is None or causal is False:
        return "none"
    if causal is True:
        return "top_left"
    if isinstance(causal, str) and causal in CAUSAL_MODES:
        return causal
    raise ValueError(f"causal must be False, True or one of {', '.join(CAUSAL_MODES)}; got {causal!r}")


def causal_offset(mode: str, seq_q: int, seq_k: int) -> int:
    """Query i sees keys j <= i + offset (meaningful for the two causal modes only)."""
    return seq_k - seq_q if mode == "bottom_right" else 0


def visible_keys(mode: str, seq_q: int, seq_k: int, rows: slice | torch.Tensor | None = None, device=None) -> torch.Tensor:
    """Boolean [rows, Sk] mask of the keys each query row (a slice or an index tensor; all by default)
    may attend to."""
    rows = rows if rows is not None else slice(0, seq_q)
    i = rows if isinstance(rows, torch.Tensor) else torch.arange(rows.start, rows.stop)
    i = i.to(device).unsqueeze(1)
    j = torch.arange(seq_k, device=device).unsqueeze(0)
    if mode == "none":
        return torch.ones(i.shape[0], seq_k, dtype=torch.bool, device=device)
    return j <= i + causal_offset(mode, seq_q, seq_k)


def visible_pairs(mode: str, seq_q: int, seq_k: int) -> int:
    """How many (query, key) pairs are unmasked: the exact area a FLOP count should use."""
    if mode == "none":
        return seq_q * seq_k
    per_row = torch.arange(seq_q, dtype=torch.int64) + causal_offset(mode, seq_q, seq_k) + 1
    return int(per_row.clamp(0, seq_k).sum())


def attention_reference(q, k, v, *, causal="none", scale=None, dtype=torch.float64, rows=None) -> torch.Tensor:
    """Attention computed in `dtype` (float64 for the exact reference, the kernel's dtype for the
    low-precision one; softmax itself runs in at least float32). Returns a [B, Hq, Sq, D] tensor of
    `dtype`; with `rows` (an index tensor of query rows), only those rows: [B, Hq, len(rows), D]."""
    mode = causal_mode(causal)
    batch, heads_q, seq_q, head_dim = q.shape
    heads_kv, seq_k = k.shape[1], k.shape[2]
    scale = 1.0 / math.sqrt(head_dim) if scale is None else scale
    group = heads_q // heads_kv
    k = k.to(dtype).repeat_interleave(group, dim=1)
    v = v.to(dtype).repeat_interleave(group, dim=1)
    q = (q if rows is None else q[:, :, rows.to(q.device)]).to(dtype)  # gather only when asked: a copy of q
    rows = torch.arange(seq_q) if rows is None else rows.cpu()
    softmax_dtype = torch.promote_types(dtype, torch.float32)

    out = torch.empty(batch, heads_q, len(rows), head_dim, dtype=dtype, device=q.device)
    chunk = max(1, _SCORES_PER_CHUNK // max(1, batch * heads_q * seq_k))
    for start in range(0, len(rows), chunk):
        part = slice(start, min(len(rows), start + chunk))
        scores = (q[:, :, part] @ k.transpose(-1, -2)).to(softmax_dtype) * scale
        mask = visible_keys(mode, seq_q, seq_k, rows[part], device=q.device)
        probs = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        probs = probs.masked_fill(~mask.any(dim=-1, keepdim=True), 0.0)  # a row that sees nothing gives 0
        out[:, :, part] = probs.to(dtype) @ v
    return out

