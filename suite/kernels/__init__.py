"""Registry of kernel families: the suite's own, and those other packages register as plugins.

A family module defines one `Family` subclass instance named FAMILY. Another package adds its own
family (its kernels, case parameters, references) without touching the suite by declaring an entry
point in the group ENTRY_POINT_GROUP, named after the family and pointing at its module:

    [project.entry-points."rawkernel_suite.families"]
    saxpy = "mypackage.saxpy_family"

Its case files then say `family: saxpy` and run, list, check and compare like the suite's own.

Without a package: a case file's family may also live in a Python file (see `load_family_file`;
which file a case file means is decided in suite/cases.py).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import sys
import traceback
from importlib.metadata import entry_points
from pathlib import Path

from suite import __version__
from suite.errors import InputError
from suite.paths import display_path
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


def get_family(name: str, file: Path | None = None) -> Family:
    """The family called `name`, defined in `file` when given (a case's `family_file`), else a
    built-in or installed one; KeyError when there is none (callers turn it into a user message)."""
    return load_family_file(Path(file).resolve(), name) if file is not None else _installed_family(name)


@functools.lru_cache(maxsize=None)
def _installed_family(name: str) -> Family:
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


def _user_frame(exc: BaseException, file: Path) -> str:
    """' (line N)' of the innermost frame of `exc` in `file`, so a user sees where in their file it broke."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == file]
    if isinstance(exc, SyntaxError) and exc.lineno and Path(exc.filename or "").resolve() == file:
        return f" (line {exc.lineno})"
    return f" (line {frames[-1].lineno})" if frames else ""


@functools.lru_cache(maxsize=None)
def load_family_file(file: Path, name: str) -> Family:
    """The FAMILY defined by the Python file `file`, which must be called `name`. The file is imported
    as a module of its own (named after its path, so two folders may each have a softmax_family.py),
    with nothing installed: a user's family needs no package. InputError naming the file otherwise."""
    file = Path(file).resolve()
    if not file.is_file():
        raise InputError(f"family file {display_path(file)} does not exist")
    module_name = f"rawkernel_suite_user_{hashlib.sha256(str(file).encode()).hexdigest()[:12]}_{file.stem}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look classes up there
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise InputError(f"family file {display_path(file)}{_user_frame(exc, file)} could not be loaded: "
                         f"{type(exc).__name__}: {exc}") from None
    family = getattr(module, "FAMILY", None)
    if not isinstance(family, Family):
        raise InputError(f"family file {display_path(file)} must define FAMILY = an instance of a "
                         f"suite.kernels.family.Family subclass; found {type(family).__name__}")
    if family.name != name:
        raise InputError(f"family file {display_path(file)}: FAMILY.name is {family.name!r}, but the case file names "
                         f"family {name!r}; make them the same")
    return family


@functools.lru_cache(maxsize=None)
def family_origin(name: str, file: Path | None = None) -> dict:
    """Where a family's code came from, as result files record it: the file and a hash of its text,
    the installed package and its version, or the suite itself. Once per process, as the code is
    imported once."""
    if file is not None:
        path = Path(file).resolve()
        return {"name": name, "file": display_path(path), "version": "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()}
    if name in _BUILTIN:
        return {"name": name, "package": "rawkernel-suite", "version": __version__}
    for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
        return {"name": name, "package": ep.dist.name if ep.dist else ep.value,
                "version": ep.dist.version if ep.dist else None}
    return {"name": name}
