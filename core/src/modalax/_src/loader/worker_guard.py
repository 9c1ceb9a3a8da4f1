"""Checks made before any worker starts: the main guard, the number of workers, the process limit.

Main guard. A worker that imports the main script (every worker with ``start_method="spawn"``;
with the fork server only when the source's class is defined in the script) runs the script's
top level. A script that builds and iterates a loader there, without ``if __name__ ==
"__main__":``, would start workers from each worker: multiprocessing refuses (every worker dies
with "exit code 1"), the fork server would run the whole script. ``unguarded_call`` finds the
script's top-level frame on the caller's stack and checks, on the script's syntax tree, whether
the line running now is inside such a guard: the error then names the line and what to add,
before anything starts. A script whose source cannot be read is not checked.

Worker count. More processes than ``16 x`` the usable cores decode nothing faster and can exhaust
the process table (``workers=10**6`` once started 9 to 34 workers and died with a bare
``BlockingIOError``); at or above ``RLIMIT_NPROC`` they cannot all start. Both are refused up front.
When a start fails anyway (another program used the room), the message names the limit.
"""

from __future__ import annotations

import ast
import errno
import functools
import numbers
import os
import resource
import sys
from typing import Any

from modalax._src.errors import ConfigError

__all__ = [
    "GUARD",
    "PER_CORE",
    "START_METHODS",
    "check_count",
    "check_start_method",
    "check_timeout",
    "guard_error",
    "start_failure",
    "unguarded_call",
    "usable_cores",
]

GUARD = 'if __name__ == "__main__":'
PER_CORE = 16  # more workers per usable core than this is refused as absurd


START_METHODS = ("forkserver", "spawn")


def check_start_method(owner: str, start_method: Any) -> str:
    """``start_method`` if it is one of ``START_METHODS``; ``ConfigError`` otherwise."""
    if start_method not in START_METHODS:
        raise ConfigError(
            f"{owner}.start_method: got {start_method!r}, expected 'spawn' or 'forkserver' "
            "(fork is unsafe once jax is initialised)"
        )
    return str(start_method)


def check_timeout(owner: str, timeout: Any) -> float | None:
    """``timeout`` as seconds (a positive number) or None; ``ConfigError`` otherwise."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not float(timeout) > 0:
        raise ConfigError(
            f"{owner}.timeout: got {timeout!r}, expected a positive number of seconds, or None for no limit "
            "(torch's timeout=0)"
        )
    return float(timeout)


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _nproc_limit() -> int | None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NPROC)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def check_count(owner: str, workers: int) -> None:
    """``ConfigError`` for a worker count this machine cannot or should not run."""
    cores = usable_cores()
    if workers > PER_CORE * cores:
        raise ConfigError(
            f"{owner}.workers: got {workers}, expected at most {PER_CORE * cores} ({PER_CORE} per usable core; "
            f"this machine gives this process {cores}); a worker per core is the usual choice, or 'auto'"
        )
    limit = _nproc_limit()
    if limit is not None and workers >= limit:
        raise ConfigError(
            f"{owner}.workers: got {workers}, but the process limit of this user (RLIMIT_NPROC, `ulimit -u`) "
            f"is {limit}; expected fewer workers"
        )


def start_failure(owner: str, workers: int, started: int, exc: OSError) -> ConfigError:
    """The error for a pool that could not start all its workers (those started were stopped)."""
    if exc.errno in (errno.EAGAIN, errno.ENOMEM):
        limit = _nproc_limit()
        where = (
            f"the process limit (RLIMIT_NPROC = {limit} for this user, `ulimit -u`)"
            if limit is not None
            else "the system's limits on processes (kernel.pid_max, kernel.threads-max) or memory"
        )
        why = f"{where} was reached"
    else:
        why = "the system refused"
    return ConfigError(
        f"{owner}.workers: got {workers}, but worker {started + 1} could not start ({type(exc).__name__}: {exc}): "
        f"{why}; the {started} worker(s) started were stopped; expected fewer workers "
        f"(this process may use {usable_cores()} cores)"
    )


@functools.lru_cache(maxsize=8)
def _guarded_lines(path: str, mtime: float) -> tuple[tuple[int, int], ...] | None:
    """Line ranges of the bodies of ``if __name__ == "__main__":`` blocks of a script (None: unreadable)."""
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_main_test(node.test) and node.body:
            spans.append((node.body[0].lineno, node.body[-1].end_lineno or node.body[-1].lineno))
    return tuple(spans)


def _is_main_test(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    consts = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(consts) == 1


def unguarded_call(frame: Any = None) -> tuple[str, int] | None:
    """``(script, line)`` when the main script's top level runs this call outside a main guard, else None."""
    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    if not isinstance(main_file, str):
        return None  # an interactive session or ``python -c``: workers do not import it
    main_file = os.path.abspath(main_file)
    frame = frame if frame is not None else sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if (
            code.co_name == "<module>"
            and frame.f_globals.get("__name__") == "__main__"
            and os.path.abspath(code.co_filename) == main_file
        ):
            try:
                spans = _guarded_lines(main_file, os.path.getmtime(main_file))
            except OSError:
                return None
            if spans is None:
                return None
            line = frame.f_lineno
            return None if any(lo <= line <= hi for lo, hi in spans) else (main_file, line)
        frame = frame.f_back
    return None


def guard_error(owner: str, where: tuple[str, int], start_method: str, why: str) -> ConfigError:
    """The error for a script that starts workers at its top level, outside a main guard."""
    path, line = where
    return ConfigError(
        f"{owner}: {path} line {line} starts worker processes at the script's top level, outside "
        f"`{GUARD}`; each worker ({why}) imports the script and would run that line again (each would "
        f"die with 'exit code 1'). Expected the code that builds and iterates the loader under `{GUARD}` "
        f"(start method {start_method!r})"
    )
