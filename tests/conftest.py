"""pytest-xdist workers (the README's `pytest -n auto`) see the environment a run alone sees."""

import os

import pytest

_TERMINAL_SIZE = ("COLUMNS", "LINES")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    # The controller's Python environment, as the run started: GNU readline (imported with pytest)
    # puts COLUMNS=80 and LINES=24 into the process environment that the workers inherit, where the
    # CLI would fold its output at 80 columns instead of printing 180 wide to a pipe.
    node.workerinput["terminal_size"] = {name: os.environ.get(name) for name in _TERMINAL_SIZE}


def pytest_configure(config):
    for name, value in getattr(config, "workerinput", {}).get("terminal_size", {}).items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
