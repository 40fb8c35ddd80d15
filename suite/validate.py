"""Error metrics and the pass rule (DESIGN.md, Validation).

float32: every element must satisfy |out - ref| <= atol + rtol * |ref|.
float16/bfloat16 (FlashAttention's rule): max|out - ref64| <= 2 * max|ref_lowp - ref64| + eps, where
ref_lowp is the same reference computed in the kernel's dtype: a kernel may be at most twice as far
from the exact answer as PyTorch's own arithmetic in that dtype.
NaN in the output never passes (outputs are poisoned with NaN, so this also catches unwritten elements).
A low-precision reference that overflows (+-inf where the float64 one is finite) gives no bound at
all: the case is an error (ValidationError), never a pass.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from suite.errors import ValidationError
from suite.kernels.family import Tolerance


@dataclass(frozen=True)
class Verdict:
    passed: bool
    rule: str  # "atol+rtol" or "2x lowp"
    max_abs_err: float  # max |out - ref64| over finite elements
    allowed: float  # the bound at the worst element (atol+rtol|ref|) or 2*lowp_err + eps
    lowp_err: float | None  # max |ref_lowp - ref64| (low-precision rule only)
    nan_count: int  # output elements that are NaN
    detail: str  # why it failed, in words; "" when passed

    def as_dict(self) -> dict:
        return asdict(self)


def _worst_index(flat_index: int, shape) -> tuple:
    return tuple(int(i) for i in torch.unravel_index(torch.tensor(flat_index), tuple(shape)))


def check(out: torch.Tensor, ref64: torch.Tensor, ref_lowp: torch.Tensor | None, tol: Tolerance) -> Verdict:
    """Judge `out` against the float64 reference; `ref_lowp` selects the low-precision rule."""
    rule = "atol+rtol" if ref_lowp is None else "2x lowp"
    if tuple(out.shape) != tuple(ref64.shape):
        return Verdict(False, rule, float("inf"), 0.0, None, 0,
                       f"output shape {tuple(out.shape)} differs from the reference's {tuple(ref64.shape)}")
    out64 = out.detach().to("cpu", torch.float64)
    ref64 = ref64.detach().to("cpu", torch.float64)
    nan_count = int(torch.isnan(out64).sum())
    err = (out64 - ref64).abs()
    # Matching infinities (same sign) are exact; inf - inf would otherwise read as NaN. NaNs are
    # counted apart, so they are left out of the error figures.
    err = torch.where(out64 == ref64, torch.zeros_like(err), err).nan_to_num(nan=0.0)
    max_err = float(err.max()) if err.numel() else 0.0

    if ref_lowp is None:
        bound = tol.atol + tol.rtol * ref64.abs()
        over = err > bound
        ratio = err / bound.clamp_min(torch.finfo(torch.float64).tiny)
        worst = int(ratio.argmax()) if err.numel() else 0
        allowed = float(bound.flatten()[worst]) if err.numel() else tol.atol
        n_over = int(over.sum())
        passed = n_over == 0 and nan_count == 0
        detail = ""
        if not passed:
            parts = []
            if nan_count:
                parts.append(f"{nan_count} of {out.numel()} elements are NaN (unwritten or invalid)")
            if n_over:
                idx = _worst_index(worst, out.shape)
                parts.append(f"{n_over} of {out.numel()} elements exceed atol={tol.atol:g} + rtol={tol.rtol:g}*|ref|; "
                             f"worst at {idx}: got {float(out64.flatten()[worst]):.6g}, "
                             f"expected {float(ref64.flatten()[worst]):.6g}")
            detail = "; ".join(parts)
        return Verdict(passed, rule, max_err, allowed, None, nan_count, detail)

    lowp = ref_lowp.detach().to("cpu", torch.float64)
    overflow = torch.isinf(lowp) & torch.isfinite(ref64)
    if overflow.any():
        worst = int(overflow.flatten().nonzero()[0])
        raise ValidationError(
            f"the reference in the kernel's dtype overflows in {int(overflow.sum())} of {out.numel()} elements (first at "
            f"{_worst_index(worst, out.shape)}: {float(lowp.flatten()[worst])} where the float64 reference is "
            f"{float(ref64.flatten()[worst]):.6g}), so the low-precision rule gives no bound: choose inputs whose "
            "results fit the dtype")
    lowp_diff = (lowp - ref64).abs()
    lowp_diff = torch.where(lowp == ref64, torch.zeros_like(lowp_diff), lowp_diff)
    lowp_err = float(lowp_diff.nan_to_num(nan=0.0).max()) if lowp_diff.numel() else 0.0
    allowed = 2.0 * lowp_err + tol.eps
    passed = nan_count == 0 and max_err <= allowed
    detail = ""
    if not passed:
        parts = []
        if nan_count:
            parts.append(f"{nan_count} of {out.numel()} elements are NaN (unwritten or invalid)")
        if max_err > allowed:
            worst = int(err.argmax())
            parts.append(f"max error {max_err:.3g} exceeds 2 x {lowp_err:.3g} (the reference in the kernel's dtype) "
                         f"+ eps {tol.eps:g} at {_worst_index(worst, out.shape)}: got "
                         f"{float(out64.flatten()[worst]):.6g}, expected {float(ref64.flatten()[worst]):.6g}")
        detail = "; ".join(parts)
    return Verdict(passed, rule, max_err, allowed, lowp_err, nan_count, detail)


@dataclass(frozen=True)
class Verdicts:
    """The verdicts of a case with several outputs (a backward pass: one per gradient). It passes when
    every output passes; its figures are those of the worst output, named by `worst`."""

    by_output: dict  # output name -> Verdict
    worst: str

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.by_output.values())

    @property
    def detail(self) -> str:
        return "; ".join(f"{name}: {v.detail}" for name, v in self.by_output.items() if not v.passed)

    def as_dict(self) -> dict:
        """The worst output's Verdict fields (the schema of a single-output case), plus `worst_output`
        and every output's own figures under `outputs`."""
        return (self.by_output[self.worst].as_dict() | {"detail": self.detail, "worst_output": self.worst,
                                                       "outputs": {k: v.as_dict() for k, v in self.by_output.items()}})


def _badness(verdict: Verdict) -> tuple:
    """Sort key: failing before passing, then the error as a share of what was allowed."""
    share = verdict.max_abs_err / verdict.allowed if verdict.allowed > 0 else (math.inf if verdict.max_abs_err else 0.0)
    return (not verdict.passed, verdict.nan_count > 0, share)


def check_outputs(out, ref64, ref_lowp, tol: Tolerance) -> Verdict | Verdicts:
    """`check` for a single tensor; for a dict of outputs (a backward pass) each one against the
    reference dicts' entry of the same name. An output missing from the kernel's dict fails."""
    if not isinstance(out, dict):
        return check(out, ref64, ref_lowp, tol)
    verdicts = {}
    for name, ref in ref64.items():
        if name not in out:
            verdicts[name] = Verdict(False, "missing", math.inf, 0.0, None, 0, "the kernel gave no such output")
            continue
        verdicts[name] = check(out[name], ref, None if ref_lowp is None else ref_lowp[name], tol)
    return Verdicts(verdicts, max(verdicts, key=lambda k: _badness(verdicts[k])))
