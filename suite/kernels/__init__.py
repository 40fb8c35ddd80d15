"""Registry of kernel families: the suite's own, and those other packages register as plugins.

A family module defines one `Family` subclass instance named FAMILY. Another package adds its own
family (its kernels, case parameters, references) without touching the suite by declaring an entry
point in the group ENTRY_POINT_GROUP, named after the family and pointing at its module:

    [project.entry-points."rawkernel_suite.families"]
    saxpy = "mypackage.saxpy_family"

Its case files then say `family: saxpy` and run, list, check and compare like the suite's own.
"""

from __future__ import annotations

import functools
import importlib
from importlib.metadata import entry_points

from suite.errors import InputError
from suite.kernels.family import Family

ENTRY_POINT_GROUP = "rawkernel_suite.families"

# family name -> module defining FAMILY; imported on first use (torch is heavy).
_BUILTIN = {
    "attention": "suite.kernels.attention",
    "deform": "suite.kernels.deform",
    "modules": "suite.kernels.modules",
}


@functools.lru_cache(maxsize=None)
def _modules() -> dict[str, str]:
    found = dict(_BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _BUILTIN:
            raise InputError(f"the installed package {ep.dist.name if ep.dist else '?'} registers a kernel family "
                             f"named {ep.name!r} ({ep.value}), which is a family of the suite itself; rename it")
        found[ep.name] = ep.value
    return found


def family_names() -> list[str]:
    return sorted(_modules())


@functools.lru_cache(maxsize=None)
def get_family(name: str) -> Family:
    """The family called `name`; KeyError when there is none (callers turn it into a user message)."""
    module_name = _modules()[name]
    try:
        family = importlib.import_module(module_name).FAMILY
    except Exception as exc:  # a plugin's own bug must not read as the suite's
        if name in _BUILTIN:
            raise
        raise InputError(f"kernel family {name!r}: its module {module_name} (entry point group "
                         f"{ENTRY_POINT_GROUP}) could not be loaded: {type(exc).__name__}: {exc}") from None
    if not isinstance(family, Family) or family.name != name:
        raise InputError(f"kernel family {name!r}: {module_name}.FAMILY must be a suite.kernels.family.Family "
                         f"whose name is {name!r}")
    return family


def all_families() -> list[Family]:
    return [get_family(n) for n in family_names()]
