"""suite.cases: case-file validation (one clear error per problem), expansion, seeds, tiers, -k."""

from __future__ import annotations

import itertools
import math
import random
import sys
import textwrap
import types

import pytest
import yaml

import suite.kernels
from plugin_install import forget_plugins, install
from suite import cases
from suite.errors import CaseFileError, InputError
from suite.kernels.family import Family, Param, Tolerance


class ToyFamily(Family):
    """A small family with one parameter of every kind, so the tests need no real kernel."""

    name = "toy"
    kernels = {"fast": "tiled", "simple": "one thread per output", "f32only": "fp32 SIMT"}
    baselines = {"torch": "PyTorch", "numpy": "NumPy"}
    params = {
        "batch": Param("int", minimum=1),
        "size": Param("pair", default=(4, 4), minimum=1),
        "causal": Param("bool", default=False),
        "scale": Param("float", default=1.0, minimum=0.0),
        "layout": Param("str", default="nchw", choices=("nchw", "nhwc")),
        "groups": Param("int", default=1, minimum=1),
    }
    tolerances = {"float32": Tolerance(atol=1e-5, rtol=2e-5), "float16": Tolerance(eps=1e-3)}
    kernel_dtypes = {"f32only": ("float32",)}

    def check_params(self, params):
        if params["batch"] % params["groups"]:
            raise ValueError(f"batch {params['batch']} is not divisible by groups {params['groups']}")


@pytest.fixture
def toy(monkeypatch, tmp_path_factory):
    """Registers ToyFamily as family 'toy' through the real registry (as a plugin)."""
    module = types.ModuleType("toy_family_for_tests")
    module.FAMILY = ToyFamily()
    monkeypatch.setitem(sys.modules, module.__name__, module)
    install(tmp_path_factory.mktemp("toy-plugin"), monkeypatch, f"toy = {module.__name__}")
    yield module.FAMILY
    forget_plugins()


def write(tmp_path, text, name="toy.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def load_error(tmp_path, text) -> CaseFileError:
    path = write(tmp_path, text)
    with pytest.raises(CaseFileError) as info:
        cases.load_cases([path], "smoke")
    assert info.value.file == str(path)
    return info.value


# --- expansion ------------------------------------------------------------------------------------


def test_ids_follow_the_contract(tmp_path, toy):
    path = write(tmp_path, """
        family: toy
        kernels: [simple]
        dtypes: [float32]
        sweeps:
          - name: grid
            tier: smoke
            params: {batch: 2}
            sweep: {size: [3, [2, 5]]}
            zip: [{causal: [true, false], layout: [nhwc, nchw]}]
          - name: plain
            tier: smoke
            params: {batch: 4, size: [1, 2]}
        """)
    ids = [case.id for case in cases.load_cases([path])]
    assert ids == [
        "toy/grid[size=3x3,causal=true,layout=nhwc]/float32/simple",
        "toy/grid[size=3x3,causal=false,layout=nchw]/float32/simple",
        "toy/grid[size=2x5,causal=true,layout=nhwc]/float32/simple",
        "toy/grid[size=2x5,causal=false,layout=nchw]/float32/simple",
        "toy/plain/float32/simple",
    ]


def _random_value(rng, name):
    return {
        "batch": lambda: rng.choice([1, 2, 3, 4, 6, 12]),
        "size": lambda: rng.choice([rng.randint(1, 9), [rng.randint(1, 9), rng.randint(1, 9)]]),
        "causal": lambda: rng.choice([True, False]),
        "scale": lambda: rng.choice([0.5, 2, 0.125]),
        "layout": lambda: rng.choice(["nchw", "nhwc"]),
        "groups": lambda: 1,  # keeps check_params satisfied for any batch
    }[name]()


def _distinct(rng, name, count):
    """Up to `count` random values of `name` that stay distinct once normalised."""
    values = {}
    for _ in range(50):
        value = _random_value(rng, name)
        values.setdefault(_as_param(name, value), value)
        if len(values) == count:
            break
    return list(values.values())


def _as_param(name, value):
    """What the loader must turn a YAML value of param `name` into."""
    kind = ToyFamily.params[name].kind
    if kind == "pair":
        return tuple(value) if isinstance(value, list) else (value, value)
    return float(value) if kind == "float" else value


def _as_written(value):
    """A normalised param value as the contract writes it in ids: pairs 3x3, booleans true/false."""
    if isinstance(value, tuple):
        return f"{value[0]}x{value[1]}"
    return str(value).lower() if isinstance(value, bool) else str(value)


@pytest.mark.parametrize("trial", range(12))
def test_random_sweeps_expand_to_the_cartesian_product(tmp_path, toy, trial):
    rng = random.Random(trial)
    names = list(ToyFamily.params)
    rng.shuffle(names)
    cut1, cut2 = sorted(rng.sample(range(1, len(names)), 2))
    fixed_names, swept_names, zipped_names = names[:cut1], names[cut1:cut2], names[cut2:]
    # optional params are sometimes left to their defaults; the required batch never is
    fixed = {name: _random_value(rng, name) for name in fixed_names if rng.random() < 0.8 or name == "batch"}
    sweep = {name: _distinct(rng, name, rng.randint(1, 3)) for name in swept_names}
    length = rng.randint(1, 3)
    zip_group = {name: [_random_value(rng, name) for _ in range(length)] for name in zipped_names}
    dtypes = rng.sample(ToyFamily.dtypes, rng.randint(1, 3))
    kernels = rng.sample(list(ToyFamily.kernels), rng.randint(1, 3))
    sweep_spec = {"name": "random", "tier": "smoke", "params": fixed, "sweep": sweep, "dtypes": dtypes,
                  "kernels": kernels}
    if zip_group:
        sweep_spec["zip"] = [zip_group]
    path = tmp_path / "random.yaml"
    path.write_text(yaml.safe_dump({"family": "toy", "seed": trial, "sweeps": [sweep_spec]}, sort_keys=False))
    if zip_group and len({tuple(_as_param(n, v[i]) for n, v in zip_group.items()) for i in range(length)}) < length:
        with pytest.raises(CaseFileError, match="appears twice"):
            cases.load_cases([path])
        return

    pairs = [(d, k) for d in dtypes for k in kernels if k != "f32only" or d == "float32"]
    if not pairs:
        with pytest.raises(CaseFileError, match="no case"):
            cases.load_cases([path])
        return

    loaded = cases.load_cases([path])
    axes = [[{name: _as_param(name, v)} for v in values] for name, values in sweep.items()]
    if zip_group:
        axes.append([{name: _as_param(name, values[i]) for name, values in zip_group.items()}
                     for i in range(length)])
    expected = [(assignment, d, k) for assignment in itertools.product(*axes) for d, k in pairs]
    assert len(loaded) == len(expected) == math.prod(map(len, axes)) * len(pairs)
    assert len({case.id for case in loaded}) == len(loaded)
    for case, (assignment, dtype, kernel) in zip(loaded, expected):
        swept = {key: value for part in assignment for key, value in part.items()}
        assert (case.dtype, case.kernel, case.family, case.sweep) == (dtype, kernel, "toy", "random")
        assert case.id.startswith("toy/random") and case.id.endswith(f"/{dtype}/{kernel}")
        for name, param in ToyFamily.params.items():
            want = swept.get(name, _as_param(name, fixed[name]) if name in fixed else param.default)
            assert case.params[name] == want and type(case.params[name]) is type(want), name
        label = case.id.split("[", 1)[1].split("]", 1)[0] if swept else ""
        assert label.split(",") == [f"{name}={_as_written(value)}" for name, value in swept.items()] if swept \
            else "[" not in case.id
        with pytest.raises(TypeError):
            case.params["batch"] = 99  # read-only
    assert [c.seed for c in loaded] == [c.seed for c in cases.load_cases([path])]


def test_seeds_depend_on_case_and_file_seed(tmp_path, toy):
    text = """
        family: toy
        seed: {seed}
        sweeps:
          - name: s
            tier: smoke
            sweep: {{batch: [1, 2, 3, 4, 5, 6, 7, 8]}}
        """
    first = cases.load_cases([write(tmp_path, text.format(seed=0))])
    again = cases.load_cases([write(tmp_path, text.format(seed=0), "copy.yaml")])
    other = cases.load_cases([write(tmp_path, text.format(seed=1))])
    assert [c.seed for c in first] == [c.seed for c in again]
    assert len({c.seed for c in first}) == len(first)
    assert all(a.seed != b.seed for a, b in zip(first, other))
    assert all(0 <= c.seed < 2**32 for c in first)


def test_defaults_overrides_and_unsupported_combinations(tmp_path, toy):
    path = write(tmp_path, """
        family: toy
        baselines: []
        tolerances:
          float32: {atol: 1.0e-3}
          bfloat16: {eps: 2}
        sweeps:
          - name: all
            tier: smoke
            params: {batch: 3}
          - name: narrow
            tier: smoke
            params: {batch: 3}
            dtypes: [float16]
            kernels: [fast, f32only]
        """)
    loaded = cases.load_cases([path])
    everything = [c for c in loaded if c.sweep == "all"]
    assert {(c.dtype, c.kernel) for c in everything} == {
        (d, k) for d in ToyFamily.dtypes for k in ToyFamily.kernels if toy.supports(k, d)}
    assert ("float16", "f32only") not in {(c.dtype, c.kernel) for c in everything}
    assert [(c.dtype, c.kernel) for c in loaded if c.sweep == "narrow"] == [("float16", "fast")]
    assert all(c.baselines == () for c in loaded)
    by_dtype = {c.dtype: c.tolerance for c in loaded}
    assert by_dtype["float32"] == Tolerance(atol=1e-3, rtol=ToyFamily.tolerances["float32"].rtol)
    assert by_dtype["float16"] == ToyFamily.tolerances["float16"]
    assert by_dtype["bfloat16"] == Tolerance(eps=2.0)
    assert isinstance(by_dtype["bfloat16"].eps, float)

    default = cases.load_cases([write(tmp_path, "family: toy\nsweeps: [{name: a, tier: smoke, params: {batch: 1}}]")])
    assert all(c.baselines == tuple(ToyFamily.baselines) for c in default)


def test_tiers_filter_cases_and_are_validated(tmp_path, toy):
    path = write(tmp_path, """
        family: toy
        kernels: [fast]
        dtypes: [float32]
        sweeps:
          - {name: quick, tier: smoke, params: {batch: 1}}
          - {name: big, tier: full, params: {batch: 64}}
          - {name: both, tier: [full, smoke], params: {batch: 2}}
        """)
    smoke, full = cases.load_cases([path], "smoke"), cases.load_cases([path], "full")
    assert [c.sweep for c in smoke] == ["quick", "both"]
    assert [c.sweep for c in full] == ["big", "both"]
    assert smoke[1].tier == full[1].tier == ("smoke", "full")
    only_full = write(tmp_path, "family: toy\nsweeps: [{name: x, tier: full, params: {batch: 1}}]", "full.yaml")
    assert cases.load_cases([only_full], "smoke") == []
    with pytest.raises(InputError, match="unknown tier 'nightly'.*smoke, full"):
        cases.load_cases([path], "nightly")
    # a broken sweep of the other tier is still an error
    broken = write(tmp_path, "family: toy\nsweeps: [{name: x, tier: full, params: {batch: 0}}]", "broken.yaml")
    with pytest.raises(CaseFileError, match=">= 1"):
        cases.load_cases([broken], "smoke")


def test_files_load_in_order_and_duplicate_ids_name_both_files(tmp_path, toy):
    a = write(tmp_path, "family: toy\nsweeps: [{name: a, tier: smoke, params: {batch: 1}}]", "a.yaml")
    b = write(tmp_path, "family: toy\nsweeps: [{name: b, tier: smoke, params: {batch: 1}}]", "b.yaml")
    assert [c.sweep for c in cases.load_cases([b, a])][0] == "b"
    assert {c.file for c in cases.load_cases([a, b])} == {a, b}
    twin = write(tmp_path, "family: toy\nsweeps: [{name: a, tier: full, params: {batch: 2}}]", "twin.yaml")
    with pytest.raises(CaseFileError) as info:
        cases.load_cases([a, twin], "smoke")
    assert info.value.file == str(twin) and str(a) in str(info.value)


def test_missing_file_is_an_input_error(tmp_path, toy):
    with pytest.raises(InputError, match="nope.yaml") as info:
        cases.load_cases([tmp_path / "nope.yaml"])
    assert not isinstance(info.value, CaseFileError)


def test_python_tags_are_refused_not_run(tmp_path, toy):
    marker = tmp_path / "ran"
    error = load_error(tmp_path, f"""
        family: toy
        sweeps:
          - name: a
            tier: smoke
            params: {{batch: !!python/object/apply:os.system ["touch {marker}"]}}
        """)
    assert not marker.exists()
    assert "tag" in error.reason and error.line == 5 and error.key_path == "sweeps[0].params.batch"


# --- one clear error per problem ------------------------------------------------------------------

SWEEP = "sweeps:\n  - name: a\n    tier: smoke\n"

ERRORS = {
    "syntax": ("family: toy\nsweeps: [a, b\n", "", 3, "invalid YAML"),
    "empty file": ("# nothing here\n", "", 1, "empty"),
    "not a mapping": ("- family: toy\n", "", 1, "expected a mapping"),
    "two documents": ("family: toy\n---\nfamily: toy\n", "", 2, "single document"),
    "unknown top key": ("family: toy\nsweep: []\n", "sweep", 2, "did you mean 'sweeps'"),
    "missing sweeps": ("family: toy\n", "", 1, "missing required key 'sweeps'"),
    "family wrong type": ("family: 3\n" + SWEEP, "family", 1, "expected a string; found integer 3"),
    "unknown family": ("family: tyo\n" + SWEEP, "family", 1, "did you mean 'toy'"),
    "unknown kernel": ("family: toy\nkernels: [fats]\n" + SWEEP, "kernels[0]", 2, "did you mean 'fast'"),
    "kernel twice": ("family: toy\nkernels: [fast, fast]\n" + SWEEP, "kernels[1]", 2, "listed twice"),
    "unknown baseline": ("family: toy\nbaselines: [jax]\n" + SWEEP, "baselines[0]", 2, "torch, numpy"),
    "unknown dtype": ("family: toy\ndtypes: [float64]\n" + SWEEP, "dtypes[0]", 2, "float32, float16, bfloat16"),
    "empty dtypes": ("family: toy\ndtypes: []\n" + SWEEP, "dtypes", 2, "empty"),
    "tolerance field": ("family: toy\ntolerances: {float32: {atl: 1}}\n" + SWEEP, "tolerances.float32.atl", 2,
                        "did you mean 'atol'"),
    "tolerance type": ("family: toy\ntolerances: {float16: {eps: high}}\n" + SWEEP, "tolerances.float16.eps", 2,
                       "expected a number; found string 'high'"),
    "negative seed": ("family: toy\nseed: -1\n" + SWEEP, "seed", 2, ">= 0"),
    "empty sweeps": ("family: toy\nsweeps: []\n", "sweeps", 2, "empty"),
    "sweep not mapping": ("family: toy\nsweeps: [3]\n", "sweeps[0]", 2, "found integer 3"),
    "unknown tier": ("family: toy\nsweeps:\n  - name: a\n    tier: nightly\n", "sweeps[0].tier", 4, "smoke, full"),
    "unknown sweep key": (f"family: toy\n{SWEEP}    parms: {{batch: 1}}\n", "sweeps[0].parms", 5,
                          "did you mean 'params'"),
    "missing tier": ("family: toy\nsweeps:\n  - name: a\n", "sweeps[0]", 3, "missing required sweep key 'tier'"),
    "bad sweep name": ("family: toy\nsweeps:\n  - name: a b\n    tier: smoke\n", "sweeps[0].name", 3, "letters"),
    "duplicate sweep": ("family: toy\nsweeps:\n  - {name: a, tier: smoke, params: {batch: 1}}\n"
                        "  - {name: a, tier: full, params: {batch: 2}}\n", "sweeps[1].name", 4, "used twice"),
    "unknown param": (f"family: toy\n{SWEEP}    params: {{batch: 1, sise: 3}}\n", "sweeps[0].params.sise", 5,
                      "did you mean 'size'"),
    "missing param": (f"family: toy\n{SWEEP}    params: {{size: 3}}\n", "sweeps[0]", 3,
                      "missing required param 'batch'"),
    "under minimum": (f"family: toy\n{SWEEP}    params: {{batch: 1}}\n    sweep:\n      size: [2, [3, 0]]\n",
                      "sweeps[0].sweep.size[1][1]", 7, ">= 1; found 0"),
    "bool for int": (f"family: toy\n{SWEEP}    params: {{batch: true}}\n", "sweeps[0].params.batch", 5,
                     "expected an integer; found boolean true"),
    "int for bool": (f"family: toy\n{SWEEP}    params: {{batch: 1, causal: 1}}\n", "sweeps[0].params.causal", 5,
                     "true or false"),
    "pair of three": (f"family: toy\n{SWEEP}    params: {{batch: 1, size: [1, 2, 3]}}\n", "sweeps[0].params.size",
                      5, "list of 3"),
    "not a choice": (f"family: toy\n{SWEEP}    params: {{batch: 1, layout: nwhc}}\n", "sweeps[0].params.layout",
                     5, "nchw, nhwc"),
    "axis not list": (f"family: toy\n{SWEEP}    sweep: {{batch: 2}}\n", "sweeps[0].sweep.batch", 5,
                      "expected a list of values of 'batch'"),
    "empty axis": (f"family: toy\n{SWEEP}    sweep: {{batch: []}}\n", "sweeps[0].sweep.batch", 5, "empty"),
    "repeated value": (f"family: toy\n{SWEEP}    sweep: {{batch: [1, 2], size: [2, [2, 2]]}}\n", "sweeps[0]", 3,
                       "appears twice"),
    "param twice": (f"family: toy\n{SWEEP}    params: {{batch: 1}}\n    sweep: {{batch: [2]}}\n",
                    "sweeps[0].sweep.batch", 6, "already set at 'sweeps[0].params.batch' (line 5)"),
    "param twice in zip": (f"family: toy\n{SWEEP}    params: {{batch: 1}}\n    zip:\n      - {{size: [1]}}\n"
                           "      - {size: [2]}\n", "sweeps[0].zip[1].size", 8, "already set"),
    "duplicate yaml key": (f"family: toy\n{SWEEP}    params:\n      batch: 1\n      batch: 2\n",
                           "sweeps[0].params", 7, "given twice (first at line 6)"),
    "zip unequal": (f"family: toy\n{SWEEP}    params: {{batch: 1}}\n    zip:\n      - {{size: [1, 2], scale: [1]}}\n",
                    "sweeps[0].zip[0]", 7, "size: 2, scale: 1"),
    "zip not list": (f"family: toy\n{SWEEP}    zip: {{batch: [1]}}\n", "sweeps[0].zip", 5, "expected a list of zip"),
    "check_params": (f"family: toy\n{SWEEP}    params: {{groups: 2}}\n    sweep: {{batch: [2, 3]}}\n", "sweeps[0]",
                     3, "[batch=3]: batch 3 is not divisible by groups 2"),
    "no supported case": (f"family: toy\n{SWEEP}    params: {{batch: 1}}\n    kernels: [f32only]\n"
                          "    dtypes: [bfloat16]\n", "sweeps[0]", 3, "no case"),
    "kernel not in file": (f"family: toy\nkernels: [fast]\n{SWEEP}    params: {{batch: 1}}\n    kernels: [simple]\n",
                           "sweeps[0].kernels[0]", 7, "expected one of: fast"),
}


@pytest.mark.parametrize("name", ERRORS)
def test_each_problem_gives_one_clear_error(tmp_path, toy, name):
    text, key_path, line, fragment = ERRORS[name]
    error = load_error(tmp_path, text)
    assert (error.key_path, error.line) == (key_path, line), str(error)
    assert fragment in error.reason, str(error)
    assert str(error).startswith(f"{error.file}:{line}")


def test_alias_bombs_are_refused(tmp_path, toy):
    lines = ["family: toy", "a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 9)]
    assert "more than" in load_error(tmp_path, "\n".join(lines) + "\n").reason
    assert "levels" in load_error(tmp_path, "family: toy\nloop: &x [*x]\n").reason


# --- -k ---------------------------------------------------------------------------------------------


def _case(case_id):
    return cases.Case(id=case_id, family="toy", kernel="k", dtype="float32", params={}, tier=("smoke",),
                      sweep="s", file=None, seed=0, tolerance=Tolerance(), baselines=())


WORDS = ["fp16", "Causal", "d64", "toy/", "[b=1", "x"]


def _random_expression(rng, depth=0):
    roll = rng.random()
    if depth > 3 or roll < 0.35:
        return rng.choice(WORDS)
    if roll < 0.5:
        return f"not {_random_expression(rng, depth + 1)}"
    if roll < 0.65:
        return f"({_random_expression(rng, depth + 1)})"
    joiner = rng.choice([" and ", " or "])
    return joiner.join(_random_expression(rng, depth + 1) for _ in range(rng.randint(2, 3)))


def test_select_matches_python_boolean_semantics(toy):
    rng = random.Random(7)
    ids = ["/".join(rng.sample(["toy", "FP16", "causal", "d64", "x", "[b=1,c=2]", "fp32", "d128"],
                               rng.randint(1, 5))) for _ in range(60)]
    population = [_case(i) for i in ids]
    for _ in range(300):
        expression = _random_expression(rng)
        # oracle: the same expression under Python's and/or/not precedence (built by this test only)
        python = expression
        for word in sorted(WORDS, key=len, reverse=True):
            python = python.replace(word, f"({word.lower()!r} in s)")
        expected = [c for c in population if eval(f"lambda s: {python}")(c.id.lower())]
        assert cases.select(population, expression) == expected, expression


def test_select_empty_expression_keeps_everything():
    population = [_case("a"), _case("b")]
    assert cases.select(population, "  ") == population


@pytest.mark.parametrize("expression, expected", [
    ("fp16 and", "expected a word, 'not' or '(', found the end"),
    ("(fp16 or d64", "expected ')', found the end"),
    ("fp16 d64", "expected 'and', 'or' or the end, found 'd64' at column 6"),
    ("or fp16", "expected a word, 'not' or '(', found 'or' at column 1"),
    ("fp16 and )", "found ')' at column 10"),
    ("()", "found ')' at column 2"),
])
def test_select_rejects_malformed_expressions(expression, expected):
    with pytest.raises(InputError) as info:
        cases.select([_case("fp16")], expression)
    assert expected in str(info.value) and repr(expression) in str(info.value)


# --- the shipped case files ---------------------------------------------------------------------------


def test_shipped_case_files_load():
    files = cases.default_case_files()
    if not files:
        pytest.skip(f"no case files under {cases.CASES_DIR} yet")
    smoke, full = cases.load_cases(files, "smoke"), cases.load_cases(files, "full")
    assert smoke, "the shipped files must have smoke cases"
    for case in smoke + full:
        family = suite.kernels.get_family(case.family)
        assert set(case.params) == set(family.params)
        assert family.supports(case.kernel, case.dtype)


def test_an_opt_in_kernel_runs_only_where_a_file_names_it(tmp_path):
    """attention_fa3 needs sm_90a: a case file without `kernels:` runs the family's other kernels,
    one that names it runs it."""
    sweep = ("sweeps:\n  - name: s\n    tier: smoke\n"
             "    params: {heads_q: 2, seq_q: 9, seq_k: 9, head_dim: 64}\n")
    plain = cases.load_cases([write(tmp_path, "family: attention\n" + sweep, "plain.yaml")])
    named = cases.load_cases([write(tmp_path, "family: attention\nkernels: [attention_fa3]\n" + sweep, "named.yaml")])
    assert {c.kernel for c in plain} == {"attention_fp32", "attention_tc", "attention_decode"}
    assert {c.kernel for c in named} == {"attention_fa3"}
