"""Real remote servers on the loopback address for the remote-storage tests, started by the tests.

* ``FolderServer``: the standard library's ``http.server`` serving a folder on 127.0.0.1, with
  HTTP range requests (what real servers and object stores give, and what ranged reads of packed
  shards need) and switchable faults: the next ``fail`` requests answer ``status``; ``hang``
  seconds of silence before answering; a required ``Authorization`` header (403 otherwise).
* ``moto_s3``: moto's S3 server (``moto[server]``) in a thread on 127.0.0.1, reached through
  s3fs with ``modalax.set_storage_options("s3", endpoint_url=...)``.

Every request is bounded: servers stop at the end of the test, and faults are counted.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
import time
from collections.abc import Iterator
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


class _Handler(SimpleHTTPRequestHandler):
    server: FolderServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _fault(self) -> bool:
        srv = self.server
        with srv.lock:
            srv.requests += 1
            auth = srv.auth
            failing = srv.fail > 0
            if failing:
                srv.fail -= 1
        if srv.hang:
            time.sleep(srv.hang)
        if auth is not None and self.headers.get("Authorization") != auth:
            self.send_error(HTTPStatus.FORBIDDEN, "credentials refused")
            return True
        if failing:
            self.send_error(srv.status, "injected failure")
            return True
        return False

    def do_HEAD(self) -> None:
        if not self._fault():
            super().do_HEAD()

    def do_GET(self) -> None:
        if self._fault():
            return
        match = _RANGE.match(self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if match is None or not path.is_file():
            super().do_GET()
            return
        size = path.stat().st_size
        start = int(match.group(1))
        end = min(size - 1, int(match.group(2))) if match.group(2) else size - 1
        if start >= size:
            self.send_error(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            return
        with open(path, "rb") as fh:
            fh.seek(start)
            body = fh.read(end - start + 1)
        self.send_response(HTTPStatus.PARTIAL_CONTENT)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self.wfile.write(body)

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()


class FolderServer(ThreadingHTTPServer):
    """``http.server`` over ``folder`` on 127.0.0.1 (a free port), with range requests and faults."""

    daemon_threads = True

    def __init__(self, folder: Path) -> None:
        super().__init__(("127.0.0.1", 0), functools.partial(_Handler, directory=str(folder)))
        self.lock = threading.Lock()
        self.requests = 0
        self.fail = 0
        self.status = 503
        self.hang = 0.0
        self.auth: str | None = None
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> FolderServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
        self.server_close()


@contextlib.contextmanager
def moto_s3(bucket: str = "modalax") -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 with ``bucket`` created; yields the endpoint URL and sets modalax's
    s3 storage options to it (restored after)."""
    from moto.server import ThreadedMotoServer

    import modalax

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        modalax.set_storage_options("s3", endpoint_url=endpoint, key="testing", secret="testing")
        modalax.as_path(f"s3://{bucket}").fs.mkdir(bucket)
        yield endpoint
    finally:
        modalax.set_storage_options("s3")
        server.stop()
