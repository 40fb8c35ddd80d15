"""Tests marked `gpu` run only where CuPy can use a CUDA GPU; elsewhere they skip with the reason
(so a plain `pytest` stays green on machines without one)."""

import pytest


def pytest_collection_modifyitems(config, items):
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    from suite.backends import gpu_unusable_reason

    reason = gpu_unusable_reason()
    if reason:
        skip = pytest.mark.skip(reason=f"needs a CUDA GPU: {reason}")
        for item in gpu_items:
            item.add_marker(skip)
