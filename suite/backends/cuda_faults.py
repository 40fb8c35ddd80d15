"""Which CUDA errors leave a process's CUDA context unusable (CUDA calls them sticky).

After such an error every later CUDA call in the process fails, so a sweep must go on in a fresh
process. The error may surface anywhere: a launch, a synchronize, an event, any torch call (torch
raises RuntimeError/AcceleratorError with CUDA's message), a cuDNN baseline. It is recognised by
CUDA's words, as CuPy and torch both pass them on. No CuPy import here, so this is testable anywhere.
"""

from __future__ import annotations

# CUDA's enum names (CuPy's CUDARuntimeError/CUDADriverError) and its error strings (torch).
STICKY_MARKS = ("ILLEGAL_ADDRESS", "MISALIGNED_ADDRESS", "ILLEGAL_INSTRUCTION", "INVALID_PC", "HARDWARE_STACK_ERROR",
                "LAUNCH_FAILED", "ASSERT", "LAUNCH_TIMEOUT", "illegal memory access", "misaligned address",
                "illegal instruction", "unspecified launch failure", "device-side assert", "launch timed out")


def is_sticky(exc: BaseException) -> bool:
    """Whether `exc` reports a CUDA error after which the context is unusable."""
    return any(mark in str(exc) for mark in STICKY_MARKS)
