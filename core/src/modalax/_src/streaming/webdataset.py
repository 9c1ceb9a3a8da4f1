"""Tar shards in the WebDataset layout, read as a stream with the standard library's ``tarfile``.

Layout: a sample is the run of consecutive members sharing a key, the member's path up to the
first dot of its file name; the rest is the field (``shard/000123.seg.png``: key
``shard/000123``, field ``seg.png``). Each shard is opened in ``tarfile``'s streaming mode
(``"r|*"``: one forward pass, no seek, plain or gzip/bz2/xz compressed), so a shard is read
once, front to back, in buffers, and never whole into memory; members already passed are
forgotten (``tarfile`` would keep every header of the pass). Skipping to a position reads
the headers and passes over the data of the samples before it without decoding them.

Why ``tarfile``: it is the standard library (no dependency in core), reads any readable file
object (so remote paths need only an opener: URLs open through ``modalax._src.remote``), and
raises on truncated data; the
``webdataset`` package is a pipeline library (its own shuffling, batching and workers) that
the loader would have to bypass to keep its guarantees. Two checks ``tarfile`` does not make
in streaming mode are added: an archive must end with its end-of-archive blocks (a shard cut
at a member boundary otherwise reads as a shorter, valid one), and a header that cannot be
parsed after the first is an error (``tarfile`` takes it for the end).
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

from modalax._src.errors import ConfigError, DataError
from modalax._src.remote import RemotePath, as_path, open_path
from modalax._src.streaming.decode import FieldDecoding
from modalax._src.streaming.source import OnError, Sample, StreamSource, skip_to

__all__ = ["WebDatasetSource", "split_member"]

_END = "end-of-archive"
_FORGET_EVERY = 64  # members between clearing tarfile's list of passed headers


class _Info(tarfile.TarInfo):
    """Records why a streaming ``tarfile`` stopped: its end-of-archive blocks, or something else."""

    @classmethod
    def fromtarfile(cls, tarfile_: tarfile.TarFile) -> Any:
        try:
            return super().fromtarfile(tarfile_)
        except tarfile.EOFHeaderError:  # type: ignore[attr-defined]  # not in typeshed; present since 3.2
            tarfile_.modalax_stop = _END  # type: ignore[attr-defined]
            raise
        except tarfile.EmptyHeaderError:  # type: ignore[attr-defined]
            tarfile_.modalax_stop = "the file ends without the end-of-archive blocks"  # type: ignore[attr-defined]
            raise
        except tarfile.HeaderError as exc:
            tarfile_.modalax_stop = f"{type(exc).__name__}: {exc}"  # type: ignore[attr-defined]
            raise


def split_member(name: str) -> tuple[str, str]:
    """``(key, field)`` of a member path: the key ends at the first dot of the file name."""
    folder, _, base = name.rpartition("/")
    stem, dot, field = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), (field if dot else "")


def open_shard(path: str) -> IO[bytes]:
    """The shard's bytes as a file object (the one place a path is opened): a local file, or a URL
    streamed through the remote path helper (read in buffers, retried, never downloaded first)."""
    return open_path(path, "rb")


class WebDatasetSource(StreamSource):
    """Tar shards (paths, or a folder of ``*.tar*`` files) in the WebDataset layout.

    ``fields`` lists the fields every sample must have (others are ignored); without it, the
    fields of each shard's first sample are expected of the rest of that shard. A missing
    field, a duplicated one, a key whose members are not consecutive, a missing or truncated
    shard is a ``DataError`` naming the shard and the sample (``on_error="skip"`` leaves the
    sample, or the rest of the shard, out and counts it). Fields decode by extension (see
    ``modalax._src.streaming.decode``): ``decode``, ``configs`` and ``rename`` configure it.
    """

    def __init__(
        self,
        shards: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
        *,
        fields: Sequence[str] | None = None,
        decode: Mapping[str, Any] | None = None,
        configs: Mapping[str, Any] | None = None,
        rename: Mapping[str, str] | None = None,
        shard_sizes: Any = None,
        on_error: OnError = "raise",
    ) -> None:
        owner = type(self).__name__
        if isinstance(shards, str | os.PathLike | RemotePath) and as_path(shards).is_dir():
            found = sorted(p for p in as_path(shards).iterdir() if ".tar" in p.name and p.is_file())
            if not found:
                raise DataError(f"{owner}.shards: no *.tar files in {str(shards)!r}; expected WebDataset shards")
            paths = [str(p) for p in found]
        elif isinstance(shards, str | os.PathLike | RemotePath):
            paths = [str(shards)]
        elif isinstance(shards, Sequence):
            paths = [str(p) for p in shards]
        else:
            raise ConfigError(f"{owner}.shards: got {type(shards).__name__}, expected a folder, a path or a list")
        if fields is not None and (isinstance(fields, str) or not all(isinstance(f, str) and f for f in fields)):
            raise ConfigError(f"{owner}.fields: got {fields!r}, expected a list of field names such as ['jpg', 'cls']")
        super().__init__(paths, shard_sizes=shard_sizes, on_error=on_error)
        self.fields = None if fields is None else tuple(dict.fromkeys(fields))
        self.decoding = FieldDecoding(owner, decode, configs, rename)

    def _members(self, shard: int) -> Iterator[tuple[str, str, tarfile.TarFile, tarfile.TarInfo]]:
        """``(key, field, archive, member)`` of the regular members, in order; the caller reads the data."""
        path = self.shards[shard]
        try:
            handle = open_shard(path)
        except FileNotFoundError:
            raise DataError(f"{self.where(shard)}: no such file; expected a tar shard") from None
        except OSError as exc:
            raise DataError(f"{self.where(shard)}: cannot be opened ({type(exc).__name__}: {exc})") from exc
        with handle:
            try:
                archive = tarfile.open(fileobj=handle, mode="r|*", tarinfo=_Info)  # noqa: SIM115
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise DataError(f"{self.where(shard)}: not a readable tar archive ({exc})") from exc
            count = 0
            try:
                for member in archive:
                    count += 1
                    if count % _FORGET_EVERY == 0:
                        archive.members = []  # type: ignore[attr-defined]  # streaming tarfile keeps every header it passed
                    if member.isfile():
                        key, field = split_member(member.name)
                        yield key, field, archive, member
            except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
                raise DataError(
                    f"{self.where(shard)}: truncated or corrupt after {count} member(s) ({type(exc).__name__}: {exc}); "
                    "expected a complete tar archive"
                ) from exc
            stop = getattr(archive, "modalax_stop", None)
            if stop != _END:
                why = stop or "it ends without the end-of-archive blocks"
                raise DataError(
                    f"{self.where(shard)}: truncated after {count} member(s) ({why}); expected a complete tar archive"
                )

    def samples(self, shard: int, start: int = 0) -> Iterator[Sample]:
        """``(key, (fields, expected))`` per sample: ``fields`` maps field -> bytes, ``expected`` are the
        fields the sample must have. Data is read only from position ``start`` on."""
        return skip_to(self._samples(shard, start), start)

    def _samples(self, shard: int, start: int) -> Iterator[Sample]:
        seen: set[str] = set()
        key: str | None = None
        fields: dict[str, bytes] = {}
        expected = self.fields
        position = 0
        for k, field, archive, member in self._members(shard):
            if k != key:
                if key is not None:
                    expected = expected or tuple(sorted(fields))  # the shard's first sample sets them
                    yield key, (fields, expected)
                    position += 1
                if k in seen:
                    raise DataError(
                        f"{self.where(shard, k)}: its members are not consecutive; expected the members of a sample "
                        "next to each other (write shards in key order)"
                    )
                seen.add(k)
                key, fields = k, {}
            if field in fields:
                raise DataError(f"{self.where(shard, k)}: field {field!r} appears twice; expected one member per field")
            if position < start:
                fields[field] = b""  # passed over: its data is skipped, not read
                continue
            try:
                data = archive.extractfile(member)
                fields[field] = data.read() if data is not None else b""
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise DataError(f"{self.where(shard, k)}: field {field!r} is truncated ({exc})") from exc
        if key is not None:
            yield key, (fields, expected or tuple(sorted(fields)))

    def decode(self, key: str, raw: Any, shard: int) -> dict[str, Any]:
        where = self.where(shard, key)
        fields, expected = raw
        if "" in fields:
            raise DataError(f"{where}: a member without a field extension; expected names like '{key}.jpg'")
        missing = [f for f in expected if f not in fields]
        if missing:
            how = "fields=" if self.fields is not None else "the shard's first sample"
            raise DataError(
                f"{where}: missing field(s) {missing}; has {sorted(fields)}, expected {list(expected)} ({how})"
            )
        extra = [f for f in fields if f not in expected]
        if extra and self.fields is None:
            raise DataError(
                f"{where}: extra field(s) {extra}; expected {list(expected)} like the shard's first sample "
                "(pass fields=[...] to read a subset)"
            )
        return self.decoding.record({f: fields[f] for f in expected}, where)
