"""The one path helper of every path-taking API: local paths stay ``pathlib.Path``, URLs become ``RemotePath``.

``as_path(value)`` returns a plain ``Path`` for a local path (and for ``file://`` URLs), so
local reads keep the OS path, unchanged and as fast; a URL of any filesystem ``fsspec`` knows
(``gs://``, ``s3://``, ``hf://``, ``https://``, ``memory://``, chained ones such as
``simplecache::s3://``) becomes a ``RemotePath``: the subset of ``pathlib.Path`` the readers
and writers use (``/``, ``name``, ``exists``, ``is_dir``, ``iterdir``, ``stat``, ``open``,
``read_bytes``, ...) over fsspec, each call retried as ``modalax._src.remote.retry`` says.

A ``RemotePath`` carries its storage options (``set_storage_options``) and retry policy from
the moment it is made, and pickles with them, so a loader's worker processes and a Beam
pipeline's workers reach the same remote the same way. It has no ``__fspath__``: handing
one to ``open()`` or ``os.stat`` is a ``TypeError``, never a silent local lookup.

Costs: every call is a request (``stat`` a HEAD, ``read_bytes`` a GET, ``iterdir`` a
listing); ``walk_files`` lists a tree in one recursive listing where the store supports it
and keeps each file's size and stamp, so fingerprints of listed files cost no request.
Files open for reading through ``RemoteFile``, which streams in buffers (fsspec's read-ahead)
and reopens at its position when a read fails.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, TypeAlias

from modalax._src.errors import ConfigError, DataError
from modalax._src.remote.fs import filesystem, set_storage_options, storage_options, string_protocols
from modalax._src.remote.retry import RetryPolicy, call, retry_policy

__all__ = [
    "RemoteFile",
    "RemotePath",
    "PathArg",
    "RemoteStat",
    "as_path",
    "is_url",
    "open_path",
    "set_storage_options",
    "storage_options",
    "url_protocols",
]


def url_protocols(value: Any) -> tuple[str, ...]:
    """The protocols of a URL (``("simplecache", "s3")`` for a chained one); ``()`` for a local path."""
    if isinstance(value, RemotePath):
        return value.protocols
    if not isinstance(value, str):
        return ()
    return string_protocols(value)


def is_url(value: Any) -> bool:
    """Whether ``value`` is a remote location (a ``RemotePath`` or a URL string other than ``file://``)."""
    return bool(url_protocols(value))


class RemoteStat:
    """``st_size`` and a change stamp (``st_mtime_ns``, or the ETag) of a remote file."""

    def __init__(self, info: Mapping[str, Any]) -> None:
        size = info.get("size")
        self.st_size: int = int(size) if size is not None else -1
        stamp = next((info[k] for k in ("ETag", "etag", "mtime", "LastModified", "last_modified") if info.get(k)), "")
        self.stamp = str(stamp)
        mtime = info.get("mtime")
        self.st_mtime_ns = int(float(mtime) * 1e9) if isinstance(mtime, int | float) else 0


def _join(url: str, name: str) -> str:
    return url + name if url.endswith("/") else f"{url}/{name}"


class RemotePath:
    """A URL with the subset of ``pathlib.Path`` that modalax uses, over fsspec (see the module docstring)."""

    __slots__ = ("_fs", "info_cache", "options", "policy", "protocols", "url")

    def __init__(
        self,
        url: str,
        options: Mapping[str, Any] | None = None,
        policy: RetryPolicy | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        protocols = url_protocols(url)
        if not protocols:
            raise ConfigError(f"RemotePath: got {url!r}, expected a URL such as 's3://bucket/key'")
        head, sep, rest = url.partition("://")
        self.url = head + sep + rest.rstrip("/") if rest.strip("/") else url
        self.protocols = protocols
        self.options = dict(storage_options(protocols[-1]) if options is None else options)
        self.policy = retry_policy() if policy is None else policy
        self.info_cache = dict(info) if info is not None else None
        self._fs: Any = None

    # ------------------------------------------------------------ pure path
    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"RemotePath({self.url!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemotePath) and other.url == self.url

    def __hash__(self) -> int:
        return hash(self.url)

    def __lt__(self, other: RemotePath) -> bool:
        return self.url < other.url

    def __reduce__(self) -> Any:
        return (RemotePath, (self.url, self.options, self.policy, self.info_cache))

    def __truediv__(self, name: str | os.PathLike[str]) -> RemotePath:
        return self.joinpath(name)

    def joinpath(self, *names: str | os.PathLike[str]) -> RemotePath:
        """This URL with ``names`` appended (``/``-separated)."""
        url = self.url
        for name in names:
            url = _join(url, str(name).strip("/"))
        return RemotePath(url, self.options, self.policy)

    @property
    def name(self) -> str:
        """The last part of the URL's path."""
        return PurePosixPath(self.url.partition("://")[2]).name

    @property
    def suffix(self) -> str:
        """The file extension of ``name`` (``".png"``)."""
        return PurePosixPath(self.name).suffix

    @property
    def stem(self) -> str:
        """``name`` without ``suffix``."""
        return PurePosixPath(self.name).stem

    @property
    def parent(self) -> RemotePath:
        """The URL one level up (itself at the top)."""
        head, sep, rest = self.url.partition("://")
        up = rest.rpartition("/")[0] if "/" in rest else ""
        return RemotePath(head + sep + up, self.options, self.policy) if up else self

    def with_name(self, name: str) -> RemotePath:
        """The sibling named ``name``."""
        return self.parent / name

    # ------------------------------------------------------------ filesystem
    @property
    def fs(self) -> Any:
        """The fsspec filesystem (made on first use in each process)."""
        if self._fs is None:
            self._fs = filesystem(self.url, self.protocols, self.options, self.policy)
        return self._fs[0]

    @property
    def fs_path(self) -> str:
        """This path as the filesystem names it."""
        self.fs  # noqa: B018 - resolves it
        return str(self._fs[1])

    def call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` with the retry policy; asynchronous filesystems get the request timeout."""
        if getattr(self.fs, "async_impl", False):
            kwargs.setdefault("timeout", self.policy.timeout)
        return call(self.url, what, lambda: fn(*args, **kwargs), self.policy)

    def info(self) -> dict[str, Any]:
        """fsspec's ``info`` (``FileNotFoundError`` when absent)."""
        return dict(self.call("read its details", self.fs.info, self.fs_path))

    def exists(self) -> bool:
        """Whether anything is at this URL."""
        try:
            self.info()
        except FileNotFoundError:
            return False
        return True

    def is_dir(self) -> bool:
        """Whether this URL is a folder (a prefix holding objects, on object stores)."""
        try:
            return self.call("list it", self.fs.isdir, self.fs_path)
        except FileNotFoundError:
            return False

    def is_file(self) -> bool:
        """Whether this URL is a file."""
        if self.info_cache is not None:
            return self.info_cache.get("type", "file") == "file"
        try:
            return self.info().get("type", "file") == "file"
        except FileNotFoundError:
            return False

    def stat(self) -> RemoteStat:
        """Size and change stamp (from the listing this path came from, else one request)."""
        return RemoteStat(self.info_cache if self.info_cache is not None else self.info())

    def _child(self, name: str, info: Mapping[str, Any], base: str) -> RemotePath | None:
        rel = name[len(base) :].strip("/") if name.startswith(base) else ""
        if not rel:
            return None
        out = self.joinpath(rel)
        out.info_cache = dict(info)
        return out

    def _base(self) -> str:
        return self.fs_path.rstrip("/")

    def iterdir(self) -> Iterator[RemotePath]:
        """The entries directly in this folder, sorted by URL."""
        listed = self.call("list it", self.fs.ls, self.fs_path, detail=True)
        base = self._base()
        children = [self._child(str(e["name"]).rstrip("/"), e, base) for e in listed]
        return iter(sorted({c for c in children if c is not None and "/" not in c.url[len(self.url) + 1 :]}))

    def walk_files(self) -> list[RemotePath]:
        """Every file below this folder (one recursive listing), with its size and stamp kept."""
        found = self.call("list it", self.fs.find, self.fs_path, detail=True)
        base = self._base()
        children = [
            self._child(str(name), info, base) for name, info in found.items() if info.get("type") != "directory"
        ]
        return sorted(c for c in children if c is not None)

    def open(self, mode: str = "rb", **kwargs: Any) -> Any:
        """A file object: reading streams through ``RemoteFile`` (retried); writing is fsspec's (written on close)."""
        if mode in ("r", "rb"):
            file = RemoteFile(self)
            call(self.url, "open it", file._open, self.policy, reset=file._reset)  # a missing file fails here
            raw = io.BufferedReader(file, buffer_size=1 << 16)
            return raw if mode == "rb" else io.TextIOWrapper(raw, encoding=kwargs.get("encoding") or "utf-8")
        if mode in ("w", "wb"):
            return self.fs.open(self.fs_path, mode, **kwargs)
        raise ConfigError(f"RemotePath.open: got mode {mode!r}, expected 'rb', 'r', 'wb' or 'w'")

    def read_bytes(self) -> bytes:
        """The whole file (one request, retried)."""
        return bytes(self.call("read it", self.fs.cat_file, self.fs_path))

    def read_text(self, encoding: str = "utf-8") -> str:
        """The whole file as text."""
        return self.read_bytes().decode(encoding)

    def read_range(self, start: int, end: int) -> bytes:
        """Bytes ``start:end`` (one ranged request, retried)."""
        return bytes(self.call(f"read bytes {start}:{end}", self.fs.cat_file, self.fs_path, start=start, end=end))

    def read_ranges(self, starts: Sequence[int], ends: Sequence[int]) -> list[bytes]:
        """Several byte ranges, fetched concurrently where the filesystem can (retried together)."""
        if not starts:
            return []

        def fetch(**kw: Any) -> list[bytes]:
            got = self.fs.cat_ranges([self.fs_path] * len(starts), list(starts), list(ends), on_error="raise", **kw)
            return [bytes(g) for g in got]

        return self.call(f"read {len(starts)} byte ranges", fetch)

    def write_bytes(self, data: bytes) -> int:
        """Write the whole file (one request, retried)."""
        self.call("write it", self.fs.pipe_file, self.fs_path, bytes(data))
        return len(data)

    def write_text(self, text: str, encoding: str = "utf-8") -> int:
        """Write ``text`` as the whole file."""
        return self.write_bytes(text.encode(encoding))

    def upload(self, local: str | os.PathLike[str]) -> None:
        """Copy the local file ``local`` here (retried as a whole)."""
        self.call("upload to it", self.fs.put_file, os.fspath(local), self.fs_path)

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Make the folder (a no-op on object stores, whose folders are prefixes)."""
        self.call("create it", self.fs.makedirs, self.fs_path, exist_ok=True)

    def unlink(self, missing_ok: bool = False) -> None:
        """Remove the file."""
        try:
            self.call("remove it", self.fs.rm_file, self.fs_path)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def rmtree(self) -> None:
        """Remove the folder and everything below it."""
        with contextlib.suppress(FileNotFoundError):
            self.call("remove it", self.fs.rm, self.fs_path, recursive=True)

    def rmdir(self) -> None:
        """Remove the (empty) folder, where the store has folders."""
        with contextlib.suppress(FileNotFoundError, DataError):  # object stores: an empty prefix does not exist
            self.call("remove it", self.fs.rmdir, self.fs_path)


class RemoteFile(io.RawIOBase):
    """A remote file read front to back or by seeking; a failed read reopens at the same position."""

    def __init__(self, path: RemotePath) -> None:
        super().__init__()
        self.path = path
        self.pos = 0
        self._file: Any = None
        self.name = path.url

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def _open(self) -> Any:
        if self._file is None:
            self._file = self.path.fs.open(self.path.fs_path, "rb")
            if self.pos:
                self._file.seek(self.pos)
        return self._file

    def _reset(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(Exception):  # a broken connection may fail to close too
                file.close()

    def readinto(self, buffer: Any) -> int:
        n = len(buffer)
        data = call(self.path.url, "read it", lambda: self._open().read(n), self.path.policy, reset=self._reset)
        buffer[: len(data)] = data
        self.pos += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self.pos + offset
        else:
            pos = self.path.stat().st_size + offset
        if pos != self.pos and self._file is not None:
            call(self.path.url, "seek in it", lambda: self._open().seek(pos), self.path.policy, reset=self._reset)
        self.pos = pos
        return pos

    def tell(self) -> int:
        return self.pos

    def close(self) -> None:
        self._reset()
        super().close()


#: Any path an API takes: a local path or a URL (str), an ``os.PathLike`` or a ``RemotePath``.
PathArg: TypeAlias = str | os.PathLike[str] | RemotePath


def as_path(value: PathArg) -> Path | RemotePath:
    """``value`` as a ``Path`` (local paths, ``file://`` URLs) or a ``RemotePath`` (any other URL)."""
    if isinstance(value, RemotePath | Path):
        return value
    if isinstance(value, str):
        if is_url(value):
            return RemotePath(value)
        if value.lower().startswith("file://"):
            return Path(value[len("file://") :])
        return Path(value)
    if isinstance(value, os.PathLike):
        return Path(value)
    raise ConfigError(f"got {type(value).__name__} {value!r} as a path; expected a str, an os.PathLike or a URL")


def open_path(value: str | os.PathLike[str] | RemotePath, mode: str = "rb") -> Any:
    """A file object for any path: ``open()`` for local ones, ``RemotePath.open`` for URLs."""
    path = as_path(value)
    return path.open(mode)
