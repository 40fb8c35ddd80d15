"""A torch stream as the CUDA stream protocol (`__cuda_stream__`), which CuPy 14 takes in place of
its deprecated ExternalStream. No CuPy import here, so this is tested anywhere."""

from __future__ import annotations


class _StreamProtocol:
    """A torch stream through the CUDA stream protocol, for torch builds whose streams lack
    `__cuda_stream__` (torch 2.14's have it)."""

    def __init__(self, stream):
        self.stream = stream  # kept alive as long as CuPy's view of it

    def __cuda_stream__(self):
        return 0, self.stream.cuda_stream


def stream_protocol(torch_stream):
    """An object whose `__cuda_stream__()` is (0, the raw handle of `torch_stream`)."""
    return torch_stream if hasattr(torch_stream, "__cuda_stream__") else _StreamProtocol(torch_stream)
