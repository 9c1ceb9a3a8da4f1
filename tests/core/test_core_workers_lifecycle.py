"""Nothing outlives a loader's workers: no process (workers, fork server), file descriptor or shared-memory
segment after close, an early break, Ctrl-C, interpreter exit, or the main process killed."""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from modalax import DataLoader
from modalax._src.loader.worker_launch import SERVER

sys.path.insert(0, str(Path(__file__).parent))  # the workers import the fixtures by this name
import workers_fixtures as fx

HERE = Path(__file__).parent
pytestmark = [pytest.mark.multiprocess, pytest.mark.slow]


def gone(pids: list[int], limit_s: float = 20.0) -> bool:
    """Whether every pid has ended within ``limit_s`` (polled; asserts that they end, not how fast)."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if not any(fx.running(p) for p in pids):
            return True
        time.sleep(0.05)
    return not any(fx.running(p) for p in pids)


def snapshot() -> tuple[set[int], set[int], set[str]]:
    multiprocessing.resource_tracker.ensure_running()  # the tracker lives as long as the interpreter
    gc.collect()
    return fx.descendants(), fx.open_fds(), fx.own_segments()


def busy_loader() -> tuple[DataLoader, list[int]]:
    """A loader two batches into an endless run, workers started and decoding ahead; its processes."""
    loader = DataLoader(fx.SlowSource(64, delay=0.02), 4, workers=2, num_epochs=None)
    it = iter(loader)
    next(it)
    it.settle()
    next(it)
    pool = loader._workers.pool
    assert pool is not None and SERVER.pid is not None
    loader._test_it = it  # type: ignore[attr-defined]
    return loader, [*pool.pids, SERVER.pid]


def test_close_leaves_no_process_descriptor_or_segment() -> None:
    before = snapshot()
    loader, pids = busy_loader()
    assert all(fx.running(p) for p in pids)
    loader.close()
    assert not any(fx.running(p) for p in pids)  # close waits for them
    assert snapshot() == before


def test_an_early_break_then_the_loader_dropped_leaves_nothing() -> None:
    before = snapshot()
    loader = DataLoader(fx.SlowSource(64, delay=0.02), 4, workers=2, num_epochs=None)
    for i, _ in enumerate(loader):
        if i == 5:
            break
    loader._workers.settle()
    pids = [*loader._workers.pool.pids, SERVER.pid] if loader._workers.pool is not None else [SERVER.pid]
    del loader
    assert gone([p for p in pids if p is not None])
    end = time.monotonic() + 20
    while snapshot() != before and time.monotonic() < end:
        time.sleep(0.05)
    assert snapshot() == before


def _script(tmp_path: Path, tail: str) -> Path:
    path = tmp_path / "run.py"
    path.write_text(
        textwrap.dedent(
            f"""
            import signal, sys, time
            signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C as from a shell
            sys.path.insert(0, {str(HERE)!r})
            import workers_fixtures as fx
            from modalax import DataLoader
            from modalax._src.loader.worker_launch import SERVER
            if __name__ == "__main__":
                loader = DataLoader(fx.SlowSource(64, delay=0.02), 4, workers=2, num_epochs=None)
                it = iter(loader)
                next(it)
                it.settle()
                next(it)
                print(loader._workers.pool._state.prefix, SERVER.pid, *loader._workers.pool.pids, flush=True)
            """
        )
        + textwrap.indent(textwrap.dedent(tail), "    ")
    )
    return path


def _pids(line: str) -> tuple[str, list[int]]:
    prefix, *pids = line.split()
    return prefix, [int(p) for p in pids]


def test_interpreter_exit_without_close_leaves_nothing(tmp_path: Path) -> None:
    script = _script(tmp_path, "next(it)  # exits with the workers decoding ahead, nothing closed\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    prefix, pids = _pids(out.stdout.strip().splitlines()[-1])
    assert len(pids) == 3 and gone(pids)
    assert not fx.own_segments(prefix) and "leaked" not in out.stderr, out.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "killed"])
def test_ctrl_c_or_a_killed_main_process_leaves_no_worker_or_server(tmp_path: Path, sig: int) -> None:
    script = _script(tmp_path, "for _ in it:\n    pass\n")
    proc = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        prefix, pids = _pids(proc.stdout.readline())
        assert len(pids) == 3 and all(fx.running(p) for p in pids)
        time.sleep(0.3)  # in the middle of the endless pass
        proc.send_signal(sig)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
            _, err = proc.communicate(timeout=30)
            pytest.fail(f"the script did not end within 60 s of {signal.Signals(sig).name}:\n{err[-6000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if sig == signal.SIGINT:
        assert "KeyboardInterrupt" in err and proc.returncode != 0
    # Killed, the main process cleans up nothing: the server sees its socket close, the workers their pipes.
    assert gone(pids), [p for p in pids if fx.running(p)]
    if sig == signal.SIGINT:
        assert not fx.own_segments(prefix), err


def test_fds_of_many_pools_do_not_pile_up() -> None:
    before = snapshot()
    loader = DataLoader(fx.OffsetSource(16), 4, shuffle=False, workers=1)
    for _ in range(3):
        assert [np.asarray(b["x"]).tolist()[0] for b in loader] == [0, 4, 8, 12]
        loader._workers.discard()  # a fresh pool each pass, as after a dead worker
    loader.close()
    assert snapshot() == before
    assert os.getpid() not in fx.descendants()
