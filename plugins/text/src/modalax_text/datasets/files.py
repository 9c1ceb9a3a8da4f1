"""``TextFileDataset``: plain-text files (one sample a line) and JSONL (a named field), read lazily.

Construction scans each file once, in chunks, for the byte offsets of its non-blank lines;
records are read by offset when asked for.  Without a tokenizer, the vocabulary is built in
one streaming pass over the records.

Lines end at ``\n``, ``\r\n`` or a lone ``\r`` (old Mac files); a UTF-8 byte-order mark at
the start of a file is skipped.  The encoding must be ASCII-compatible (line ends are found
on the bytes), so UTF-16/32 files are refused with a ``ConfigError``.
"""

from __future__ import annotations

import codecs
import enum
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from flax import nnx

from modalax.plugin import ConfigError, DataError, MissingFieldError, ModalityConfiguration, as_path, is_url
from modalax_text.datasets.base import TextDataset, check_min_length, resolve_config, token_lengths
from modalax_text.tokenizer import Tokenizer

__all__ = ["FileFormat", "TextFileDataset"]

_SCAN_CHUNK = 1 << 24
_ASCII_SPACE = np.zeros(256, bool)
_ASCII_SPACE[[9, 10, 11, 12, 13, 32]] = True


class FileFormat(enum.StrEnum):
    """How a file holds its samples."""

    AUTO = "auto"  # .jsonl / .ndjson -> JSONL, anything else -> text
    TEXT = "text"  # one sample a line
    JSONL = "jsonl"  # one JSON object a line; the sample is its ``field``


def _line_index(path: Path, bom: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, end, line number) of the non-blank lines of ``path``, scanned in chunks.

    A line ends at ``\n``, or at a ``\r`` not followed by ``\n`` (a ``\r\n`` line keeps its
    ``\r``, which ``_decode`` strips).  ``bom`` bytes at the very start are skipped.
    """
    ends, content = [], []
    breaks_before = 0
    with path.open("rb") as f:
        offset = 0
        head = f.read(len(bom)) if bom else b""
        if head == bom and bom:
            offset = len(bom)
        else:
            f.seek(0)
        first = offset
        while chunk := f.read(_SCAN_CHUNK):
            if chunk.endswith(b"\r"):  # see whether a \n follows before classifying this \r
                chunk += f.read(1)
            b = np.frombuffer(chunk, np.uint8)
            cr = b == 13
            cr[:-1] &= b[1:] != 10
            if chunk.endswith(b"\r"):  # the file's last byte: a line end
                cr[-1] = True
            brk = np.flatnonzero((b == 10) | cr)
            filled = np.flatnonzero(~_ASCII_SPACE[b])
            # a non-space byte at p belongs to the line numbered by the line ends before it
            content.append(np.unique(breaks_before + np.searchsorted(brk, filled)))
            ends.append(offset + brk)
            breaks_before += len(brk)
            offset += len(chunk)
    line_end = np.concatenate([*ends, [offset]]).astype(np.int64)
    line_start = np.concatenate([[first], line_end[:-1] + 1])
    keep = np.unique(np.concatenate(content)).astype(np.int64) if content else np.zeros(0, np.int64)
    return line_start[keep], line_end[keep], keep + 1


def _check_encoding(encoding: Any) -> tuple[str, bytes]:
    """(codec name, the BOM to skip) of an ASCII-compatible ``encoding``; ``ConfigError`` otherwise."""
    if not isinstance(encoding, str):
        raise ConfigError(f"TextFileDataset.encoding: got {encoding!r}, expected a codec name such as 'utf-8'")
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise ConfigError(
            f"TextFileDataset.encoding: got {encoding!r}, which Python does not know; expected a codec name "
            "such as 'utf-8', 'latin-1' or 'cp1252'"
        ) from None
    try:
        compatible = "\n\r a".encode(info.name) == b"\n\r a"
    except UnicodeError:
        compatible = False
    if not compatible:
        raise ConfigError(
            f"TextFileDataset.encoding: got {encoding!r}, which is not ASCII-compatible (lines are found on the "
            "bytes); expected an encoding such as 'utf-8' or 'latin-1' (convert UTF-16/32 files to UTF-8)"
        )
    return info.name, (codecs.BOM_UTF8 if info.name in ("utf-8", "utf-8-sig") else b"")


def _lookup_field(obj: Any, field: str) -> tuple[bool, Any]:
    """``obj[field]``, else ``obj["a"]["b"]`` for ``field="a.b"``: (found, value)."""
    if isinstance(obj, dict) and field in obj:
        return True, obj[field]
    node = obj
    for part in field.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


class _Index:
    """Per-file line offsets, kept out of nnx state."""

    def __init__(self, paths: list[Path], bom: bytes) -> None:
        self.paths = paths
        spans = [_line_index(p, bom) for p in paths]
        self.starts = [s for s, _, _ in spans]
        self.ends = [e for _, e, _ in spans]
        self.lines = [n for _, _, n in spans]
        self.cumulative = np.cumsum([0] + [len(s) for s in self.starts])
        self.kept: np.ndarray | None = None  # min_length: the non-blank lines kept, else None (all)


class TextFileDataset(TextDataset):
    """Samples from text or JSONL files, read lazily by index.

    ``path`` is a file or a list of files (records follow file order).  ``format`` is
    ``"text"`` (one sample a line; blank lines are skipped), ``"jsonl"`` (the sample is the
    string ``field`` of each JSON object; ``"meta.text"`` reads a nested field) or ``"auto"``
    (by suffix).  ``tokenizer`` may be a ``Tokenizer``, ``CharTokenizer``, any encode/decode
    tokenizer, the path of a saved vocabulary, or None to build a word vocabulary from the
    files.  ``min_length`` leaves out records of fewer tokens (one tokenizing pass at
    construction; ``kept_indices`` maps records to their position among the non-blank lines).
    ``seed`` or ``rngs`` seed ``get_batch`` (the records are the lines).
    """

    traceable = False

    def __init__(
        self,
        config: ModalityConfiguration | None = None,
        path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = (),
        split: str = "train",
        *,
        seed: int | None = None,
        rngs: nnx.Rngs | int | None = None,
        format: str = "auto",
        field: str = "text",
        tokenizer: Any = None,
        min_freq: int = 1,
        encoding: str = "utf-8",
        min_length: int = 0,
    ) -> None:
        config, params = resolve_config(config)
        super().__init__(config, split, seed=seed, rngs=rngs)
        # local paths stay Path; URLs (s3://, https://, ...) go through modalax's path helper
        single = isinstance(path, str | os.PathLike) or is_url(path)
        paths: list[Any] = [as_path(path)] if single else [as_path(p) for p in path]  # type: ignore[arg-type, union-attr]
        if not paths:
            raise ConfigError("TextFileDataset.path: got no files, expected a file path or a list of them")
        for p in paths:
            if not p.is_file():
                raise DataError(f"TextFileDataset.path: {str(p)!r} is not a readable file")
        try:
            self.format = FileFormat(format)
        except ValueError:
            raise ConfigError(
                f"TextFileDataset.format: got {format!r}, expected one of {', '.join(f.value for f in FileFormat)}"
            ) from None
        if not isinstance(field, str) or not field:
            raise ConfigError(f"TextFileDataset.field: got {field!r}, expected a non-empty string")
        self.field = field
        min_length = check_min_length("TextFileDataset", min_length)
        self.encoding, bom = _check_encoding(encoding)
        self._index = _Index(paths, bom)
        if len(self) == 0:
            raise DataError(f"TextFileDataset: no non-blank lines in {', '.join(map(str, paths))}")
        if tokenizer is None:
            tokenizer = Tokenizer.from_corpus(self.iter_texts(), params, min_freq=min_freq)
        self._set_text(params, tokenizer)
        if min_length:
            self._filter(min_length)

    def _filter(self, min_length: int, chunk: int = 65536) -> None:
        """Keep the records of at least ``min_length`` tokens (an index list: records stay pure in their index)."""
        kept = [
            start
            + np.flatnonzero(
                token_lengths(self.get_records(np.arange(start, stop))["text_tokens"], self.params) >= min_length
            )
            for start, stop in ((s, min(len(self), s + chunk)) for s in range(0, len(self), chunk))
        ]
        found = np.concatenate(kept).astype(np.int64)
        if len(found) == 0:
            raise DataError(
                f"TextFileDataset.min_length: got {min_length}, but no record of "
                f"{', '.join(map(str, self.paths))} has that many tokens; expected a smaller min_length"
            )
        self._index.kept = found

    @property
    def kept_indices(self) -> np.ndarray | None:
        """With ``min_length``, each record's position among the non-blank lines; None when all are kept."""
        return self._index.kept

    @property
    def paths(self) -> list[Path]:
        """The files, in record order."""
        return self._index.paths

    def __len__(self) -> int:
        if self.kept_indices is not None:
            return len(self.kept_indices)
        return int(self._index.cumulative[-1])

    def _is_jsonl(self, path: Path) -> bool:
        if self.format is FileFormat.AUTO:
            return path.suffix.lower() in (".jsonl", ".ndjson")
        return self.format is FileFormat.JSONL

    def read_texts(self, indices: Any) -> list[str]:
        """The raw samples at ``indices`` (no tokenization)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        if len(idx) and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"TextFileDataset: indices must be in [0, {n}), got {idx.min()}..{idx.max()}")
        if self.kept_indices is not None:
            idx = self.kept_indices[idx]
        index = self._index
        file_of = np.searchsorted(index.cumulative, idx, side="right") - 1
        out: list[str] = [""] * len(idx)
        for k in np.unique(file_of).tolist():
            where = np.flatnonzero(file_of == k)
            local = idx[where] - index.cumulative[k]
            path, jsonl = index.paths[k], self._is_jsonl(index.paths[k])
            with path.open("rb") as f:
                for j, line in zip(where.tolist(), local.tolist(), strict=True):
                    f.seek(int(index.starts[k][line]))
                    raw = f.read(int(index.ends[k][line] - index.starts[k][line]))
                    out[j] = self._decode(raw, path, int(index.lines[k][line]), jsonl)
        return out

    def _decode(self, raw: bytes, path: Path, line: int, jsonl: bool) -> str:
        where = f"{str(path)!r} line {line}"
        try:
            text = raw.decode(self.encoding).rstrip("\r")
        except UnicodeDecodeError as exc:
            raise DataError(f"cannot decode {where} as {self.encoding}: {exc}") from exc
        if not jsonl:
            return text
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise DataError(f"cannot parse {where} as JSON: {exc}") from exc
        found, value = _lookup_field(obj, self.field)
        if not found:
            have = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
            raise MissingFieldError(f"{where}: missing field {self.field!r}; the record has {have}")
        if not isinstance(value, str):
            raise DataError(f"{where}: field {self.field!r} is {type(value).__name__}, expected a string")
        return value

    def iter_texts(self, chunk: int = 65536) -> Iterator[str]:
        """Every sample in order, read in chunks."""
        for start in range(0, len(self), chunk):
            yield from self.read_texts(np.arange(start, min(len(self), start + chunk)))

    def get_records(self, indices: Any) -> dict[str, Any]:
        """``text_tokens`` (numpy int32) and ``texts`` of the records at ``indices``."""
        texts = self.read_texts(indices)
        return {"text_tokens": self.tokenizer.tokenize(texts), "texts": texts}
