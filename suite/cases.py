"""Case files (cases/*.yaml) -> validated, expanded `Case` objects, and the `-k` filter.

The format is the contract in the case-file spec: a family, optional kernel/baseline/dtype/tolerance
defaults, and named sweeps whose `params`, `sweep` (crossed) and `zip` (advanced together) give the
family's parameters. Every problem in a file is one CaseFileError naming the file, the key path
(e.g. `sweeps[2].sweep.stride[1]`) and the line. A case file is data: it is read with PyYAML's safe
loader and any tag beyond plain data is an error.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

import yaml

from suite import CASES_DIR
from suite import kernels as registry
from suite.errors import CaseFileError, InputError
from suite.kernels.family import REQUIRED, Family, Param, Tolerance
from suite.paths import display_path

TIERS = ("smoke", "full")
_TOP_KEYS = ("family", "family_file", "kernels", "baselines", "dtypes", "tolerances", "seed", "sweeps")
_SWEEP_KEYS = ("name", "tier", "params", "sweep", "zip", "dtypes", "kernels")
_TOLERANCE_FIELDS = tuple(f.name for f in dataclasses.fields(Tolerance))
_SWEEP_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_SEQ_TAG, _MAP_TAG = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
# Aliases are shared nodes: cap what expanding them may cost (a file is data, not a memory bomb).
_MAX_VALUES, _MAX_DEPTH = 100_000, 32


@dataclass(frozen=True)
class Case:
    """One kernel launch configuration to validate and time."""

    id: str  # "{family}/{sweep}[{swept axes}]/{dtype}/{kernel}"
    family: str
    kernel: str
    dtype: str
    params: Mapping[str, Any] = field(hash=False)  # read-only; every family param filled
    tier: tuple[str, ...]  # the tiers of its sweep, in TIERS order
    sweep: str
    file: Path
    seed: int  # deterministic: the same case always gets the same data
    tolerance: Tolerance
    baselines: tuple[str, ...]
    family_file: Path | None = None  # the Python file defining the family; None: built-in or installed

    def __reduce__(self):
        # A mappingproxy does not pickle, and a sweep may go on in a fresh process (suite.fresh_process).
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return _unpickle_case, (values | {"params": dict(self.params)},)


def _unpickle_case(values: dict) -> Case:
    return Case(**values | {"params": MappingProxyType(values["params"])})


def default_case_files() -> list[Path]:
    """Every case file shipped with the suite, sorted."""
    return sorted(CASES_DIR.rglob("*.yaml"))


_NAMES_A_FAMILY = re.compile(r"^family\s*:", re.MULTILINE)


def user_case_files(folder: Path) -> list[Path]:
    """A user's case files in `folder`: those of its cases/ folder when it has one, else its own
    *.yaml files whose top level names a family (so a CI config beside them is not taken for one)."""
    folder = Path(folder)
    if (folder / "cases").is_dir():
        return sorted((folder / "cases").rglob("*.yaml"))
    return sorted(p for p in folder.glob("*.yaml") if _names_a_family(p))


def _names_a_family(path: Path) -> bool:
    try:
        return bool(_NAMES_A_FAMILY.search(path.read_text(errors="replace")))
    except OSError:
        return True  # taken, so that loading it says what is wrong with it


def case_files_for(folder: Path) -> list[Path]:
    """What a command given no case file works on, run in `folder`: the case files there
    (`user_case_files`; in the suite's checkout, that is the suite's cases/), else the suite's own."""
    return user_case_files(folder) or default_case_files()


def load_cases(paths: Sequence[Path], tier: str = "smoke") -> list[Case]:
    """The cases of `paths` (in file order) that belong to `tier`. Every file is fully validated,
    whatever the tier, so a broken `full` sweep is caught by a smoke run too."""
    if tier not in TIERS:
        raise InputError(f"unknown tier '{tier}'; expected one of: {', '.join(TIERS)}")
    by_id: dict[str, Case] = {}
    for path in paths:
        for case in _load_file(Path(path)):
            other = by_id.setdefault(case.id, case)
            if other is not case:
                raise CaseFileError(
                    case.file, "", f"case id '{case.id}' (sweep '{case.sweep}') is also defined in "
                    f"{other.file} (sweep '{other.sweep}'); rename one of the sweeps")
    return [case for case in by_id.values() if tier in case.tier]


# --- YAML with positions -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Node:
    """A plain YAML value (dict[str, _Node], list[_Node] or scalar) and where it was written."""

    value: Any
    file: Path
    path: str
    line: int | None

    def error(self, message: str) -> CaseFileError:
        return CaseFileError(self.file, self.path, message, self.line)


def _read_yaml(file: Path) -> _Node:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"case file {file} does not exist; give an existing .yaml file") from None
    except UnicodeDecodeError as e:
        raise CaseFileError(file, "", f"not UTF-8 text (byte {e.start}: {e.reason})") from None
    except OSError as e:
        raise InputError(f"cannot read case file {file}: {e.strerror}") from None
    try:
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                raise CaseFileError(file, "", "the file is empty; expected a mapping with 'family' and "
                                    "'sweeps'", 1)
            return _Converter(loader, file).convert(root, "", root.start_mark.line + 1, 0)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        column = f" (column {mark.column + 1})" if mark else ""
        problem = " ".join(part for part in (e.context, e.problem) if part)
        raise CaseFileError(file, "", f"invalid YAML{column}: {problem}",
                            mark.line + 1 if mark else None) from None
    except yaml.YAMLError as e:  # reader errors (control characters) carry no mark
        raise CaseFileError(file, "", f"invalid YAML: {e}") from None


class _Converter:
    """Turns the composed node tree into `_Node`s, keeping each value's key path and line."""

    def __init__(self, loader: yaml.SafeLoader, file: Path):
        self.loader, self.file, self.count = loader, file, 0

    def convert(self, node: yaml.Node, path: str, line: int, depth: int) -> _Node:
        here = _Node(None, self.file, path, line)
        self.count += 1
        if self.count > _MAX_VALUES or depth > _MAX_DEPTH:
            raise here.error(f"more than {_MAX_VALUES} values or {_MAX_DEPTH} levels (after expanding "
                             "aliases); a case file should be small")
        if isinstance(node, yaml.ScalarNode):
            try:
                return dataclasses.replace(here, value=self.loader.construct_object(node))
            except yaml.constructor.ConstructorError:
                raise here.error(f"YAML tag '{node.tag}' is not allowed: case files hold plain data") from None
        if node.tag == _SEQ_TAG:
            return dataclasses.replace(here, value=[
                self.convert(item, f"{path}[{i}]", item.start_mark.line + 1, depth + 1)
                for i, item in enumerate(node.value)])
        if node.tag == _MAP_TAG:
            return dataclasses.replace(here, value=self._mapping(node, path, depth))
        raise here.error(f"YAML tag '{node.tag}' is not allowed: case files hold plain data")

    def _mapping(self, node: yaml.MappingNode, path: str, depth: int) -> dict[str, _Node]:
        out: dict[str, _Node] = {}
        for key_node, value_node in node.value:
            key = self.convert(key_node, path, key_node.start_mark.line + 1, depth + 1)
            if not isinstance(key.value, str):
                raise key.error(f"keys must be names; found {_describe(key.value)}")
            if key.value in out:
                raise key.error(f"key '{key.value}' is given twice (first at line {out[key.value].line})")
            out[key.value] = self.convert(value_node, f"{path}.{key.value}" if path else key.value,
                                          key.line, depth + 1)
        return out


# --- typed readers -------------------------------------------------------------------------------


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    names = {dict: "a mapping", list: "a list", str: "string", int: "integer", float: "number"}
    name = names.get(type(value), type(value).__name__)
    return name if isinstance(value, (dict, list)) else f"{name} {value!r}"


def _unknown(node: _Node, what: str, name: Any, valid: Sequence[str]) -> CaseFileError:
    close = difflib.get_close_matches(str(name), valid, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return node.error(f"unknown {what} {name!r}{hint}; expected one of: {', '.join(valid) or '(none)'}")


def _mapping(node: _Node, allowed: Sequence[str], what: str, required: Sequence[str] = ()) -> dict[str, _Node]:
    if not isinstance(node.value, dict):
        raise node.error(f"expected a mapping of {what}s; found {_describe(node.value)}")
    for key, child in node.value.items():
        if key not in allowed:
            raise _unknown(child, what, key, allowed)
    for key in required:
        if key not in node.value:
            raise node.error(f"missing required {what} '{key}'")
    return node.value


def _list(node: _Node, what: str, allow_empty: bool = False) -> list[_Node]:
    if not isinstance(node.value, list):
        raise node.error(f"expected a list of {what}; found {_describe(node.value)}")
    if not node.value and not allow_empty:
        raise node.error(f"the list of {what} is empty; give at least one")
    return node.value


def _string(node: _Node) -> str:
    if not isinstance(node.value, str):
        raise node.error(f"expected a string; found {_describe(node.value)}")
    return node.value


def _choice(node: _Node, valid: Sequence[str], what: str) -> str:
    if _string(node) not in valid:
        raise _unknown(node, what, node.value, valid)
    return node.value


def _choices(node: _Node, valid: Sequence[str], what: str, allow_empty: bool = False) -> tuple[str, ...]:
    """A list of distinct names from `valid`, in the file's order."""
    names: list[str] = []
    for item in _list(node, f"{what}s", allow_empty):
        if _choice(item, valid, what) in names:
            raise item.error(f"{what} '{item.value}' is listed twice")
        names.append(item.value)
    return tuple(names)


def _number(node: _Node, kind: str, minimum: float | None = None) -> int | float:
    """An 'int' (bools rejected) or a 'float' (ints accepted)."""
    value = node.value
    wanted = int if kind == "int" else (int, float)
    if isinstance(value, bool) or not isinstance(value, wanted):
        raise node.error(f"expected {'an integer' if kind == 'int' else 'a number'}; found {_describe(value)}")
    if minimum is not None and value < minimum:
        raise node.error(f"expected a value >= {minimum}; found {value}")
    return value if kind == "int" else float(value)


def _param_value(node: _Node, name: str, param: Param) -> Any:
    """A parameter value normalised to its kind ('pair' -> (int, int)), checked against minimum/choices."""
    if param.kind in ("int", "float"):
        value = _number(node, param.kind, param.minimum)
    elif param.kind == "pair":
        value = _pair(node, param.minimum)
    elif param.kind == "bool":
        if not isinstance(node.value, bool):
            raise node.error(f"param '{name}' expects true or false; found {_describe(node.value)}")
        value = node.value
    else:
        value = _string(node)
    if param.choices is not None and value not in param.choices:
        raise node.error(f"param '{name}' must be one of: {', '.join(map(_format, param.choices))}; "
                         f"found {_format(value)}")
    return value


def _pair(node: _Node, minimum: float | None) -> tuple[int, int]:
    if isinstance(node.value, list):
        if len(node.value) != 2:
            raise node.error(f"expected an integer or a pair [int, int]; found a list of {len(node.value)}")
        first, second = (_number(item, "int", minimum) for item in node.value)
        return first, second
    if isinstance(node.value, int) and not isinstance(node.value, bool):
        value = _number(node, "int", minimum)
        return value, value
    raise node.error(f"expected an integer or a pair [int, int]; found {_describe(node.value)}")


def _format(value: Any) -> str:
    """A parameter value as case ids write it: pairs as 3x3, booleans as true/false."""
    if isinstance(value, tuple):
        return "x".join(map(str, value))
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


# --- files and sweeps ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _FileDefaults:
    """What a file sets for all its sweeps."""

    family_name: str
    family: Family
    family_file: Path | None
    kernels: tuple[str, ...]
    baselines: tuple[str, ...]
    dtypes: tuple[str, ...]
    tolerances: Mapping[str, Tolerance]
    seed: int


def _load_file(file: Path) -> list[Case]:
    """Every case of `file`, all tiers."""
    root = _read_yaml(file)
    top = _mapping(root, _TOP_KEYS, "key", required=("family", "sweeps"))
    family_name, family_file = _family_source(file, top)
    try:
        family = registry.get_family(family_name, family_file)
    except InputError as exc:
        raise CaseFileError(file, "family", str(exc), top["family"].line) from None

    def names(key: str, valid: Sequence[str], allow_empty: bool = False, default=None) -> tuple[str, ...]:
        return _choices(top[key], valid, key[:-1], allow_empty) if key in top else tuple(valid if default is None else default)

    defaults = _FileDefaults(
        family_name, family, family_file,
        names("kernels", list(family.kernels), default=[k for k in family.kernels if k not in family.opt_in_kernels]),
        names("baselines", list(family.baselines), allow_empty=True), names("dtypes", family.dtypes),
        _tolerances(top["tolerances"], family) if "tolerances" in top else {},
        _number(top["seed"], "int", minimum=0) if "seed" in top else 0)
    cases: list[Case] = []
    lines_by_name: dict[str, int | None] = {}
    for sweep in _list(top["sweeps"], "sweeps"):
        fields = _mapping(sweep, _SWEEP_KEYS, "sweep key", required=("name", "tier"))
        name = _string(fields["name"])
        if not _SWEEP_NAME.fullmatch(name):
            raise fields["name"].error(f"sweep name '{name}' may only use letters, digits, '_', '.' and '-'")
        if name in lines_by_name:
            raise fields["name"].error(f"sweep name '{name}' is used twice (first at line {lines_by_name[name]})")
        lines_by_name[name] = fields["name"].line
        cases += _expand_sweep(sweep, fields, name, defaults)
    return cases


def family_file_beside(case_file: Path, family_name: str) -> Path:
    """Where a case file's own family lives when it names no `family_file`: NAME_family.py beside it."""
    return Path(case_file).resolve().parent / f"{family_name}_family.py"


def _family_source(file: Path, top: Mapping[str, _Node]) -> tuple[str, Path | None]:
    """(family name, the Python file defining it or None for a built-in or installed family). The
    file is `family_file` when given (relative to the case file), else NAME_family.py beside the case
    file when that exists; a name that is also built in or installed is refused, not shadowed."""
    name = _string(top["family"])
    installed = registry.family_names()
    if "family_file" in top:
        node = top["family_file"]
        path = Path(file).resolve().parent / _string(node)
        if not path.is_file():
            raise node.error(f"family file {display_path(path)} does not exist; give a Python file defining FAMILY, "
                             "relative to the case file")
    else:
        path, node = family_file_beside(file, name), top["family"]
        if not path.is_file():
            if name not in installed:
                error = _unknown(node, "family", name, installed)
                raise node.error(f"{error.reason}; or define it in {path.name} beside the case file")
            return name, None
    if name in installed:
        raise node.error(f"family {name!r} is defined both by {display_path(path)} and by the suite or an installed "
                         "package; rename your family")
    return name, path


def _tolerances(node: _Node, family: Family) -> dict[str, Tolerance]:
    """The family's per-dtype tolerances with the file's overrides applied."""
    out = {}
    for dtype, fields in _mapping(node, family.dtypes, "dtype").items():
        overrides = {key: _number(value, "float", minimum=0)
                     for key, value in _mapping(fields, _TOLERANCE_FIELDS, "tolerance field").items()}
        out[dtype] = dataclasses.replace(family.tolerances.get(dtype, Tolerance()), **overrides)
    return out


def _tiers(node: _Node) -> tuple[str, ...]:
    given = _choices(node, TIERS, "tier") if isinstance(node.value, list) else (_choice(node, TIERS, "tier"),)
    return tuple(t for t in TIERS if t in given)


def _axes(sweep: _Node, fields: Mapping[str, _Node],
          family: Family) -> tuple[dict[str, Any], list[list[dict[str, Any]]]]:
    """The sweep's fixed params, and its axes in file order: each axis is the list of assignments
    it takes (one param for a `sweep` axis, several advanced together for a `zip` group)."""
    fixed: dict[str, Any] = {}
    axes: list[list[dict[str, Any]]] = []
    where: dict[str, _Node] = {}  # param -> where it was set, to report a param given twice

    def claim(group: Mapping[str, _Node]) -> None:
        for name, node in group.items():
            if name in where:
                raise node.error(f"param '{name}' is already set at '{where[name].path}' "
                                 f"(line {where[name].line}); give each param in one place")
            where[name] = node

    def axis(name: str, node: _Node) -> list[Any]:
        return [_param_value(item, name, family.params[name]) for item in _list(node, f"values of '{name}'")]

    allowed = list(family.params)
    for key, node in fields.items():
        if key == "params":
            group = _mapping(node, allowed, "param")
            claim(group)
            fixed.update({name: _param_value(value, name, family.params[name]) for name, value in group.items()})
        elif key == "sweep":
            group = _mapping(node, allowed, "param")
            claim(group)
            axes += [[{name: value} for value in axis(name, values)] for name, values in group.items()]
        elif key == "zip":
            for zipped in _list(node, "zip groups (mappings of param -> list of values)"):
                group = _mapping(zipped, allowed, "param")
                if not group:
                    raise zipped.error("expected a mapping of param -> list of values; the group is empty")
                claim(group)
                columns = {name: axis(name, values) for name, values in group.items()}
                if len({len(values) for values in columns.values()}) > 1:
                    lengths = ", ".join(f"{name}: {len(values)}" for name, values in columns.items())
                    raise zipped.error(f"zipped lists must have equal lengths; found {lengths}")
                axes.append([dict(zip(columns, row)) for row in zip(*columns.values())])
    for name, param in family.params.items():
        if param.default is REQUIRED and name not in where:
            raise sweep.error(f"missing required param '{name}'; set it in params, sweep or zip")
    return fixed, axes


def _expand_sweep(sweep: _Node, fields: Mapping[str, _Node], name: str, defaults: _FileDefaults) -> list[Case]:
    family = defaults.family
    tiers = _tiers(fields["tier"])
    kernels = _choices(fields["kernels"], defaults.kernels, "kernel") if "kernels" in fields else defaults.kernels
    dtypes = _choices(fields["dtypes"], family.dtypes, "dtype") if "dtypes" in fields else defaults.dtypes
    fixed, axes = _axes(sweep, fields, family)
    cases: list[Case] = []
    labels: set[str] = set()
    for assignment in itertools.product(*axes):
        swept = {key: value for part in assignment for key, value in part.items()}
        label = ",".join(f"{key}={_format(value)}" for key, value in swept.items())
        if label in labels:
            raise sweep.error(f"[{label}] appears twice; a swept or zipped list repeats a value")
        labels.add(label)
        params = {key: param.default for key, param in family.params.items()} | fixed | swept
        try:
            family.check_params(params)
        except ValueError as e:
            raise sweep.error(f"invalid parameters{f' [{label}]' if label else ''}: {e}") from None
        frozen = MappingProxyType(params)
        for dtype, kernel in itertools.product(dtypes, kernels):
            if not family.supports(kernel, dtype, frozen):
                continue
            case_id = f"{defaults.family_name}/{name}{f'[{label}]' if axes else ''}/{dtype}/{kernel}"
            cases.append(Case(
                id=case_id, family=defaults.family_name, kernel=kernel, dtype=dtype, params=frozen,
                tier=tiers, sweep=name, file=sweep.file, seed=zlib.crc32(f"{defaults.seed}:{case_id}".encode()),
                tolerance=defaults.tolerances.get(dtype, family.tolerances.get(dtype, Tolerance())),
                baselines=defaults.baselines, family_file=defaults.family_file))
    if not cases:
        raise sweep.error(f"no case: none of the kernels {', '.join(kernels)} supports any of the dtypes "
                         f"{', '.join(dtypes)}")
    return cases


# --- -k filter -----------------------------------------------------------------------------------


def select(cases: Sequence, expr: str | None, dtypes: Sequence[str] = ()) -> list:
    """The cases (or case results) whose id matches a pytest-like `-k` expression: words are
    case-insensitive substrings of the id, combined with `and`, `or`, `not` and parentheses; empty
    selects all. A word is a substring, so `float16` also matches bfloat16: `dtypes` keeps exactly
    the dtypes named. InputError for a dtype no case has (a typo would select nothing silently)."""
    unknown = sorted(set(dtypes) - {case.dtype for case in cases})
    if unknown:
        have = ", ".join(sorted({case.dtype for case in cases})) or "none"
        raise InputError(f"--dtype {','.join(unknown)}: no case has that dtype; the cases have {have}")
    matches = _KeywordExpression(expr or "").parse()
    return [case for case in cases if matches(case.id.lower()) and (not dtypes or case.dtype in dtypes)]


class _KeywordExpression:
    """Recursive descent over:  any := all ('or' all)* ;  all := one ('and' one)* ;
    one := 'not' one | '(' any ')' | WORD."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = [(m.group(), m.start()) for m in re.finditer(r"[()]|[^\s()]+", text)]
        self.at = 0

    def parse(self) -> Callable[[str], bool]:
        if not self.tokens:
            return lambda case_id: True
        matches = self._any()
        if self.at < len(self.tokens):
            raise self._error("'and', 'or' or the end")
        return matches

    def _accept(self, token: str) -> bool:
        if self.at < len(self.tokens) and self.tokens[self.at][0] == token:
            self.at += 1
            return True
        return False

    def _any(self) -> Callable[[str], bool]:
        terms = [self._all()]
        while self._accept("or"):
            terms.append(self._all())
        return terms[0] if len(terms) == 1 else lambda case_id: any(term(case_id) for term in terms)

    def _all(self) -> Callable[[str], bool]:
        terms = [self._one()]
        while self._accept("and"):
            terms.append(self._one())
        return terms[0] if len(terms) == 1 else lambda case_id: all(term(case_id) for term in terms)

    def _one(self) -> Callable[[str], bool]:
        if self._accept("not"):
            inner = self._one()
            return lambda case_id: not inner(case_id)
        if self._accept("("):
            inner = self._any()
            if not self._accept(")"):
                raise self._error("')'")
            return inner
        if self.at == len(self.tokens) or self.tokens[self.at][0] in (")", "and", "or"):
            raise self._error("a word, 'not' or '('")
        word = self.tokens[self.at][0].lower()
        self.at += 1
        return lambda case_id: word in case_id

    def _error(self, expected: str) -> InputError:
        if self.at < len(self.tokens):
            token, column = self.tokens[self.at]
            found = f"'{token}' at column {column + 1}"
        else:
            found = "the end"
        return InputError(f"-k expression {self.text!r}: expected {expected}, found {found}")
