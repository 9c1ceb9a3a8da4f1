"""Starting worker processes from a preloaded fork server (the main process's side).

A spawned worker is a fresh interpreter that imports the main script and the source's modules:
jax among them, 1.5-2.5 s per worker on a busy 2-core VM, paid while the decode threads it was
meant to relieve compete for the same cores. torch forks the main process (0.3 s), which is not
safe once jax runs: its threads hold locks a child would inherit held. So the workers are forked
from a server process (``worker_server``): a fresh interpreter, started once per interpreter,
that imports the modules the source's pickle names (``payload_of`` records them while pickling)
and never initialises jax. Each worker then costs a fork and an unpickle.

The main script is imported by the server only when the source's pickle names ``__main__`` (a
class the script defines); ``worker_guard`` checks first that the script has a main guard.

Lifetime: the server is shared by everything holding it (a ``DataLoader`` with workers, from its
construction, so that the imports overlap the caller's set-up; a ``WorkerPool`` while open) and
stopped when the last holder lets go, and at interpreter exit. It also ends on its own when this
process dies (EOF on its socket), and a worker ends when its pipe closes.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from modalax._src.errors import ConfigError, DataError
from modalax._src.loader.worker_process import WORKER_VARS
from modalax._src.loader.worker_server import SIGNED

__all__ = ["SERVER", "ForkServer", "ServerLauncher", "ServerWorker", "payload_of"]

_HERE = Path(__file__).parent
_BOOT = (
    "import importlib.util as u, sys\n"
    "s = u.spec_from_file_location('_modalax_worker_server', {server!r})\n"
    "m = u.module_from_spec(s); sys.modules[s.name] = m; s.loader.exec_module(m)\n"
    "m.serve({fd}, {process!r})\n"
)
_SKIP = {"builtins", "__main__", "__mp_main__", "copyreg", "_codecs"}


class _Scanner(pickle.Pickler):
    """A pickler that records the module of every class and function it pickles by reference."""

    def __init__(self, file: io.BytesIO, modules: set[str]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.modules = modules

    def reducer_override(self, obj: Any) -> Any:
        self.modules.add(type(obj).__module__)
        if isinstance(obj, type) or callable(obj):
            name = getattr(obj, "__module__", None)
            if isinstance(name, str):
                self.modules.add(name)
        return NotImplemented


def payload_of(source: Any) -> tuple[bytes, frozenset[str]]:
    """``source`` pickled, and the modules its unpickling imports (``__main__`` among them if it does)."""
    modules: set[str] = set()
    buf = io.BytesIO()
    _Scanner(buf, modules).dump(source)
    return buf.getvalue(), frozenset(modules)


def main_spec() -> tuple[str, str] | None:
    """How the server imports this process's main script: ``("name", module)``, ``("path", file)`` or None."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and getattr(spec, "name", None) not in (None, "__main__"):
        return ("name", spec.name)
    path = getattr(main, "__file__", None)
    return ("path", os.path.abspath(path)) if isinstance(path, str) else None


def _request(op: str, modules: Iterable[str], main: tuple[str, str] | None, prefix: str = "") -> bytes:
    env = {**os.environ, **WORKER_VARS}
    wanted = sorted(m for m in modules if m not in _SKIP)
    request = {"op": op, "modules": wanted, "main": main, "prefix": prefix}
    return pickle.dumps({**request, "sys_path": list(sys.path), "cwd": os.getcwd(), "env": env})


def _read_exact(fd: int, n: int, deadline: float, alive: Any) -> bytes:
    out = b""
    while len(out) < n:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if ready:
            chunk = os.read(fd, n - len(out))
            if not chunk:
                return out
            out += chunk
        elif not alive():
            return out
        elif time.monotonic() > deadline:
            raise TimeoutError
    return out


class ServerWorker:
    """A worker forked by the server: what ``multiprocessing.Process`` offers the pool, by pid and status pipe."""

    def __init__(self, pid: int, status_fd: int) -> None:
        self.pid = pid
        self._fd: int | None = status_fd
        self.exitcode: int | None = None
        self.server_gone = False  # the status pipe ended without an exit code

    def _ended(self, timeout: float | None) -> bool:
        if self.exitcode is not None or self.server_gone:
            return True
        if self._fd is None:
            return True
        ready, _, _ = select.select([self._fd], [], [], timeout)
        if not ready:
            return False
        data = _read_exact(self._fd, SIGNED.size, time.monotonic() + 1.0, lambda: True)
        if len(data) == SIGNED.size:
            self.exitcode = SIGNED.unpack(data)[0]
        else:
            self.server_gone = True
        return True

    def is_alive(self) -> bool:
        return not self._ended(0)

    def may_run(self) -> bool:
        """Alive, or of unknown state because its server ended: then the worker's pipe tells (it
        closes when the worker ends), so a batch it is still decoding is not counted lost."""
        return self.is_alive() or (self.server_gone and self.exitcode is None)

    def join(self, timeout: float | None = None) -> None:
        self._ended(timeout)

    def _signal(self, sig: int) -> None:
        if self.is_alive():  # never signal a pid the server has reaped (it may be reused)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class ForkServer:
    """The interpreter's fork server; see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._holders = 0

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def hold(self, modules: Iterable[str] = (), main: tuple[str, str] | None = None) -> None:
        """Count one more holder; start the server if needed and have it import ``modules`` now."""
        with self._lock:
            self._holders += 1
            self._send(_request("import", modules, main))

    def release(self) -> None:
        """One holder fewer; the last one stops the server."""
        with self._lock:
            self._holders = max(0, self._holders - 1)
            if self._holders == 0:
                self.stop()

    def _ensure(self) -> socket.socket:
        if self._proc is not None and self._proc.poll() is None and self._sock is not None:
            return self._sock
        self._close_socket()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        code = _BOOT.format(
            server=str(_HERE / "worker_server.py"), process=str(_HERE / "worker_process.py"), fd=theirs.fileno()
        )
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", code],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env={**os.environ, **WORKER_VARS},
                cwd=os.getcwd(),
            )
        except BaseException:
            mine.close()
            raise
        finally:
            theirs.close()
        self._sock = mine
        return mine

    def _send(self, request: bytes, fds: list[int] | None = None) -> None:
        sock = self._ensure()
        try:
            socket.send_fds(sock, [request], fds or [])
        except OSError as exc:  # the server died between the check and the send: one fresh start
            self._close_socket()
            sock = self._ensure()
            try:
                socket.send_fds(sock, [request], fds or [])
            except OSError:
                raise DataError(f"WorkerPool: the worker server (pid {self.pid}) does not answer: {exc}") from exc

    def fork_worker(
        self, payload: bytes, prefix: str, modules: Iterable[str], main: tuple[str, str] | None, timeout: float
    ) -> tuple[ServerWorker, Connection]:
        """Fork one worker and send it ``payload``; ``OSError`` (with the errno) if the fork failed."""
        resource_tracker.ensure_running()  # the workers' segments are tracked by this process's tracker
        mine, theirs = socket.socketpair()
        status_r, status_w = os.pipe()
        try:
            with self._lock:
                tracker = resource_tracker.getfd()
                assert tracker is not None  # ensure_running above started it
                fds = [theirs.fileno(), status_w, tracker]
                self._send(_request("fork", modules, main, prefix), fds)
                proc = self._proc
        except BaseException:
            os.close(status_r)
            mine.close()
            raise
        finally:
            theirs.close()
            os.close(status_w)
        conn = Connection(mine.detach())
        try:
            alive = lambda: proc is not None and proc.poll() is None  # noqa: E731
            try:
                head = _read_exact(status_r, SIGNED.size, time.monotonic() + timeout, alive)
            except TimeoutError:
                raise DataError(
                    f"WorkerPool: the worker server (pid {self.pid}) did not start a worker within {timeout} s "
                    f"(it imports {sorted(modules)} first); expected a larger DataLoader(timeout=...) or a module "
                    "that imports without hanging"
                ) from None
            if len(head) < SIGNED.size:
                code = proc.poll() if proc is not None else None
                raise DataError(
                    f"WorkerPool: the worker server ended (exit code {code}) before starting a worker; "
                    f"it was importing {sorted(modules)}"
                )
            (pid,) = SIGNED.unpack(head)
            if pid < 0:
                raise OSError(-pid, os.strerror(-pid))
            if pid == 0:
                (size,) = SIGNED.unpack(_read_exact(status_r, SIGNED.size, time.monotonic() + 5, alive))
                text = _read_exact(status_r, size, time.monotonic() + 5, alive).decode(errors="replace")
                raise ConfigError(
                    f"WorkerPool: the worker server could not import the main script {main[1] if main else ''!r} "
                    f"(the source is defined there):\n{text}"
                )
        except BaseException:
            os.close(status_r)
            conn.close()
            raise
        worker = ServerWorker(pid, status_r)
        with contextlib.suppress(OSError):  # it died at once: the pool finds out and names its exit code
            conn.send_bytes(payload)
        return worker, conn

    def _close_socket(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def stop(self) -> None:
        """Stop the server (its workers end when their pipes close); safe to call twice."""
        with self._lock:
            self._close_socket()  # EOF: the server returns from its loop
            proc, self._proc = self._proc, None
            if proc is not None:
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


class ServerLauncher:
    """What ``start_workers`` needs to fork the workers of one pool from the server."""

    def __init__(
        self, server: ForkServer, modules: frozenset[str], main: tuple[str, str] | None, timeout: float
    ) -> None:
        self.server, self.modules, self.main, self.timeout = server, modules, main, timeout

    def fork_worker(self, payload: bytes, prefix: str) -> tuple[ServerWorker, Connection]:
        return self.server.fork_worker(payload, prefix, self.modules, self.main, self.timeout)


SERVER = ForkServer()
atexit.register(SERVER.stop)  # registered before the pools' own exit hook, so it runs after it
