"""Session hooks of the whole suite."""

from __future__ import annotations

from typing import Any


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    """Under ``coverage run``, stop measuring and save this process's data while it is still whole.

    pytest-xdist stops its workers with a 10-second limit (execnet interrupts, then ``os._exit``,
    then kills them); a worker whose interpreter teardown (jax, thread pools) runs past it on a
    slow machine lost its data at exit, and core's coverage read 87% instead of 95% in one CI run.
    Stopped first, the save at exit has nothing left to write, so a kill cannot land mid-write.
    """
    try:
        import coverage
    except ImportError:
        return
    current = coverage.Coverage.current()
    if current is not None:
        current.stop()
        current.save()
