"""Where ``pack`` writes: a local folder in place, or a remote folder through a local staging folder.

``array_record`` writes local files only. A local output is written in place: each file under
a ``.partial`` name, renamed when every shard is complete. A remote output (any fsspec URL) is
staged one shard at a time: the shard is written to a local temporary folder, hashed, uploaded
under its final name and deleted, so the local disk holds one shard at most; the other files
(the CRC file, files a modality writes such as ``tokenizer.json``) follow, and ``index.json``
is uploaded last. An object appears whole or not at all, so an interrupted remote pack leaves
shards without ``index.json``: an incomplete pack, as locally.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from modalax._src.errors import ConfigError
from modalax._src.packed.index import INDEX_NAME, PARTIAL, FileSum, PackedIndex, incomplete_files
from modalax._src.packed.integrity import file_sha256
from modalax._src.remote import RemotePath

__all__ = ["PackOutput", "check_out", "sync"]


def sync(path: Path) -> None:
    """Flush a local file to the disk."""
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def check_out(out: Path | RemotePath) -> bool:
    """Refuse a folder that is not new or empty (naming an interrupted pack as such); True if created."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"pack.out_dir: {str(out)!r} is a file; expected a new folder")
    entries = list(out.iterdir()) if out.is_dir() else []
    if entries:
        if (out / INDEX_NAME).is_file():
            held = "a complete pack (index.json)"
        elif incomplete_files(out):
            found = incomplete_files(out)
            held = f"an incomplete pack ({len(found)} file(s) such as {found[0]!r}, no index.json): delete it first"
        else:
            held = f"{len(entries)} other entries"
        raise ConfigError(
            f"pack.out_dir: {str(out)!r} exists and is not an empty folder (it holds {held}); expected a new folder"
        )
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"pack.out_dir: cannot create {str(out)!r}: {exc.strerror or exc}") from exc
    return created


class PackOutput:
    """The output folder ``out`` and ``local``, the local folder files are written in (``out`` itself if local)."""

    def __init__(self, out: Path | RemotePath, created: bool) -> None:
        self.out = out
        self.created = created
        self.remote = isinstance(out, RemotePath)
        self.local = out if isinstance(out, Path) else Path(tempfile.mkdtemp(prefix="modalax-pack-"))

    def shard_file(self, name: str) -> Path:
        """The local file shard ``name`` is written to."""
        return self.local / (name + PARTIAL)

    def publish(self, written: Path, name: str) -> None:
        """A complete shard: uploaded and deleted (remote), or left to be renamed by ``commit`` (local)."""
        if self.remote:
            assert isinstance(self.out, RemotePath)
            (self.out / name).upload(written)
            written.unlink()

    def commit(self, partials: list[str], skip: set[str]) -> dict[str, FileSum]:
        """Rename ``partials`` (local ``.partial`` files) to their final names and upload the files that are not
        shards (remote); returns the size and SHA-256 of every file of the pack except ``skip`` (the shards)."""
        for name in partials:
            src = self.local / (name + PARTIAL)
            if src.exists():
                os.replace(src, self.local / name)
        files = {
            p.name: FileSum(p.stat().st_size, file_sha256(p))
            for p in sorted(self.local.iterdir())
            if p.is_file() and p.name not in skip
        }
        if self.remote:
            assert isinstance(self.out, RemotePath)
            for name in files:
                (self.out / name).upload(self.local / name)
        return files

    def write_index(self, index: PackedIndex) -> None:
        """``index.json``, last: from now on the folder is a complete pack."""
        index.write(self.out)
        self.close()

    def close(self) -> None:
        """Remove the local staging folder (remote outputs)."""
        if self.remote:
            shutil.rmtree(self.local, ignore_errors=True)

    def clean(self) -> None:
        """Remove what a failed pack wrote (the folder was new or empty, so all of it is ours)."""
        self.close()
        if isinstance(self.out, RemotePath):
            for entry in self.out.iterdir():
                entry.rmtree() if entry.is_dir() else entry.unlink(missing_ok=True)
            if self.created:
                self.out.rmdir()
            return
        for path in self.out.iterdir():
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        if self.created:
            self.out.rmdir()
