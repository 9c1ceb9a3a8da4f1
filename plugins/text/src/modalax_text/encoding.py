"""Whole-corpus word encoding: texts to flat ids with ``-1`` between texts, without per-word Python.

Two exact paths give identical ids:

* ASCII text (the common case) is encoded in numpy on its UTF-8 bytes: a byte-class table
  finds token boundaries, each token of up to 16 bytes becomes an exact 128-bit key (its bytes,
  zero-padded, read as two little-endian uint64), and an open-addressing table built from the
  vocabulary maps keys to ids by comparing both halves of the key (no hashing shortcut:
  unequal words never share an id).  Rare longer tokens are looked up in the dict.
* Other text goes through ``normalize.corpus_words`` (Unicode normal form, grapheme clusters)
  and one C-level ``itemgetter`` lookup.
"""

from __future__ import annotations

import operator
import re
from typing import TYPE_CHECKING

import numpy as np

from modalax_text.normalize import SEPARATOR, corpus_words

if TYPE_CHECKING:
    from modalax_text.params import TextParams
    from modalax_text.vocabulary import Vocabulary

__all__ = ["AsciiTable", "encode_words", "pack_separated"]

_KEY_BYTES = 16
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xC2B2AE3D27D4EB4F)
# low-k-bytes masks of a uint64, k = 0..8
_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [2**64 - 1], dtype=np.uint64)


def _byte_tables() -> tuple[bytes, bytes]:
    """``bytes.translate`` tables for ASCII: byte -> 1 if a word character; byte -> 1 if not a space.

    Characters are classified with the same regex classes as ``normalize`` (``\\w``, ``\\s``);
    every other byte, NUL (the text separator) included, is a one-character token.
    """
    word_re, space_re = re.compile(r"\w"), re.compile(r"\s")
    word = bytes(1 if b < 128 and word_re.match(chr(b)) else 0 for b in range(256))
    token = bytes(0 if b < 128 and space_re.match(chr(b)) else 1 for b in range(256))
    return word, token


_WORD_BYTES, _TOKEN_BYTES = _byte_tables()
# Trailing pseudo-text: keeps 8-byte reads past the last token inside the buffer.
_PAD_TEXT = " " * (_KEY_BYTES + 8)


def _key(token: bytes) -> tuple[int, int]:
    padded = token.ljust(_KEY_BYTES, b"\0")
    return int.from_bytes(padded[:8], "little"), int.from_bytes(padded[8:16], "little")


class AsciiTable:
    """Open-addressing table from 128-bit token keys to ids, for the ASCII tokens of a vocabulary."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        items = [
            (_key(tok.encode("ascii")), i)
            for tok, i in vocabulary.token_to_id.items()
            if tok.isascii() and len(tok) <= _KEY_BYTES
        ]
        bits = max(4, int(np.ceil(np.log2(4 * max(len(items), 1)))))  # load factor <= 1/4
        self.size = 1 << bits
        self.shift = np.uint64(64 - bits)
        self.k0 = np.zeros(self.size, np.uint64)
        self.k1 = np.zeros(self.size, np.uint64)
        self.ids = np.full(self.size, -1, np.int32)  # -1 marks an empty slot
        if items:
            keys = np.array([k for k, _ in items], dtype=np.uint64)
            slots = self.slots(keys[:, 0], keys[:, 1])
            for (k, i), s in zip(items, slots.tolist(), strict=True):
                while self.ids[s] >= 0:
                    s = (s + 1) & (self.size - 1)
                self.k0[s], self.k1[s], self.ids[s] = k[0], k[1], i

    def slots(self, c0: np.ndarray, c1: np.ndarray) -> np.ndarray:
        """Home slot of each key (multiplicative hashing of both halves)."""
        with np.errstate(over="ignore"):
            return (((c0 ^ (c1 * _M2)) * _M1) >> self.shift).view(np.int64)

    def find(self, c0: np.ndarray, c1: np.ndarray, unk: int) -> np.ndarray:
        """Ids of the keys; ``unk`` where a key is absent.  Probing runs in vectorised rounds."""
        slot = self.slots(c0, c1)
        ids = self.ids[slot]
        hit = (self.k0[slot] == c0) & (self.k1[slot] == c1) & (ids >= 0)
        out = np.where(hit, ids, unk).astype(np.int32)
        pending = np.flatnonzero(~hit & (ids >= 0))  # occupied by another key: probe on
        slot = slot[pending]
        mask = self.size - 1
        while len(pending):
            slot = (slot + 1) & mask
            ids = self.ids[slot]
            hit = (self.k0[slot] == c0[pending]) & (self.k1[slot] == c1[pending]) & (ids >= 0)
            out[pending[hit]] = ids[hit]
            go_on = ~hit & (ids >= 0)
            pending, slot = pending[go_on], slot[go_on]
        return out


def _encode_ascii(raw: bytes, vocabulary: Vocabulary) -> np.ndarray:
    """Ids of the tokens of ASCII ``raw`` (NUL-separated texts, ending in ``_PAD_TEXT``)."""
    table: AsciiTable | None = getattr(vocabulary, "_ascii_table", None)
    if table is None:
        table = AsciiTable(vocabulary)
        vocabulary._ascii_table = table  # type: ignore[attr-defined]
    word = np.frombuffer(raw.translate(_WORD_BYTES), np.bool_)
    start = np.frombuffer(raw.translate(_TOKEN_BYTES), np.bool_).copy()
    end = start.copy()
    inside = ~(word[1:] & word[:-1])  # False for a word byte that follows a word byte
    start[1:] &= inside
    end[:-1] &= inside
    first = np.flatnonzero(start)
    length = np.flatnonzero(end) - first + 1
    # the 8 bytes at offset f are two aligned words of the buffer, shifted (numpy shifts by 64 give 0)
    words64 = np.frombuffer(raw, dtype="<u8", count=len(raw) // 8)
    q = first >> 3
    r = ((first & 7) << 3).astype(np.uint64)
    left = 64 - r
    nxt = words64[q + 1]
    c0 = ((words64[q] >> r) | (nxt << left)) & _MASKS[np.minimum(length, 8)]
    c1 = np.zeros_like(c0)
    longer = np.flatnonzero(length > 8)
    if len(longer):
        ql, rl = q[longer], r[longer]
        c1[longer] = ((nxt[longer] >> rl) | (words64[ql + 2] << left[longer])) & _MASKS[
            np.minimum(length[longer] - 8, 8)
        ]
    ids = table.find(c0, c1, vocabulary.params.unk_token_id)
    for j in np.flatnonzero(length > _KEY_BYTES).tolist():
        ids[j] = vocabulary.lookup[raw[first[j] : first[j] + length[j]].decode("ascii")]
    ids[c0 == 0] = -1  # the NUL separator is the only token whose first byte is 0
    return ids[:-1]  # the separator before the pad text


def encode_words(texts: list[str], vocabulary: Vocabulary, *, lowercase: bool, form: str = "NFC") -> np.ndarray:
    """int32 ids of every word of every text, with ``-1`` between consecutive texts.

    ``form`` is the Unicode normal form (ASCII text is in every form already).
    """
    if not texts:
        return np.zeros(0, np.int32)
    joined = f" {SEPARATOR} ".join([*texts, _PAD_TEXT])
    if joined.count(SEPARATOR) == len(texts):  # no NUL inside the texts
        if lowercase:
            joined = joined.lower()
        if joined.isascii():
            return _encode_ascii(joined.encode("ascii"), vocabulary)
    tokens = corpus_words(texts, lowercase=lowercase, form=form)
    if len(tokens) < 2:
        return np.array([vocabulary.lookup[t] for t in tokens], np.int32)
    found = operator.itemgetter(*tokens)(vocabulary.lookup)
    return np.fromiter(found, dtype=np.int32, count=len(tokens))


def pack_separated(ids: np.ndarray, num_texts: int, params: TextParams, max_length: int) -> np.ndarray:
    """Lay ``-1``-separated id runs into ``(num_texts, max_length)``: BOS, ids, EOS, padding.

    Runs longer than ``max_length - 2`` are truncated and still end with EOS.
    """
    out = np.full(num_texts * max_length + 1, params.pad_token_id, dtype=np.int32)  # +1: a dump cell
    grid = out[:-1].reshape(num_texts, max_length)
    if num_texts == 0:
        return grid
    cap = max_length - 2
    is_sep = ids < 0
    seps = np.flatnonzero(is_sep)
    starts = np.concatenate(([0], seps + 1))
    segment = np.diff(np.concatenate((starts, [len(ids) + 1])))  # each run plus its separator
    position = np.arange(len(ids), dtype=np.int64) - np.repeat(starts, segment)[: len(ids)]
    row = np.cumsum(is_sep, dtype=np.int64)
    dest = np.where((position < cap) & ~is_sep, row * max_length + position + 1, len(out) - 1)
    out[dest] = ids
    grid[:, 0] = params.bos_token_id
    grid[np.arange(num_texts), np.minimum(segment - 1, cap) + 1] = params.eos_token_id
    return grid
