"""Command line: argument parsing and exit codes only; the work is done by the layers below.

Exit codes: 0 all good; 1 a case failed validation (or a check rule was broken); 2 bad usage or bad
input (case file, argument, result file, unavailable backend); 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from suite import (backends, cases, compare, compare_report, noise_floor, plot, report, results, resume, runner, table_fit,
                   timing)
from suite.errors import InputError, SuiteError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
_DEFAULT_FILES = "case files (default: ./cases/*.yaml, or the ./*.yaml that name a family; else the suite's cases/)"


def _check_list(text: str) -> list[str]:
    items = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in items if c not in backends.CHECKS]
    if unknown or not items:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(backends.CHECKS)}; "
                                         f"got {text!r}")
    return items


def _save_target(save: str | None, env: dict) -> Path | None:
    """Where --save will write, checked before the sweep runs so a long run never ends unsaved."""
    if save is None:
        return None
    target = results.default_path(env)
    if save:
        given = Path(save)
        target = given / target.name if given.is_dir() or save.endswith("/") else given
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--save {save or target}: cannot create folder {target.parent} ({exc.strerror})") from None
    if not os.access(target.parent, os.W_OK):
        raise InputError(f"--save: folder {target.parent} is not writable")
    return target


def _dtype_list(text: str) -> list[str]:
    items = [d.strip() for d in text.split(",") if d.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of dtypes, e.g. float16,bfloat16; got {text!r}")
    return items


DTYPE_HELP = "only these dtypes, matched exactly (comma-separated): -k float16 also matches bfloat16, --dtype float16 does not"


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}; got {text!r}")
        return value

    return parse


def _run_options(args, default: timing.TimingConfig) -> runner.RunOptions:
    """The backend's timing protocol (`default`) with the user's overrides."""
    given = {"target_noise": args.target_noise and args.target_noise / 100, "budget_s": args.budget,
             "min_samples": args.min_samples, "max_samples": args.max_samples}
    try:
        config = dataclasses.replace(default, **{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        raise InputError(f"--min-samples/--max-samples: {exc}") from None
    return runner.RunOptions(baselines=not args.no_baseline, timing=config, timer_mode=args.timer,
                             launches=args.launches if args.timer == "hot" else 1)


def _protocol(options: runner.RunOptions) -> dict:
    """The timing protocol as result files record it."""
    return {"timer": options.timer_mode, "launches": options.launches, **dataclasses.asdict(options.timing)}


def _single_resume(args) -> str | None:
    if args.resume and len(args.resume) > 1:
        raise InputError("--resume: a run on one device goes on from one file (several are for --ray runs, one per kind)")
    return args.resume[0] if args.resume else None


def _selected_cases(args, verb: str) -> list:
    """The cases of the command's files (default: cases.case_files_for the working directory), tier
    and -k; none is an error."""
    files = [Path(f) for f in args.files] or cases.case_files_for(Path.cwd())
    selected = cases.load_cases(files, tier=args.tier)
    if args.k or args.dtype:
        selected = cases.select(selected, args.k, args.dtype or ())
    if not selected:
        wanted = " and ".join(([f"-k {args.k!r}"] if args.k else []) + ([f"--dtype {','.join(args.dtype)}"] if args.dtype else []))
        raise InputError(f"no case to {verb}: the {args.tier} tier of {', '.join(map(str, files))}"
                         + (f" has no case matching {wanted}" if wanted else " is empty"))
    return selected


def _cmd_run(args, out: Console, err: Console) -> int:
    selected = _selected_cases(args, "run")
    if args.dry_run:
        for case in selected:
            out.print(escape(case.id), highlight=False, soft_wrap=True)  # whole ids, so a log can be grepped
        out.print(f"{len(selected)} case(s) in the {args.tier} tier", highlight=False)
        return EXIT_OK
    if args.ray:
        return _cmd_run_on_cluster(args, selected, out, err)
    if args.ray_mode:
        raise InputError(f"--{args.ray_mode} spreads a run over a Ray cluster: give --ray ADDRESS (or --ray local)")
    resume_file = _single_resume(args)
    backend = backends.get_backend(args.backend, checks=args.check)
    options = _run_options(args, backend.default_timing)
    env = results.environment(backend)
    env["timing"] = _protocol(options)
    previous, todo = None, selected
    if resume_file:
        previous = resume.load_previous(resume_file, env)
        protocol = env["timing"]
        env, todo = resume.environment(previous), [c for c in selected if c.id not in previous.results]
        env.setdefault("timing", protocol)  # a file from before the protocol was recorded
        if not todo:
            out.print(f"nothing to resume: {escape(resume_file)} already holds all {len(selected)} selected cases")
            return EXIT_FAILED if any(not previous.results[c.id].passed for c in selected) else EXIT_OK
    save_to = _save_target(str(previous.path.parent) + "/" if previous and args.save is None else args.save, env)
    if backend.name == "host" and args.tier == "full":
        err.print("[yellow]note:[/] the full tier is sized for GPUs; on the CPU emulation it can take hours "
                  "(Ctrl-C keeps the finished cases)")
    peaks = env["device"].get("peaks")  # a resumed run keeps the peaks its first part measured
    if backend.name == "cupy" and peaks is None:  # percent-of-peak needs this device's own peaks, measured now
        from suite.peaks import measure_peaks

        with err.status("measuring the device's copy bandwidth and matmul peaks"):
            peaks = env["device"]["peaks"] = measure_peaks(backend, sorted({c.dtype for c in selected}))
    def everything(new: list) -> list:  # this run's results with the resumed file's
        return resume.merged(previous, selected, new) if previous else list(new)

    saved = None if save_to is None else results.ResultFile(save_to, env, shlex.join(["suite", *args.argv]))
    finished: list = []
    with report.progress(err, len(todo)) as (on_start, on_done):
        def done(result):
            on_done(result)
            finished.append(result)
            saved.write(everything(finished), complete=False)  # a killed sweep keeps this case

        if saved is not None:
            saved.write(everything([]), complete=False)  # claims the name before the first case
        outcome = runner.run_cases(todo, backend, options, on_start, on_done if saved is None else done, peaks=peaks)
    shown = everything(outcome.results)

    device = env["device"].get("name", backend.name)
    table_fit.show(out, report.results_table(shown, backend.name, device))
    for line in report.problems(shown, args.traceback):
        out.print(line, soft_wrap=True)
    if line := report.execution_line(getattr(backend, "execution_modes", {})):
        out.print(line, markup=False, highlight=False, soft_wrap=True)  # one line in a log, as the problems
    if previous:
        out.print(f"resumed {escape(str(previous.path))}: {len(previous.results)} case(s) carried over, "
                  f"{len(outcome.results)} run now")
    if outcome.fresh_processes:
        out.print(f"[yellow]note:[/] a CUDA fault made this process's GPU context unusable; the cases after it ran "
                  f"in {outcome.fresh_processes} fresh process(es)")
    if outcome.interrupted:
        out.print(f"[yellow]interrupted:[/] {len(outcome.results)} of {len(todo)} cases finished")
    out.print(report.closing_line(shown), markup=False, highlight=False)
    if saved is not None:
        path = saved.write(shown, complete=not outcome.interrupted, final=True)
        out.print(f"saved {escape(str(path))}" + (" (marked incomplete: go on with --resume it)" if outcome.interrupted else ""))
    if outcome.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if any(not r.passed for r in shown) else EXIT_OK


def _resumed_per_kind(paths: list[str], kinds: dict, envs: dict) -> dict:
    """--resume files of a cluster run, by the device kind each belongs to, checked against that kind."""
    from suite.cluster import kind_of

    found = {}
    for path in paths:
        kind = kind_of(results.load(Path(path))["environment"])
        if kind not in kinds:
            raise InputError(f"--resume {path}: its device kind {kind!r} is not in the cluster "
                             f"(kinds: {', '.join(kinds)})")
        if kind in found:
            raise InputError(f"--resume {path}: {found[kind].path} already resumes kind {kind!r}")
        found[kind] = resume.load_previous(path, envs[kind])
    return found


def _cmd_run_on_cluster(args, selected: list, out: Console, err: Console) -> int:
    """`suite run --ray`: the selection on every device kind of a Ray cluster, or spread over it."""
    from suite import cluster

    mode = args.ray_mode or "each-device"
    cluster.connect(args.ray)
    try:
        name = cluster.backend_name(args.backend)
        options = _run_options(args, timing.GPU_TIMING if name == "cupy" else timing.HOST_TIMING)
        resume_docs = [results.load(Path(p)) for p in args.resume or []]
        done = {cluster.kind_of(d["environment"]): set(results.case_results(Path(p), d))
                for p, d in zip(args.resume or [], resume_docs)}
        peaks = {cluster.kind_of(d["environment"]): d["environment"].get("device", {}).get("peaks") for d in resume_docs}
        envs, previous, targets = {}, {}, {}
        with report.progress_per_kind(err) as (show, on_done):
            def ready(kinds: dict) -> None:  # before any case runs: refuse what would end unsaved or unmergeable
                if args.save and not (args.save.endswith("/") or Path(args.save).is_dir()) and len(kinds) > 1:
                    raise InputError(f"--save {args.save}: the cluster has {len(kinds)} device kinds, one file each; "
                                     "give a folder")
                for kind, found in kinds.items():
                    envs[kind] = found.env | {"timing": _protocol(options),
                                              "cluster": {"kind": kind, "mode": mode, "workers": found.workers}}
                previous.update(_resumed_per_kind(args.resume or [], kinds, envs))
                for kind in kinds:
                    if kind in previous:
                        envs[kind] = resume.environment(previous[kind]) | {"cluster": envs[kind]["cluster"]}
                    save = str(previous[kind].path.parent) + "/" if kind in previous and args.save is None else args.save
                    targets[kind] = _save_target(save, envs[kind])
                todo = len([c for c in selected if not any(c.id in ids for ids in done.values())])
                if mode == "shard":
                    show({kind: None for kind in kinds} | {report.ALL_KINDS: todo})
                else:
                    show({kind: len([c for c in selected if c.id not in done.get(kind, set())]) for kind in kinds})

            outcome = cluster.run(selected, name, tuple(args.check or ()), options, mode, done, peaks,
                                  on_ready=ready, on_done=on_done)
    finally:
        cluster.disconnect()
    runs, failed = [], False
    for kind, found in outcome.kinds.items():
        shown = resume.merged(previous[kind], selected, found.results) if kind in previous else found.results
        failed |= any(not r.passed for r in shown)
        table_fit.show(out, report.results_table(shown, name, kind))
        for line in report.problems(shown, args.traceback):
            out.print(line, soft_wrap=True)
        out.print(f"{kind}: " + report.closing_line(shown), markup=False, highlight=False)
        doc = results.document(envs[kind], shown, complete=not outcome.interrupted,
                               command=shlex.join(["suite", *args.argv]))
        path = Path(kind)
        if targets[kind] is not None:
            path = results.save(doc, targets[kind])
            out.print(f"saved {escape(str(path))}" + (" (marked incomplete: go on with --resume it)" if outcome.interrupted else ""))
        runs.append(compare.Run(len(runs) + 1, path, envs[kind], doc["created"], doc["complete"],
                                {r.id: r for r in shown}))
    if outcome.replaced:
        out.print(f"[yellow]note:[/] {outcome.replaced} worker(s) were lost and started again; their unfinished "
                  "cases ran on another worker of the same kind")
    if mode == "each-device" and len(runs) > 1 and not outcome.interrupted:
        comparison = compare.compare(runs)
        table_fit.show(out, compare_report.compare_table(comparison))
        table_fit.show(out, compare_report.family_table(comparison))
    if outcome.interrupted:
        out.print("[yellow]interrupted:[/] the finished cases are kept")
        return EXIT_INTERRUPTED
    return EXIT_FAILED if failed else EXIT_OK


def _check_scope(args) -> list:
    """The instantiations `suite check` compiles: those the selected cases launch, or, in the suite's
    checkout with no case file, -k or --dtype, every instantiation of every family."""
    from suite.kernels import all_families, get_family

    if not args.files and not args.k and not args.dtype and cases.case_files_for(Path.cwd()) == cases.default_case_files():
        return [i for family in all_families() for i in family.instantiations()]
    selected = _selected_cases(args, "check")
    launched = (get_family(c.family, c.family_file).launched_instantiations(c.kernel, c.params, c.dtype)
                for c in selected)
    scope = list(dict.fromkeys(i for found in launched for i in found))
    if not scope:
        names = ", ".join(dict.fromkeys(c.family for c in selected))
        raise InputError(f"nothing to check: the selected cases' families ({names}) name no kernel instantiation; "
                         "a family lists them in instantiations() (see docs/YOUR_KERNEL.md)")
    return scope


def _cmd_check(args, out: Console, err: Console) -> int:
    from suite.check import check_jobs, run_check
    from suite.check_report import check_table

    scope, archs = _check_scope(args), tuple(args.arch) if args.arch else None
    _, jobs = check_jobs(scope, archs)
    with report.progress(err, len(jobs), lambda k: f"{escape(k.instantiation.name_expression)} ({k.arch}): "
                         + ("ok" if k.passed else "FAIL")) as (_, on_done):
        checked = run_check(scope, archs, on_done)
    if args.json:
        out.print_json(json.dumps(checked.to_json()))
    else:
        table_fit.show(out, check_table(checked))
        for k in checked.kernels:
            if k.failure:
                out.print(f"[red]{escape(k.instantiation.name_expression)} ({k.arch})[/]: {escape(k.failure.log.strip())}",
                          soft_wrap=True)
    return EXIT_OK if checked.passed else EXIT_FAILED


def _cmd_profile(args, out: Console, err: Console) -> int:
    from suite.profile import report as profile_report, rules
    from suite.profile.measured import measured_seconds
    from suite.profile.run import profile_cases
    from suite.profile.speed_of_light import gpu

    device = gpu(args.gpu)
    selected = _selected_cases(args, "profile")
    measured = measured_seconds(args.measured, args.gpu) if args.measured else {}
    with report.progress(err, len(selected)) as (on_start, on_done):
        profiles = profile_cases(selected, device, on_start, on_done)
    findings = rules.check(profiles)
    broken = [f for f in findings if not f.passed]
    if args.json:
        doc = {"gpu": device.name, "tier": args.tier, "cases": [p.as_dict() for p in profiles],
               "rules": [f.as_dict() for f in findings]}
        out.print_json(json.dumps(doc))
    else:
        table_fit.show(out, profile_report.launch_table(profiles))
        for kernel, rows in profile_report.aggregate_lines(profiles).items():
            table_fit.show(out, profile_report.lines_table(kernel, rows, args.lines))
        table_fit.show(out, profile_report.bounds_table(profiles, measured))
        table = profile_report.rules_table(findings)
        if table is not None:
            table_fit.show(out, table)
        for p in profiles:
            if p.error:
                out.print(f"[red]{escape(p.case.id)}[/]: {escape(p.error)}", soft_wrap=True)
        out.print(f"{len(profiles)} case(s) profiled, {sum(bool(p.error) for p in profiles)} error(s); "
                  f"strict rules: {len(findings) - len(broken)} of {len(findings)} held", highlight=False)
    if any(p.error for p in profiles):
        return EXIT_FAILED
    return EXIT_FAILED if args.strict and broken else EXIT_OK


def _describe_param(param) -> str:
    from suite.kernels.family import REQUIRED

    facts = [param.kind, "required" if param.default is REQUIRED else f"default {param.default}"]
    if param.choices:
        facts.append("one of " + ", ".join(map(str, param.choices)))
    if param.minimum is not None:
        facts.append(f">= {param.minimum}")
    return f"({'; '.join(facts)})" + (f": {param.help}" if param.help else "")


def _cmd_list(args, out: Console, err: Console) -> int:
    from rich.table import Table

    from suite.kernels import all_families, get_family
    from suite.paths import display_path

    files = list(dict.fromkeys(cases.case_files_for(Path.cwd()) + cases.default_case_files()))
    counts = {path: {tier: cases.load_cases([path], tier=tier) for tier in cases.TIERS} for path in files}
    # the families defined in files (a case file's own), after the suite's and the installed ones
    mine = {c.family_file: get_family(c.family, c.family_file) for by_tier in counts.values()
            for found in by_tier.values() for c in found if c.family_file is not None}
    for family, file in [(f, None) for f in all_families()] + [(f, file) for file, f in mine.items()]:
        origin = f" [dim](from {escape(display_path(file))})[/]" if file else ""
        out.print(f"[bold]{family.name}[/]{origin}: {escape(family.description)}")
        # A grid, so that long descriptions wrap inside their own column at any terminal width.
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, style="dim")
        grid.add_column(no_wrap=True)
        grid.add_column()
        entries = ([("kernel", name, text) for name, text in family.kernels.items()]
                   + [("baseline", name, text) for name, text in family.baselines.items()]
                   + [("param", name, _describe_param(param)) for name, param in family.params.items()])
        for role, name, text in entries:
            grid.add_row(f"  {role}", name, escape(text))
        out.print(grid)
    for path, by_tier in counts.items():
        out.print(f"cases {escape(display_path(path))}: " + ", ".join(f"{len(c)} {t}" for t, c in by_tier.items()))
    return EXIT_OK


def _cmd_new(args, out: Console, err: Console) -> int:
    from suite import scaffold
    from suite.paths import display_path

    folder = Path(args.dir or args.name)
    for path in scaffold.write(args.name, folder):
        out.print(f"wrote {escape(display_path(path))}", highlight=False)
    out.print(f"next: cd {escape(display_path(folder))} && suite run && pytest   (then edit {escape(args.name)}.cu; "
              "docs/YOUR_KERNEL.md walks through every file)", highlight=False)
    return EXIT_OK


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a percentage >= 0, e.g. 5; got {text!r}")
    return value


def _cmd_compare(args, out: Console, err: Console) -> int:
    runs = compare.load_runs(args.results, all_runs=args.all_runs, keyword=args.k, dtypes=args.dtype or ())
    comparison = compare.compare(runs, None if args.noise_floor is None else args.noise_floor / 100)
    table_fit.show(out, compare_report.header_table(comparison.runs))
    for line in compare_report.warning_lines(comparison):
        out.print(line, soft_wrap=True)
    table_fit.show(out, compare_report.compare_table(comparison))
    table_fit.show(out, compare_report.family_table(comparison))
    for line in (compare_report.noise_lines(comparison) + compare_report.source_lines(comparison)
                 + compare_report.partial_lines(comparison)):
        out.print(line, soft_wrap=True)
    if args.fail_above is None:
        return EXIT_OK
    found = compare.regressions(comparison, args.fail_above)
    for line in compare_report.regression_lines(found, args.fail_above):
        out.print(line, soft_wrap=True)
    return EXIT_FAILED if found else EXIT_OK


def _cmd_noise_floor(args, out: Console, err: Console) -> int:
    runs = compare.load_runs(args.results, all_runs=args.all_runs, keyword=args.k, dtypes=args.dtype or ())
    path, rel = noise_floor.save(runs, Path(args.output) if args.output else None)
    out.print(f"noise floor ±{100 * rel:.1f}% from {len(runs)} runs; saved {escape(str(path))}", highlight=False)
    return EXIT_OK


def _cmd_plot(args, out: Console, err: Console) -> int:
    runs = compare.load_runs(args.results, all_runs=args.all_runs, keyword=args.k, dtypes=args.dtype or ())
    if args.view == "roofline":
        figure = plot.roofline_figure(runs)
    else:
        figure = plot.sweep_figure(runs, args.x, baselines=not args.no_baseline, metric=args.metric)
        axis = args.x or plot.sweep_axes(runs)[0]
        single, lines = plot.one_point_lines(runs, axis, args.metric)
        if single:
            err.print(f"[yellow]warning:[/] --x {escape(axis)} does not vary inside {single} of {lines} line(s): each "
                      f"of those is one point; other axes: {escape(', '.join(a for a in plot.sweep_axes(runs) if a != axis) or 'none')}")
    out.print(f"wrote {escape(str(plot.save_figure(figure, args.output)))}")
    return EXIT_OK


def _add_result_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", metavar="RESULTS",
                        help="result files, or folders (e.g. results/): the newest run of each device in them")
    parser.add_argument("--all-runs", action="store_true", help="take every run in a folder, oldest first, not only the newest per device")
    parser.add_argument("-k", metavar="EXPR", help="only cases whose id matches, e.g. 'attention and causal=none'")
    parser.add_argument("--dtype", type=_dtype_list, metavar="DTYPES", help=DTYPE_HELP)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="suite", description="Validate and time hand-written CUDA kernels, "
                                     "on a GPU or on the CPU emulation.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run case sweeps: validate, time, report")
    run.add_argument("files", nargs="*", metavar="CASES.yaml", help=_DEFAULT_FILES)
    run.add_argument("--tier", choices=cases.TIERS, default="smoke", help="which sizes to run (default: smoke)")
    run.add_argument("--backend", choices=backends.BACKENDS, default="auto",
                     help="where kernels run: the GPU (cupy), the CPU emulation (host), or auto (default)")
    run.add_argument("-k", metavar="EXPR", help="only cases whose id matches, e.g. 'deform and not mask' (words are "
                     "substrings, as in pytest)")
    run.add_argument("--dtype", type=_dtype_list, metavar="DTYPES", help=DTYPE_HELP)
    run.add_argument("--save", nargs="?", const="", metavar="PATH",
                     help="write the results as JSON (default folder results/<device>/; never overwrites)")
    run.add_argument("--resume", metavar="RESULT.json", action="append",
                     help="go on from a run saved incomplete (same device, commit and timing): run only the cases it lacks and "
                          "save a new file holding all (default folder: that file's)")
    run.add_argument("--no-baseline", action="store_true", help="do not time the baselines")
    run.add_argument("--dry-run", action="store_true", help="list the cases that would run, run nothing")
    run.add_argument("--traceback", action="store_true",
                     help="print the whole Python traceback of a case's error (a family's make_inputs, reference, ...)")
    run.add_argument("--check", type=_check_list, metavar="MODES",
                     help="host backend bug finders: memcheck,racecheck,initcheck,synccheck (default: $SUITE_HOST_CHECKS)")
    ray = run.add_argument_group("on a Ray cluster (needs the `cluster` extra)")
    ray.add_argument("--ray", metavar="ADDRESS", help="run on the Ray cluster at ADDRESS (e.g. 10.0.0.1:6379, auto), or "
                     "'local' to start Ray here; --resume may be given once per device kind")
    mode = ray.add_mutually_exclusive_group()
    mode.add_argument("--each-device", dest="ray_mode", action="store_const", const="each-device",
                      help="every device kind runs the whole selection; one file per kind, then a comparison (default)")
    mode.add_argument("--shard", dest="ray_mode", action="store_const", const="shard",
                      help="spread the cases over every worker; one file per kind holding the cases it ran")
    timed = run.add_argument_group("timing (defaults: the backend's protocol; on a GPU 0.5 % noise, 1 s, 10 to 2000 samples)")
    timed.add_argument("--timer", choices=timing.TIMER_MODES, default="cold",
                       help="cold: L2 flushed before each launch (default); hot: --launches launches back to back")
    timed.add_argument("--launches", type=_positive(int), default=10, metavar="N", help="launches per hot sample (10)")
    timed.add_argument("--target-noise", type=_positive(float), metavar="PCT",
                       help="stop sampling when the median's relative standard error is under PCT percent")
    timed.add_argument("--budget", type=_positive(float), metavar="SECONDS",
                       help="stop sampling a kernel or baseline after SECONDS (once it has --min-samples)")
    timed.add_argument("--min-samples", type=_positive(int), metavar="N", help="samples at least")
    timed.add_argument("--max-samples", type=_positive(int), metavar="N", help="samples at most")
    run.set_defaults(func=_cmd_run)

    chk = sub.add_parser("check", help="compile the kernels cases launch for GPU architectures, no GPU needed")
    chk.add_argument("files", nargs="*", metavar="CASES.yaml",
                     help="check what these files' cases launch (default: as `run`; in the suite's checkout with no "
                          "file and no -k, every instantiation of every family)")
    chk.add_argument("--tier", choices=cases.TIERS, default="smoke", help="which cases' kernels (default: smoke)")
    chk.add_argument("-k", metavar="EXPR", help="only the kernels of cases whose id matches, e.g. 'deform_im2col'")
    chk.add_argument("--dtype", type=_dtype_list, metavar="DTYPES", help=DTYPE_HELP)
    chk.add_argument("--arch", action="append", metavar="SM",
                     help="target architecture, repeatable (default: sm_80 and sm_90, and the architectures a tile "
                          "plan names for its own shapes, e.g. sm_86)")
    chk.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    chk.set_defaults(func=_cmd_check)

    prof = sub.add_parser("profile", help="count each kernel's memory behaviour as a GPU profiler would, on the CPU")
    prof.add_argument("files", nargs="*", metavar="CASES.yaml", help=_DEFAULT_FILES)
    prof.add_argument("--tier", choices=cases.TIERS, default="smoke", help="which sizes (default: smoke)")
    prof.add_argument("-k", metavar="EXPR", help="only cases whose id matches, e.g. 'attention_tc and causal=none'")
    prof.add_argument("--dtype", type=_dtype_list, metavar="DTYPES", help=DTYPE_HELP)
    prof.add_argument("--json", action="store_true", help="print every count as JSON (for CI and diffs)")
    prof.add_argument("--strict", action="store_true",
                      help="exit 1 when a suite kernel breaks a memory rule (conflict-free ldmatrix, coalesced offsets)")
    prof.add_argument("--gpu", default="H100", metavar="NAME",
                      help="GPU of the predicted speed-of-light bounds: A100, H100 (default) or H200")
    prof.add_argument("--lines", type=_positive(int), default=6, metavar="N", help="source lines shown per kernel (6)")
    prof.add_argument("--measured", metavar="RESULTS",
                      help="saved GPU results (file or folder) of the same cases: show measured time over the bound")
    prof.set_defaults(func=_cmd_profile)

    lst = sub.add_parser("list", help="families, kernels, baselines and case files (yours here, and the suite's)")
    lst.set_defaults(func=_cmd_list)

    new = sub.add_parser("new", help="start your own kernel: a .cu file, its family, a case file and a pytest "
                         "file that pass at once")
    new.add_argument("name", help="the kernel's name (lowercase letters, digits, '_'), e.g. rmsnorm")
    new.add_argument("--dir", metavar="FOLDER", help="where to write the files (default: ./NAME); never overwrites")
    new.set_defaults(func=_cmd_new)

    cmp = sub.add_parser("compare", help="compare saved results across GPUs or commits (the first is the base)")
    _add_result_arguments(cmp)
    cmp.add_argument("--fail-above", type=_percent, metavar="PCT",
                     help="exit 1 when a case is SLOW (beyond the noise) and slower than the base by more than PCT percent")
    cmp.add_argument("--noise-floor", type=_percent, metavar="PCT",
                     help="run-to-run noise floor to judge against (default: results/<device>/noise-floor.json "
                          "beside the results, else the backend's default)")
    cmp.set_defaults(func=_cmd_compare)

    flr = sub.add_parser("noise-floor", help="measure the run-to-run noise floor from repeated runs of the same code")
    _add_result_arguments(flr)
    flr.add_argument("-o", "--output", metavar="FILE",
                     help="where to save it (default: results/<device>/noise-floor.json, which compare reads)")
    flr.set_defaults(func=_cmd_noise_floor)

    plt = sub.add_parser("plot", help="draw saved results: throughput against a sweep axis, or a roofline")
    _add_result_arguments(plt)
    plt.add_argument("-o", "--output", required=True, metavar="FILE", help="the picture: FILE.png, FILE.svg or FILE.html")
    plt.add_argument("--view", choices=("sweep", "roofline"), default="sweep",
                     help="sweep: throughput against --x (default); roofline: achieved against measured peaks")
    plt.add_argument("--x", metavar="PARAM", help="sweep axis, a case parameter such as seq_len (default: the one with most values)")
    plt.add_argument("--no-baseline", action="store_true", help="leave the baselines out of the sweep view")
    plt.add_argument("--metric", choices=tuple(plot.METRICS),
                     help="gbps or tflops (default per family: GB/s when its byte and FLOP models say memory-bound)")
    plt.set_defaults(func=_cmd_plot)
    return parser


def main(argv: list[str] | None = None) -> int:
    out, err = Console(), Console(stderr=True)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out = Console(width=180)  # logs and pipes: wide rows rather than folded cells
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        return args.func(args, out, err)
    except InputError as exc:  # messages whole, not folded at 80 columns (paths in them stay greppable)
        err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return EXIT_USAGE
    except SuiteError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)
        return EXIT_FAILED
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        return EXIT_INTERRUPTED
