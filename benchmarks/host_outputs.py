"""Bitwise check that a change to the emulator leaves kernel outputs unchanged: run smoke cases on the
host backend and save each case's output tensors, then compare two such files.

    python benchmarks/host_outputs.py save OUT.pt [-k EXPR] [--threads N]
    python benchmarks/host_outputs.py compare BEFORE.pt AFTER.pt

Run `save` in a checkout of the old code and of the new (same -k), then `compare`: it lists every
case whose outputs differ in any bit (NaNs compared by their bits too) and exits 1 if one does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
import time

import torch

# This checkout's suite, not whichever one the environment has installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from suite import cases
from suite.backends.host_backend import HostBackend
from suite.kernels import get_family


def _tensors(output) -> dict[str, torch.Tensor]:
    if isinstance(output, torch.Tensor):
        return {"output": output}
    return {k: v for k, v in output.items() if isinstance(v, torch.Tensor)}


def save(path: str, expr: str, threads: int) -> None:
    selected = cases.load_cases(cases.default_case_files(), tier="smoke")
    if expr:
        selected = cases.select(selected, expr)
    backend = HostBackend(threads=threads)
    outputs, start = {}, time.perf_counter()
    for case in selected:
        family = get_family(case.family)
        inputs = family.make_inputs(case.params, case.dtype, case.seed, backend.device)
        launched = family.run(case.kernel, case.params, inputs, backend)
        outputs[case.id] = {k: v.detach().clone() for k, v in _tensors(launched.output).items()}
    torch.save(outputs, path)
    print(f"{len(outputs)} case(s) saved to {path} in {time.perf_counter() - start:.1f} s")


def _same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.is_floating_point():
        view = {2: torch.int16, 4: torch.int32, 8: torch.int64}[a.element_size()]
        return torch.equal(a.contiguous().view(view), b.contiguous().view(view))
    return torch.equal(a, b)


def compare(before_path: str, after_path: str) -> int:
    before, after = torch.load(before_path), torch.load(after_path)
    differ = [case for case in before if case in after and (before[case].keys() != after[case].keys() or not all(
        _same_bits(before[case][k], after[case][k]) for k in before[case]))]  # fmt: skip
    missing = sorted(set(before) ^ set(after))
    for case in differ:
        print(f"DIFFERENT: {case}")
    for case in missing:
        print(f"only in one file: {case}")
    print(f"{len(set(before) & set(after)) - len(differ)} case(s) bit-identical, {len(differ)} different, "
          f"{len(missing)} in one file only")  # fmt: skip
    return 1 if differ or missing else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("save")
    s.add_argument("out")
    s.add_argument("-k", default="", help="case selection, as suite run -k")
    s.add_argument("--threads", type=int, default=1)
    c = sub.add_parser("compare")
    c.add_argument("before")
    c.add_argument("after")
    args = parser.parse_args()
    if args.command == "save":
        save(args.out, args.k, args.threads)
    else:
        sys.exit(compare(args.before, args.after))


if __name__ == "__main__":
    main()
