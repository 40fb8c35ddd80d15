"""rawkernel-suite: validate and time hand-written CUDA kernels, on a GPU or on the CPU emulation."""

import os
from pathlib import Path

# torch's OpenMP threads otherwise spin for a while after each parallel region, on the cores the
# host backend's workers need: `suite run` on the CPU emulation took 2.5x the wall time (README,
# "Host backend speed"). Read when torch loads libgomp, so it must be set before torch is imported;
# a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

# The package is used from a checkout (pip install -e .): kernels and case files live beside it.
REPO_ROOT = Path(__file__).resolve().parent.parent
KERNELS_DIR = REPO_ROOT / "kernels_cu"
CASES_DIR = REPO_ROOT / "cases"
RESULTS_DIR = REPO_ROOT / "results"
