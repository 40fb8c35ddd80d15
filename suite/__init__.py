"""rawkernel-suite: validate and time hand-written CUDA kernels, on a GPU or on the CPU emulation."""

from pathlib import Path

__version__ = "0.1.0"

# The package is used from a checkout (pip install -e .): kernels and case files live beside it.
REPO_ROOT = Path(__file__).resolve().parent.parent
KERNELS_DIR = REPO_ROOT / "kernels_cu"
CASES_DIR = REPO_ROOT / "cases"
RESULTS_DIR = REPO_ROOT / "results"
