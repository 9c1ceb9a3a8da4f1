"""Pre-tokenization: lower-casing and splitting text into words and punctuation marks.

A *word* is a maximal run of word characters (``\\w``); every other non-space character (a
punctuation mark or symbol) is a token of its own.  So ``"Hello, world!"`` becomes
``["hello", ",", "world", "!"]`` — the same split as the regex ``\\w+|[^\\w\\s]``.

``corpus_words`` does this for a whole list of texts at once: it joins them with a separator
token, spaces out the punctuation marks that actually occur with ``str.replace`` (a fast C
scan per distinct mark), and splits once.  That avoids a Python loop per text or per word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["SEPARATOR", "corpus_words", "normalize", "words"]

#: Token that separates texts in ``corpus_words`` output; never produced from input text.
SEPARATOR = "\x00"
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_PUNCT_RE = re.compile(r"[^\w\s]")
# ASCII bytes that are not punctuation: deleting them from ASCII text leaves only the marks.
_ASCII_NOT_PUNCT = bytes(b for b in range(128) if not _PUNCT_RE.match(chr(b)))


def words(text: str, *, lowercase: bool = True) -> list[str]:
    """Words and punctuation marks of one text (lower-cased unless ``lowercase=False``)."""
    return _TOKEN_RE.findall(text.lower() if lowercase else text)


def normalize(text: str, *, lowercase: bool = True) -> str:
    """The canonical form tokenization sees: lower-cased, marks spaced out, single spaces."""
    return " ".join(words(text, lowercase=lowercase))


def _marks(text: str) -> set[str]:
    """The distinct punctuation marks in ``text`` (a fast byte scan when it is ASCII)."""
    if text.isascii():
        return set(text.encode("ascii").translate(None, _ASCII_NOT_PUNCT).decode("ascii"))
    return set(_PUNCT_RE.findall(text))


def corpus_words(texts: Sequence[str], *, lowercase: bool = True) -> list[str]:
    """Words of every text in order, with ``SEPARATOR`` between consecutive texts.

    Equal to ``words(t)`` for each text joined by ``[SEPARATOR]``.  NUL characters inside
    the texts are treated as spaces (they would otherwise be read as separators).
    """
    if not len(texts):
        return []
    joined = f" {SEPARATOR} ".join(texts)
    if joined.count(SEPARATOR) != len(texts) - 1:  # a text contains NUL itself: rare, slow path
        joined = f" {SEPARATOR} ".join(t.replace(SEPARATOR, " ") for t in texts)
    if lowercase:
        joined = joined.lower()
    for mark in sorted(_marks(joined) - {SEPARATOR}):
        joined = joined.replace(mark, f" {mark} ")
    return joined.split()
