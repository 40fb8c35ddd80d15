"""Measured GPU times of the profiled cases, from saved results (`suite run --save` on a GPU), to set
next to the predicted bounds: the median time of each case on the GPU the bounds are for."""

from __future__ import annotations

from suite.compare import load_runs
from suite.errors import InputError


def measured_seconds(paths, gpu_key: str) -> dict[str, float]:
    """{case id: median seconds} from the newest run in `paths` whose device name holds `gpu_key`
    (e.g. "H100"); GPU runs only."""
    runs = [r for r in load_runs([paths] if isinstance(paths, str) else paths)
            if not r.on_host and gpu_key.upper() in r.device.upper()]
    if not runs:
        raise InputError(f"--measured {paths}: no GPU run of a {gpu_key} there")
    newest = max(runs, key=lambda r: r.created)
    return {case_id: c.timing["median_s"] for case_id, c in newest.cases.items() if c.timing}
