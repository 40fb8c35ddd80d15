"""Profiling cases: each case's kernels run once on the counting backend, their launches summed,
and the speed-of-light bound predicted for the case's shape.

A case may be profiled on a smaller shape whose counts repeat exactly (`proxy`): attention's
blocks each own one query tile of one (batch, query head), so batch x KV-head groups scale every
count (and the unique bytes) by exactly their number. Other families are profiled as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from suite.cases import Case
from suite.errors import SuiteError
from suite.runner import where
from suite.kernels import get_family
from suite.profile.backend import ProfilingBackend
from suite.profile.speed_of_light import Bound, Gpu, bound
from suite.profile.summary import LaunchProfile


def proxy(case: Case) -> tuple[dict, int]:
    """(parameters to profile, how many times their counts repeat in the case's own shape)."""
    params = dict(case.params)
    if case.family != "attention":
        return params, 1
    heads_kv = params.get("heads_kv") or params["heads_q"]
    factor = params.get("batch", 1) * heads_kv
    params.update(batch=1, heads_q=params["heads_q"] // heads_kv, heads_kv=1)
    return params, factor


@dataclass
class CaseProfile:
    case: Case
    profiled_params: dict
    scale: int  # the case's counts are the profiled ones times this
    launches: list[LaunchProfile] = field(default_factory=list)
    flops: float = 0.0  # the family's models, for the case's own shape
    bytes_model: float = 0.0
    bound: Bound | None = None
    error: str | None = None

    def totals(self) -> dict:
        """Counts over all launches, times `scale`."""
        sums = {"mma": 0, "wavefronts": 0, "sfu": 0, "unique_bytes": 0}
        for launch in self.launches:
            sums["mma"] += launch.mma
            sums["wavefronts"] += launch.total(space="shared").wavefronts
            sums["sfu"] += launch.sfu
            sums["unique_bytes"] += launch.unique_bytes_loaded + launch.unique_bytes_stored
        return {k: v * self.scale for k, v in sums.items()}

    def as_dict(self) -> dict:
        return {
            "id": self.case.id, "family": self.case.family, "kernel": self.case.kernel, "dtype": self.case.dtype,
            "params": dict(self.case.params), "profiled_params": self.profiled_params, "scale": self.scale,
            "flops": self.flops, "bytes_model": self.bytes_model, "totals": self.totals(),
            "bound": self.bound.as_dict() if self.bound else None, "error": self.error,
            "launches": [launch.as_dict() for launch in self.launches],
        }


def profile_case(case: Case, backend: ProfilingBackend, gpu: Gpu) -> CaseProfile:
    family = get_family(case.family, case.family_file)
    params, scale = proxy(case)
    result = CaseProfile(case, params, scale)
    try:
        result.flops = float(family.flops(case.kernel, case.params))
        result.bytes_model = float(family.bytes_moved(case.kernel, case.params, case.dtype))
        inputs = family.make_inputs(params, case.dtype, case.seed, backend.device)
        backend.launches = []
        family.run(case.kernel, params, inputs, backend)
        result.launches = backend.launches
        t = result.totals()
        result.bound = bound(gpu, t["mma"], t["wavefronts"], t["sfu"], t["unique_bytes"], result.flops,
                             result.bytes_model)
    except SuiteError as exc:
        result.error = str(exc)
    except (RuntimeError, ValueError, TypeError, MemoryError) as exc:
        at = where(exc)
        result.error = f"{type(exc).__name__}: {exc}" + (f" (at {at})" if at else "")
    return result


def profile_cases(cases: Sequence[Case], gpu: Gpu, on_start: Callable | None = None,
                  on_done: Callable | None = None) -> list[CaseProfile]:
    backend = ProfilingBackend()
    out = []
    for i, case in enumerate(cases):
        if on_start:
            on_start(case, i, len(cases))
        out.append(profile_case(case, backend, gpu))
        if on_done:
            on_done(out[-1])
    return out
