"""Registry of kernel families. Each family module defines one `Family` subclass instance."""

from __future__ import annotations

import importlib

from suite.kernels.family import Family

# family name -> module defining FAMILY; imported on first use (torch is heavy).
_MODULES = {
    "attention": "suite.kernels.attention",
    "deform": "suite.kernels.deform",
    "modules": "suite.kernels.modules",
}


def family_names() -> list[str]:
    return sorted(_MODULES)


def get_family(name: str) -> Family:
    """The family called `name`; KeyError when there is none (callers turn it into a user message)."""
    return importlib.import_module(_MODULES[name]).FAMILY


def all_families() -> list[Family]:
    return [get_family(n) for n in family_names()]
