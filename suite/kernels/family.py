"""What every kernel family tells the rest of the suite.

A family (deformable convolution, attention, ...) declares its case parameters, its kernels and
baselines, and knows how to make inputs, launch, compute the reference, and count FLOPs and bytes.
`cases.py` reads only the declarations; `runner.py` calls the methods; `check.py` compiles
`instantiations()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

REQUIRED = object()  # marker: a parameter without a default must be given by the case file

DTYPES = ("float32", "float16", "bfloat16")


@dataclass(frozen=True)
class Param:
    """One case parameter. `kind` is 'int', 'pair' (int or [int, int]), 'bool', 'float' or 'str'."""

    kind: str
    default: Any = REQUIRED
    minimum: int | float | None = None
    choices: tuple | None = None
    help: str = ""


# The pass a case times and validates. forward: the op's output (one tensor, as always). backward:
# its gradients, given a forward run once beforehand (`again` relaunches the backward kernels only).
# both: forward then backward, timed together. Backward and both cases output a dict
# {OUTPUT: forward output (both only), grad_key(name): gradient of each differentiable input}, and
# their references are dicts with the same keys (validate.check_outputs judges each key).
PASSES = ("forward", "backward", "both")
OUTPUT = "out"


def pass_param(help: str = "") -> "Param":
    """The `pass` parameter a family with backward kernels declares (params["pass"])."""
    return Param("str", "forward", choices=PASSES,
                 help=help or "forward | backward (gradients, given a saved forward) | both (forward + backward)")


def grad_key(name: str) -> str:
    return f"grad_{name}"


def autograd_outputs(fn: Callable[..., Any], tensors: Mapping[str, Any], grad_output, differentiable: Sequence[str],
                     with_output: bool) -> dict:
    """The reference of a backward/both case: {OUTPUT: fn(**tensors)} when `with_output`, and
    grad_key(name) for each name of `differentiable` whose tensor is not None: its gradient under
    `grad_output`, by autograd of `fn` in the tensors' own dtype."""
    leaves = {k: None if v is None else v.detach().requires_grad_(k in differentiable) for k, v in tensors.items()}
    wanted = [k for k in differentiable if leaves.get(k) is not None]
    import torch  # here: family.py is read by cases.py, which must not need torch

    with torch.enable_grad():
        out = fn(**leaves)
        grads = torch.autograd.grad(out, [leaves[k] for k in wanted], grad_output, allow_unused=True,
                                    materialize_grads=True)
    result = {OUTPUT: out.detach()} if with_output else {}
    return result | {grad_key(k): g for k, g in zip(wanted, grads)}


@dataclass(frozen=True)
class Tolerance:
    """fp32 rule: |out-ref| <= atol + rtol*|ref|. fp16/bf16 rule: max|out-ref64| <= 2*max|ref_lowp-ref64| + eps."""

    atol: float = 0.0
    rtol: float = 0.0
    eps: float = 0.0


@dataclass(frozen=True)
class Instantiation:
    """One compiled kernel as a backend loads it: what `suite check` compiles and judges."""

    source: Path  # the .cu file
    name_expression: str  # e.g. "deform_im2col<float, int>"
    options: tuple[str, ...] = ()
    threads_per_block: int = 256
    dynamic_smem: int = 0
    tensor_core: bool = False  # must show HMMA in SASS
    expect: tuple[str, ...] = ()  # SASS instruction classes that must appear (e.g. "LDSM")
    label: str = ""  # human label: dtype / tile configuration
    archs: tuple[str, ...] | None = None  # the architectures it is meant for (`suite check` judges it
    #                                       on those only); None: all. E.g. a tile shape that needs
    #                                       Hopper's shared memory, or spills on older ptxas targets.
    min_blocks_per_sm: int = 0  # the occupancy a launch rule or performance model counts on (blocks
    #                             resident per SM); `suite check` fails the kernel below it. 0: none.


@dataclass
class Launched:
    """What a family's `run` returns: the output to validate and a zero-argument callable that
    launches again into the same output (used by timing; no allocation inside). The output is a
    tensor, or for backward/both cases a dict of tensors (see PASSES). `select`, for cases
    whose references cover only part of the output (large ones, where a float64 reference of all of
    it would cost more than the timing), takes that part out of the output; None: all of it."""

    output: Any
    again: Callable[[], Any]
    select: Callable[[Any], Any] | None = None

    def compared(self):
        """The part of the output that the family's references cover."""
        return self.output if self.select is None else self.select(self.output)


class Family:
    """Base of the family specs in suite/kernels/. Subclasses fill the class attributes and methods."""

    name: str = ""
    description: str = ""
    kernels: Mapping[str, str] = {}  # kernel name -> one-line description
    # Kernels a case file runs only when it names them (they need an architecture not every device
    # has, such as sm_90a): a file without `kernels:` runs the others.
    opt_in_kernels: frozenset = frozenset()
    baselines: Mapping[str, str] = {}  # baseline name -> one-line description
    params: Mapping[str, Param] = {}
    dtypes: tuple[str, ...] = DTYPES
    tolerances: Mapping[str, Tolerance] = {}  # by dtype
    kernel_dtypes: Mapping[str, tuple[str, ...]] = {}  # kernel -> dtypes it supports (absent: all)

    def supports(self, kernel: str, dtype: str, params: Mapping[str, Any] | None = None) -> bool:
        """Whether `kernel` runs `dtype` (and, when given, these parameters); case files skip the rest."""
        return dtype in self.kernel_dtypes.get(kernel, self.dtypes)

    def check_params(self, params: Mapping[str, Any]) -> None:
        """Raise ValueError naming the parameter when a combination is invalid."""

    def shape_label(self, params: Mapping[str, Any]) -> str:
        """A short human label of the problem shape for tables."""
        raise NotImplementedError

    def make_inputs(self, params, dtype: str, seed: int, device) -> dict:
        raise NotImplementedError

    def run(self, kernel: str, params, inputs: dict, backend) -> Launched:
        """Launch `kernel` on `backend` with a NaN-poisoned output; return it and a relaunch callable.
        For a backward/both case (params["pass"]) the output is a dict (see PASSES)."""
        raise NotImplementedError

    def reference(self, kernel: str, params, inputs: dict, dtype: str):
        """(ref64, ref_lowp): the reference in float64 and in the kernel's dtype (None for fp32); for a
        backward/both case, dicts with run's keys (autograd_outputs of the references)."""
        raise NotImplementedError

    def flops(self, kernel: str, params) -> float:
        return 0.0

    def bytes_moved(self, kernel: str, params, dtype: str) -> float:
        return 0.0

    def baseline(self, name: str, kernel: str, params, inputs: dict) -> Callable[[], Any] | None:
        """A zero-argument callable running the baseline, or None when it does not apply here."""
        return None

    def instantiations(self) -> list[Instantiation]:
        return []

    def launched_instantiations(self, kernel: str, params, dtype: str) -> list[Instantiation]:
        """The instantiations a case of `kernel` in `dtype` with `params` launches: what `suite check`
        compiles for a case file's scope. Default: all of the family's (override to narrow it)."""
        return self.instantiations()
