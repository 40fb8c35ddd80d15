"""The result schema, the environment fingerprint, and atomic save/load of result files.

A result file is written atomically under results/<device-slug>/ and never over another file: `save`
writes one once; a `ResultFile` claims a free name and then keeps replacing its own file while a sweep
runs, so a killed sweep leaves every finished case behind. `load` checks the schema and never modifies
the file.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from suite import REPO_ROOT, __version__
from suite.machine import cpu_model
from suite.errors import InputError

# Version 2 adds each case's `sources` and `family_origin`; version 1 files load with them empty.
SCHEMA = "rawkernel-suite/result/2"
READABLE_SCHEMAS = ("rawkernel-suite/result/1", SCHEMA)


@dataclass
class CaseResult:
    id: str
    family: str
    kernel: str
    dtype: str
    params: dict
    shape: str
    status: str  # "passed" | "failed" | "error"
    error: str = ""
    validation: dict | None = None  # Verdict.as_dict() of the first check
    revalidation: dict | None = None  # after timing
    timing: dict | None = None  # Stats.as_dict()
    metrics: dict = field(default_factory=dict)  # flops, bytes, tflops, gbps, pct_peak_*
    baselines: dict = field(default_factory=dict)  # name -> {"timing": ..., "speedup": ...} or {"skipped": why}
    ran_on: dict | None = None  # on a Ray cluster: node, node_id, kind, device and GPU ids of the worker
    sources: dict = field(default_factory=dict)  # kernel source (and quoted #include) -> sha256 hex (provenance.py)
    family_origin: dict | None = None  # {"name", "file" or "package", "version"}: the family's code
    traceback: str = ""  # of the exception that made the case an error (`suite run --traceback` prints it)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown"


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None




def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return None


def environment(backend) -> dict:
    """Where and with what a run happened: device (from the backend), host, versions, git state."""
    import torch

    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "backend": backend.name,
        "device": backend.describe(),
        "host": {"cpu": cpu_model(), "cores": os.cpu_count(), "platform": platform.platform()},
        "versions": {
            "suite": __version__,
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torchvision": _version("torchvision"),
            "cupy": _version("cupy-cuda13x") or _version("cupy-cuda12x") or _version("cupy"),
        },
        "git": {"commit": commit, "dirty": bool(status) if status is not None else None},
    }


def document(env: dict, results: list[CaseResult], complete: bool, command: str) -> dict:
    return {
        "schema": SCHEMA,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "complete": complete,
        "environment": env,
        "cases": [asdict(r) for r in results],
    }


def device_slug(env: dict) -> str:
    name = env["device"].get("name", "unknown")
    return slug(name if env["backend"] == "cupy" else f"host-{name}")


def default_path(env: dict, root: Path | None = None) -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    commit = (env.get("git", {}).get("commit") or "nogit")[:10]
    # results/ of the working directory: the suite's checkout for its own sweeps, a user's folder for theirs
    return (root or Path.cwd() / "results") / device_slug(env) / f"{stamp}-{commit}.json"


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put the old one straight back
    os.umask(mask)
    return mask


def _write_temporary(doc: dict, folder: Path, durable: bool = True) -> str:
    """`doc` as JSON in a new hidden file in `folder` (the same file system as the final name), with
    the mode any new file of the user gets (0644 under umask 022), not mkstemp's private 0600:
    results are meant to be shared and committed."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".partial-", suffix=".json")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1, allow_nan=True)
            f.write("\n")
            if durable:
                f.flush()
                os.fsync(f.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def save(doc: dict, path: Path) -> Path:
    """Write `doc` to `path` atomically and without ever replacing an existing file: the data goes to
    a temporary file in the same folder, then is hard-linked to the final name (which fails if the
    name exists; a numbered name is tried instead)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _write_temporary(doc, path.parent)
    try:
        for n in range(1000):
            target = path if n == 0 else path.with_name(f"{path.stem}-{n}{path.suffix}")
            try:
                os.link(tmp, target)
                return target
            except FileExistsError:
                continue
        raise InputError(f"cannot find a free file name next to {path}")
    finally:
        os.unlink(tmp)


class ResultFile:
    """The result file of a sweep in progress, up to date after every finished case.

    `write(results, complete)` puts the whole document (`env`, `command`, these results) in the file:
    the first call claims a free name next to `target` as `save` does, later calls replace that same
    file atomically (a temporary file renamed over it), so a reader, or a sweep killed at any moment,
    only ever sees a whole earlier or a whole later version. Updates skip fsync: a killed process's
    writes survive in the page cache, and the last write (`complete=True`, or the one after an
    interruption) is made durable."""

    def __init__(self, target: Path, env: dict, command: str):
        self.target, self.env, self.command = Path(target), env, command
        self.path: Path | None = None  # the claimed name, after the first write

    def write(self, results: list[CaseResult], complete: bool, final: bool = False) -> Path:
        doc = document(self.env, results, complete, self.command)
        if self.path is None:
            self.path = save(doc, self.target)
            return self.path
        tmp = _write_temporary(doc, self.path.parent, durable=final)
        try:
            os.replace(tmp, self.path)
        except BaseException:
            os.unlink(tmp)
            raise
        return self.path


def load(path: Path) -> dict:
    """Read a result file; InputError naming the file for a missing, corrupt or foreign one."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(f"{path}: no such result file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                         "the file is corrupt or truncated") from None
    if not isinstance(doc, dict) or "schema" not in doc:
        raise InputError(f"{path}: not a rawkernel-suite result file (no 'schema' field)")
    if doc["schema"] not in READABLE_SCHEMAS:
        raise InputError(f"{path}: schema {doc['schema']!r} is not one of the supported {', '.join(READABLE_SCHEMAS)}")
    for key in ("environment", "cases"):
        if key not in doc:
            raise InputError(f"{path}: result file lacks its {key!r} section")
    return doc


def case_results(path: Path, doc: dict) -> dict[str, CaseResult]:
    """The cases of a loaded result file by id; InputError naming the file for a malformed one."""
    out: dict[str, CaseResult] = {}
    if not isinstance(doc["cases"], list):
        raise InputError(f"{path}: 'cases' must be a list of case results")
    for i, raw in enumerate(doc["cases"]):
        try:
            case = CaseResult(**raw)
        except TypeError as exc:
            raise InputError(f"{path}: case {i} does not match the result schema ({exc})") from None
        if case.id in out:
            raise InputError(f"{path}: case id {case.id!r} appears twice; a result file holds each case once")
        out[case.id] = case
    return out
