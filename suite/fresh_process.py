"""The rest of a sweep in fresh processes, once a case has left the CUDA context unusable.

After a kernel fault (an illegal address, a trap...) CUDA refuses all further work in that process,
so a sweep that stayed there would record every later case as an error. Instead the remaining cases
run in a child process with a context of its own, which sends each result back as it finishes; when
the child's context dies too, or the child itself dies, the next child takes the cases left.
Children are spawned, never forked: a forked child cannot use CUDA.
"""

from __future__ import annotations

import multiprocessing
import signal
from typing import Callable, Sequence

from suite import runner
from suite.cases import Case
from suite.results import CaseResult


def _child(conn, cases: Sequence[Case], backend_name: str, checks: tuple, options, peaks) -> None:
    from suite.backends import get_backend
    from suite.errors import SuiteError

    try:
        try:
            backend = get_backend(backend_name, checks)
        except SuiteError as exc:
            conn.send(("unavailable", str(exc)))
            return
        _, interrupted = runner.run_in_this_process(
            cases, backend, options, lambda case, i, n: conn.send(("start", i)), lambda r: conn.send(("done", r)), peaks)
        conn.send(("end", interrupted))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the parent reports it
        pass


def _how_it_ended(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"


def _errors(cases: Sequence[Case], message: str) -> list[CaseResult]:
    results = [runner.new_result(case) for case in cases]
    for r in results:
        r.error = message
    return results


def run_rest(cases: Sequence[Case], backend, options, peaks: dict | None,
             on_start: Callable[[Case, int, int], None] | None, on_done: Callable[[CaseResult], None] | None,
             first: int, total: int) -> tuple[list[CaseResult], bool, int]:
    """(results, interrupted, processes started) for `cases`, which follow `first` earlier cases in a
    sweep of `total`; the callbacks see the sweep's numbering."""
    spawn = multiprocessing.get_context("spawn")
    results: list[CaseResult] = []
    started = 0
    todo = list(cases)
    while todo:
        receive, send = spawn.Pipe(duplex=False)
        child = spawn.Process(target=_child, daemon=True, name="suite-sweep",
                              args=(send, todo, backend.name, tuple(sorted(getattr(backend, "checks", ()))), options, peaks))
        finished, running, ended, interrupted = 0, None, False, False
        try:
            child.start()
            started += 1
            send.close()  # so that the child's end, however it comes, reads as EOF here
            while not ended:
                try:
                    kind, payload = receive.recv()
                except EOFError:
                    break
                if kind == "start":
                    running = todo[payload]
                    if on_start:
                        on_start(running, first + len(results), total)
                elif kind == "done":
                    results.append(payload)
                    finished, running = finished + 1, None
                    if on_done:
                        on_done(payload)
                elif kind == "unavailable":  # the backend cannot start again: nothing more can run
                    results += _errors(todo, f"not run: a fresh process for the rest of the sweep could not start the "
                                             f"{backend.name} backend: {payload}")
                    return results, False, started
                else:  # "end"
                    ended, interrupted = True, payload
            child.join()
        except KeyboardInterrupt:
            if child.pid is not None:
                child.terminate()
                child.join()
            return results, True, started
        finally:
            receive.close()
        if interrupted:
            return results, True, started
        if not ended and running is not None:  # the child died inside a case: that case's result
            dead = _errors([running], f"the process running this case died ({_how_it_ended(child.exitcode)}); "
                                      "the sweep went on in a fresh process")
            results += dead
            finished += 1
            if on_done:
                on_done(dead[0])
        if finished == 0:  # no progress: another child would do the same
            results += _errors(todo, f"not run: the fresh process for the rest of the sweep ended before running a "
                                     f"case ({_how_it_ended(child.exitcode)})")
            return results, False, started
        todo = todo[finished:]
    return results, False, started
