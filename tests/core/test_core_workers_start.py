"""Starting workers: from the fork server with only the source's imports, all or none, within the machine's
limits, and a script without a main guard told what to add (real scripts in subprocesses)."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modalax import ConfigError, DataLoader
from modalax._src.loader import worker_guard
from modalax._src.loader.worker_launch import SERVER, payload_of
from modalax._src.loader.workers import WorkerPool

sys.path.insert(0, str(Path(__file__).parent))  # the workers import the fixtures by this name
import workers_fixtures as fx
import workers_light

HERE = Path(__file__).parent
pytestmark = pytest.mark.multiprocess


def run_script(tmp_path: Path, body: str, *, user: int | None = None, timeout: float = 240) -> Any:
    """Run ``body`` as a script (the fixtures importable); its completed process."""
    path = tmp_path / "script.py"
    path.write_text(f"import sys\nsys.path.insert(0, {str(HERE)!r})\n" + textwrap.dedent(body))
    path.chmod(0o644)
    tmp_path.chmod(0o755)
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp_path, user=user
    )


# ---------------------------------------------------------------- what a worker imports
@pytest.mark.slow
def test_a_worker_imports_what_its_source_needs_and_not_jax(tmp_path: Path) -> None:
    out = run_script(
        tmp_path,
        """
        import jax, numpy as np  # the main process has jax; a worker of a numpy source must not import it
        import workers_light
        from modalax import WorkerPool
        if __name__ == "__main__":
            with WorkerPool(workers_light.LightSource(), 2) as pool:
                got = pool.submit(np.arange(3)).result()
            print(got["jax"].any(), got["loader"].any(), *got["env"])
        """,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "1", "cpu"]


@pytest.mark.parametrize(
    ("source", "wanted", "unwanted"),
    [
        (workers_light.LightSource(), {"workers_light"}, {"__main__", "jax"}),
        (fx.MixedSource(), {"workers_fixtures"}, {"__main__"}),
        ({"x": np.arange(3)}, {"numpy"}, {"workers_light"}),
        ([Path("a.jpg")], {"pathlib"}, {"numpy"}),
        (fx.OffsetSource, {"workers_fixtures"}, set()),  # a class pickled by reference
    ],
)
def test_the_payload_names_the_modules_its_unpickling_imports(
    source: Any, wanted: set[str], unwanted: set[str]
) -> None:
    payload, modules = payload_of(source)
    assert wanted <= modules and not unwanted & modules, modules
    import pickle

    assert pickle.loads(payload) is not None


def test_a_class_of_an_interactive_main_is_a_config_error_before_any_start(monkeypatch: pytest.MonkeyPatch) -> None:
    import types

    main = types.ModuleType("__main__")  # as in a notebook: no __file__
    exec("class Local:\n    def get_records(self, i): return {}\n", main.__dict__)
    main.Local.__module__ = "__main__"
    monkeypatch.setitem(sys.modules, "__main__", main)
    before = fx.descendants()
    with pytest.raises(ConfigError, match=r"Local is defined in an interactive session \(__main__\)"):
        WorkerPool(main.Local(), 1)
    assert fx.descendants() <= before


# ------------------------------------------------------------------- the fork server
@pytest.mark.slow
def test_the_server_forks_the_workers_and_stops_with_its_last_holder() -> None:
    with WorkerPool(fx.MixedSource(), 2) as pool:
        server = SERVER.pid
        assert server is not None and fx.running(server)
        parents = {int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) for pid in pool.pids}
        assert parents == {server}  # workers are forked by the server, not spawned by this process
        assert pool.submit(np.array([1])).result()["labels"].tolist() == [1]
    assert SERVER.pid is None and not fx.running(server)


@pytest.mark.slow
def test_a_loader_holds_the_server_from_its_construction_so_its_imports_run_early() -> None:
    import gc

    gc.collect()  # pools and loaders of earlier tests, dropped without close
    assert SERVER.pid is None
    loader = DataLoader(fx.MixedSource(16), 8, workers=1)
    server = SERVER.pid
    assert server is not None  # started (and importing the source's modules) before the first pass
    assert len(list(loader)) == 2
    assert SERVER.pid == server
    loader.close()
    assert SERVER.pid is None and not fx.running(server)
    assert len(list(loader)) == 2  # the loader stays usable: the next pass starts workers again
    loader.close()


@pytest.mark.slow
def test_a_killed_server_costs_no_batch_and_the_next_pass_starts_a_fresh_one() -> None:
    import signal

    loader = DataLoader(fx.SlowSource(40, delay=0.05), 4, shuffle=False, workers=2)
    try:
        it = iter(loader)
        got = [next(it)]
        it.settle()
        old, pool = SERVER.pid, loader._workers.pool
        assert old is not None and pool is not None
        os.kill(old, signal.SIGKILL)
        got += list(it)  # the workers it forked go on serving: nothing is lost
        assert [int(np.asarray(b["nested"]["a"])[0]) for b in got] == list(range(0, 40, 4))
        assert not pool.alive  # their exit codes can no longer be known: the next pass starts fresh ones
        assert len(list(loader)) == 10
        assert SERVER.pid not in (None, old) and loader._workers.pool is not pool
        assert not any(fx.running(pid) for pid in pool.pids)
    finally:
        loader.close()


# ------------------------------------------------------------------ limits and all-or-nothing
@pytest.mark.parametrize(
    ("workers", "message"),
    [
        (10**6, r"WorkerPool.workers: got 1000000, expected at most \d+ \(16 per usable core"),
        (16 * worker_guard.usable_cores() + 1, r"expected at most \d+ \(16 per usable core; this machine gives"),
    ],
)
def test_absurd_worker_counts_are_refused_before_anything_starts(workers: int, message: str) -> None:
    before = fx.descendants()
    with pytest.raises(ConfigError, match=message):
        WorkerPool(fx.MixedSource(), workers)
    assert fx.descendants() <= before


def test_a_count_at_the_process_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_guard, "_nproc_limit", lambda: 5)
    with pytest.raises(
        ConfigError, match=r"got 5, but the process limit of this user \(RLIMIT_NPROC, `ulimit -u`\) is 5"
    ):
        WorkerPool(fx.MixedSource(), 5)


@pytest.mark.parametrize(
    ("error", "limit", "fragments"),
    [
        (BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable"), 40, ["RLIMIT_NPROC = 40", "was reached"]),
        (OSError(errno.ENOMEM, "Cannot allocate memory"), None, ["kernel.pid_max", "or memory"]),
        (PermissionError(errno.EPERM, "Operation not permitted"), 40, ["the system refused"]),
    ],
)
def test_a_failed_start_names_the_limit(
    monkeypatch: pytest.MonkeyPatch, error: OSError, limit: int | None, fragments: list[str]
) -> None:
    monkeypatch.setattr(worker_guard, "_nproc_limit", lambda: limit)
    text = str(worker_guard.start_failure("DataLoader", 10, 3, error))
    assert text.startswith("DataLoader.workers: got 10, but worker 4 could not start (")
    assert "the 3 worker(s) started were stopped" in text
    assert all(f in text for f in fragments), text


@pytest.mark.slow
@pytest.mark.parametrize("start_method", ["forkserver", "spawn"])
def test_at_a_process_limit_the_pool_starts_none_and_names_the_limit(tmp_path: Path, start_method: str) -> None:
    """A real RLIMIT_NPROC (as an unprivileged user, since root is exempt): nothing is left running."""
    user = None
    if os.getuid() == 0:  # root is exempt from RLIMIT_NPROC: run as nobody, if nobody can run this Python
        user = 65534
        for folder in Path(os.path.realpath(sys.executable)).parents:
            if not folder.stat().st_mode & 0o001:
                pytest.skip(f"root is exempt from RLIMIT_NPROC, and an unprivileged user cannot reach {folder}")
    out = run_script(
        tmp_path,
        f"""
        import os, resource, multiprocessing
        import workers_fixtures as fx
        from modalax import ConfigError
        from modalax._src.loader.workers import WorkerPool

        def tasks_of_this_user():
            uid, n = os.getuid(), 0
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    status = open(f"/proc/{{pid}}/status").read()
                except OSError:
                    continue
                fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
                if int(fields["Uid"].split()[0]) == uid:
                    n += int(fields["Threads"])
            return n

        if __name__ == "__main__":
            multiprocessing.resource_tracker.ensure_running()
            before = fx.descendants()
            room = tasks_of_this_user() + 5  # the server and its threads, then a few workers
            resource.setrlimit(resource.RLIMIT_NPROC, (room, room))
            try:
                WorkerPool(fx.MixedSource(), 10, start_method={start_method!r})
            except ConfigError as exc:
                print("ERROR", exc)
            left = fx.descendants() - before
            print("LEFT", sorted(left))
        """,
        user=user,
    )
    assert out.returncode == 0, out.stderr
    error = next(line for line in out.stdout.splitlines() if line.startswith("ERROR"))
    assert "WorkerPool.workers: got 10, but worker" in error and "could not start" in error
    assert "RLIMIT_NPROC" in error and "were stopped" in error
    assert "LEFT []" in out.stdout, out.stdout


# --------------------------------------------------------------------------- the main guard
GUARDED = 'if __name__ == "__main__":'


def _script(start_method: str, source_in_script: bool, guarded: bool) -> str:
    source = (
        "class Counting:\n    def __len__(self): return 24\n    def get_records(self, i): return {'x': np.asarray(i)}\n"
        if source_in_script
        else "from workers_fixtures import OffsetSource as Counting\n"
    )
    run = (
        f"loader = DataLoader(Counting(), 4, workers=2, start_method={start_method!r})\n"
        "print('BATCHES', len(list(loader)))\n"
    )
    body = textwrap.indent(run, "    ") if guarded else run
    return f"import numpy as np\nfrom modalax import DataLoader\n{source}" + (f"{GUARDED}\n" if guarded else "") + body


@pytest.mark.slow
@pytest.mark.parametrize(
    ("start_method", "source_in_script", "guarded", "outcome"),
    [
        ("spawn", False, False, "guard"),
        ("spawn", True, False, "guard"),
        ("spawn", False, True, "ok"),
        ("forkserver", True, False, "guard"),  # the server imports the script to unpickle the source
        ("forkserver", True, True, "ok"),
        ("forkserver", False, False, "ok"),  # the server never imports the script: nothing to guard
    ],
)
def test_a_script_without_a_main_guard_is_told_what_to_add(
    tmp_path: Path, start_method: str, source_in_script: bool, guarded: bool, outcome: str
) -> None:
    out = run_script(tmp_path, _script(start_method, source_in_script, guarded))
    if outcome == "ok":
        assert out.returncode == 0 and "BATCHES 6" in out.stdout, out.stderr
        return
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("modalax._src.errors.ConfigError: DataLoader: ") or "ConfigError: DataLoader:" in last, last
    line = 9 if source_in_script else 7  # the line that iterates the loader (after two lines of set-up)
    assert f"script.py line {line} starts worker processes at the script's top level" in last
    assert f"outside `{GUARDED}`" in last and f"under `{GUARDED}`" in last
    assert "exit code 1" in last and "died" not in out.stderr.replace(last, "")  # no worker died first


@pytest.mark.parametrize(
    ("code", "spans"),
    [
        ('if __name__ == "__main__":\n    x = 1\n    y = 2\n', ((2, 3),)),
        ("if '__main__' == __name__:\n    x = 1\n", ((2, 2),)),
        ('import os\nif True:\n    if __name__ == "__main__":\n        run()\n', ((4, 4),)),
        ('if __name__ != "__main__":\n    x = 1\n', ()),
        ('if __name__ == "__main__" and x:\n    x = 1\n', ()),
        ('if name == "__main__":\n    x = 1\n', ()),
        ("x = (", None),  # not Python: not checked
    ],
)
def test_main_guards_are_found_in_the_scripts_syntax(tmp_path: Path, code: str, spans: Any) -> None:
    path = tmp_path / "s.py"
    path.write_text(code)
    assert worker_guard._guarded_lines(str(path), path.stat().st_mtime) == spans


# ------------------------------------------------- all or none, with the process limit simulated
@pytest.mark.slow
@pytest.mark.parametrize("start_method", ["forkserver", "spawn"])
def test_when_a_worker_cannot_start_those_started_are_stopped(
    monkeypatch: pytest.MonkeyPatch, start_method: str
) -> None:
    import multiprocessing

    from modalax._src.loader import worker_launch

    multiprocessing.resource_tracker.ensure_running()
    before, started = fx.descendants(), []
    if start_method == "forkserver":
        real = worker_launch.ForkServer.fork_worker

        def fork_worker(self: Any, *args: Any) -> Any:
            if len(started) == 3:
                raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
            worker, conn = real(self, *args)
            started.append(worker.pid)
            return worker, conn

        monkeypatch.setattr(worker_launch.ForkServer, "fork_worker", fork_worker)
    else:
        real_start = multiprocessing.get_context("spawn").Process.start

        def start(self: Any) -> None:
            if len(started) == 3:
                raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")
            real_start(self)
            started.append(self.pid)

        monkeypatch.setattr(multiprocessing.get_context("spawn").Process, "start", start)
    with pytest.raises(ConfigError, match=r"got 8, but worker 4 could not start \(BlockingIOError: .*were stopped"):
        WorkerPool(fx.MixedSource(), 8, start_method=start_method)
    assert len(started) == 3
    assert not any(fx.running(pid) for pid in started)  # stopped, not orphaned
    assert fx.descendants() == before  # and the server (no holder left)


def test_the_server_reports_a_failed_fork_with_its_errno(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from modalax._src.loader import worker_server

    def no_fork() -> int:
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    server = worker_server._Server(theirs, lambda *a: None)
    monkeypatch.setattr(worker_server.os, "fork", no_fork)
    monkeypatch.setattr(worker_server._Server, "prepare", lambda self, request: None)
    status_r, status_w = os.pipe()
    conn_a, conn_b = socket.socketpair()
    server.fork({"prefix": "mxtest_"}, conn_b.detach(), status_w, os.dup(conn_a.fileno()))
    assert worker_server.SIGNED.unpack(os.read(status_r, 8)) == (-errno.EAGAIN,)
    assert os.read(status_r, 8) == b""  # and the status pipe is closed: no child to report on
    assert server.children == {}
    for end in (mine, theirs, conn_a):
        end.close()
    os.close(status_r)
