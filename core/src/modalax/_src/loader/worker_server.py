"""The fork server's own process: import what the workers need once, then fork one child per worker.

This module runs in a fresh interpreter started by ``worker_launch.ForkServer``, loaded by file
path together with ``worker_process`` (never through the ``modalax`` package, whose loader
imports jax): the server imports only the standard library, numpy and the modules a request
names. It never initialises jax, and it runs no threads, so a fork of it is safe; a forked child
starts with every import done (milliseconds, against 1.5-2.5 s for a spawned interpreter that
imports jax on a busy 2-core VM).

Requests come over a ``SOCK_SEQPACKET`` Unix socket, one pickled dict each, with file
descriptors attached (SCM_RIGHTS). ``"fork"`` carries the worker's end of its pipe, the write
end of a status pipe and the main process's resource tracker (so that the shared-memory segments
a worker creates are tracked where the main process unlinks them, as multiprocessing's own
forkserver does); the server writes to the status pipe the child's pid (> 0), or
``-errno`` when ``fork`` failed (a process limit), or 0 followed by a length-prefixed message
when the request could not be prepared (the main script failed to import), and, when the child
ends, its exit code (``os.waitstatus_to_exitcode``). ``"import"`` only imports (sent when a
loader is built, so that the imports overlap the caller's own set-up). The server ends at EOF:
when the main process closes its end, exits or dies.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import runpy
import select
import signal
import socket
import struct
import sys
import traceback
import types
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["SIGNED", "serve"]

SIGNED = struct.Struct("q")


def _write(fd: int, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the main process stopped listening: nothing to tell
        while data:
            data = data[os.write(fd, data) :]


class _Server:
    def __init__(self, sock: socket.socket, worker_main: Any) -> None:
        self.sock, self.worker_main = sock, worker_main
        self.children: dict[int, int] = {}  # pid -> write end of its status pipe
        self.main_ran: Any = None  # the main script, once imported (None: not yet)

    def prepare(self, request: dict[str, Any]) -> None:
        """Take the caller's path, folder and environment, and import what the request names."""
        sys.path[:] = request["sys_path"]
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        main = request.get("main")
        if main is not None and self.main_ran != main:
            # As multiprocessing's spawn does: the script runs as __mp_main__ and stands in for
            # __main__, so that a class the script defines unpickles here.
            kind, where = main
            if kind == "name":
                ran = runpy.run_module(where, run_name="__mp_main__", alter_sys=True)
            else:
                ran = runpy.run_path(where, run_name="__mp_main__")
            module = types.ModuleType("__mp_main__")
            module.__dict__.update(ran)
            sys.modules["__main__"] = sys.modules["__mp_main__"] = module
            self.main_ran = main
        for name in request["modules"]:
            if name not in sys.modules:
                # A module that fails here fails again in the worker, which reports it with the source.
                with contextlib.suppress(Exception):
                    __import__(name)

    def fork(self, request: dict[str, Any], conn_fd: int, status_fd: int, tracker_fd: int) -> None:
        try:
            try:
                self.prepare(request)
            except BaseException as exc:  # SystemExit from a script too: reported, not obeyed
                text = "".join(traceback.format_exception(exc)).encode()
                _write(status_fd, SIGNED.pack(0) + SIGNED.pack(len(text)) + text)
                os.close(status_fd)
                return
            try:
                pid = os.fork()
            except OSError as exc:  # EAGAIN at a process limit, ENOMEM
                _write(status_fd, SIGNED.pack(-(exc.errno or 1)))
                os.close(status_fd)
                return
            if pid == 0:
                self.child(conn_fd, status_fd, tracker_fd, request["prefix"])
            self.children[pid] = status_fd
            _write(status_fd, SIGNED.pack(pid))
        finally:
            os.close(conn_fd)
            os.close(tracker_fd)

    def child(self, conn_fd: int, status_fd: int, tracker_fd: int, prefix: str) -> None:
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self.sock.close()
            for fd in [status_fd, *self.children.values()]:  # a sibling's status pipe must see its EOF
                os.close(fd)
            from multiprocessing import resource_tracker

            resource_tracker._resource_tracker._fd = tracker_fd  # type: ignore[attr-defined]
            conn = Connection(conn_fd)
            self.worker_main(conn.recv_bytes(), conn, prefix)
            code = 0
        except BaseException:
            with contextlib.suppress(Exception):
                traceback.print_exc()
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os._exit(code)

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            fd = self.children.pop(pid, None)
            if fd is not None:
                _write(fd, SIGNED.pack(os.waitstatus_to_exitcode(status)))
                os.close(fd)

    def run(self) -> None:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so that SIGCHLD wakes the select
        listening = self.sock.fileno()
        while True:
            ready, _, _ = select.select([listening, wake_r], [], [])
            if wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    while os.read(wake_r, 512):
                        pass
                self.reap()
            if listening in ready:
                data, fds, _, _ = socket.recv_fds(self.sock, 1 << 20, 3)
                if not data:
                    return  # the main process closed its end, exited or died
                request = pickle.loads(data)
                if request["op"] == "fork":
                    self.fork(request, *fds)
                else:
                    with contextlib.suppress(BaseException):
                        self.prepare(request)
                    for fd in fds:
                        os.close(fd)


def serve(fd: int, worker_process_path: str) -> None:
    """The server's main loop on the socket ``fd``; returns when the main process is gone."""
    import importlib.util

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    spec = importlib.util.spec_from_file_location("_modalax_worker_process", worker_process_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    _Server(socket.socket(fileno=fd), module.worker_main).run()
