"""What every kernel family tells the rest of the suite.

A family (deformable convolution, attention, ...) declares its case parameters, its kernels and
baselines, and knows how to make inputs, launch, compute the reference, and count FLOPs and bytes.
`cases.py` reads only the declarations; `runner.py` calls the methods; `check.py` compiles
`instantiations()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

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


@dataclass
class Launched:
    """What a family's `run` returns: the output to validate and a zero-argument callable that
    launches again into the same output (used by timing; no allocation inside). `select`, for cases
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
        """Launch `kernel` on `backend` with a NaN-poisoned output; return it and a relaunch callable."""
        raise NotImplementedError

    def reference(self, kernel: str, params, inputs: dict, dtype: str):
        """(ref64, ref_lowp): the reference in float64 and in the kernel's dtype (None for fp32)."""
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
