"""Coverage of public CUDA kernels on the host backend (CPU), run unchanged against references.

    python benchmarks/corpus/run.py --source cuda-samples=~/src/cuda-samples --source llm.c=~/src/llm.c
    python benchmarks/corpus/run.py --source flash-attention-minimal=DIR -k flash --json out.json --markdown out.md

Each driver (benchmarks/corpus/drivers/*.py, one per public file) names its source checkout, the
file, its license and its kernels, each with a function that launches it on random inputs and returns
`Check(actual, expected, rtol, atol)`:

    SOURCE = "cuda-samples"                     # the --source name whose checkout holds FILE
    FILE = "Samples/0_Introduction/vectorAdd/vectorAdd.cu"
    LICENSE = "BSD-3-Clause"
    KERNELS = {"vectorAdd": run_vector_add}     # name expression -> launch and reference
    COMPILE_OPTIONS = ("-DENABLE_BF16",)        # optional: compiler options; INCLUDE_DIRS optional too
    FILES = {path: KERNELS, ...}                # instead of FILE and KERNELS: one build per file

The kernels' text is compiled unchanged; host code around it is dropped (slicing.py). Drivers whose
source is not given are skipped. The checkouts are read from disk only: nothing is fetched.
Exit status: 0 when every kernel tried ran and matched, 1 otherwise, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import OrderedDict
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from harness import DRIVERS_DIR, DriverError, load_drivers, run_driver  # noqa: E402


def parse_sources(values, parser) -> dict[str, Path]:
    sources = {}
    for value in values:
        name, sep, directory = value.partition("=")
        if not sep or not name or not directory:
            parser.error(f"--source {value!r}: expected NAME=DIR, e.g. cuda-samples=~/src/cuda-samples")
        path = Path(directory).expanduser()
        if not path.is_dir():
            parser.error(f"--source {value!r}: {path} is not a directory")
        sources[name] = path
    return sources


def summary_rows(outcomes):
    by_source = OrderedDict()
    for o in outcomes:
        row = by_source.setdefault(o.source, [0, 0])
        row[0] += 1
        row[1] += o.ok
    return [(source, tried, ok, tried - ok) for source, (tried, ok) in by_source.items()]


def markdown(outcomes, note: str) -> str:
    lines = [note, "", "| source | kernels tried | run and match | fail |", "|---|---:|---:|---:|"]
    lines += [f"| {s} | {t} | {k} | {f} |" for s, t, k, f in summary_rows(outcomes)]
    failures = OrderedDict()  # the kernels of one file that fail for one cause share a row
    for o in outcomes:
        if not o.ok:
            failures.setdefault((o.source, Path(o.file).name, o.cause, o.detail), []).append(o.kernel)
    if failures:
        lines += ["", "| source | file | failing kernels | cause | first error |", "|---|---|---|---|---|"]
        lines += [f"| {source} | `{file}` | {', '.join(f'`{k}`' for k in kernels)} | {category} | "
                  f"{detail.replace('|', '/')} |" for (source, file, category, detail), kernels in failures.items()]
    return "\n".join(lines) + "\n"


def text_table(outcomes) -> str:
    lines = [f"{'source':<26} {'tried':>5} {'match':>5} {'fail':>5}"]
    lines += [f"{s[:26]:<26} {t:>5} {k:>5} {f:>5}" for s, t, k, f in summary_rows(outcomes)]
    for o in outcomes:
        mark = "ok  " if o.ok else "FAIL"
        where = f"{o.source}/{Path(o.file).name}: {o.kernel}"
        lines.append(f"{mark} {where} ({o.seconds:.1f} s)" + ("" if o.ok else f"\n     {o.cause}: {o.detail}"))
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", action="append", default=[], metavar="NAME=DIR",
                        help="a local checkout of a public source (repeat for several)")
    parser.add_argument("--drivers", type=Path, default=DRIVERS_DIR, help="directory of driver files")
    parser.add_argument("-k", action="append", default=[], metavar="REGEX", help="only drivers whose name matches")
    parser.add_argument("--json", type=Path, help="write every outcome here")
    parser.add_argument("--markdown", type=Path, help="write the coverage table here")
    parser.add_argument("--note", default="", help="a line above the markdown table (date, emulator version)")
    args = parser.parse_args(argv)
    if not args.source:
        parser.error("give at least one --source NAME=DIR (a local checkout; nothing is fetched)")
    sources = parse_sources(args.source, parser)
    if not args.drivers.is_dir():
        parser.error(f"--drivers {args.drivers}: not a directory")
    try:
        drivers = load_drivers(args.drivers, args.k)
    except DriverError as exc:
        parser.error(str(exc))
    unknown = set(sources) - {d.SOURCE for d in drivers}
    if unknown:
        parser.error(f"--source {', '.join(sorted(unknown))}: no driver reads it (drivers read: "
                     f"{', '.join(sorted({d.SOURCE for d in drivers}))})")
    outcomes = []
    for driver in drivers:
        if driver.SOURCE in sources:
            results = run_driver(driver, sources[driver.SOURCE])
            outcomes += results
            for o in results:
                print(("ok   " if o.ok else "FAIL ") + f"{o.source}: {o.kernel}" + ("" if o.ok else f" [{o.cause}]"),
                      file=sys.stderr, flush=True)
    print(text_table(outcomes))
    if args.json:
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=1))
    if args.markdown:
        args.markdown.write_text(markdown(outcomes, args.note))
    return 0 if outcomes and all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
