"""Pre-tokenization: Unicode normalisation, lower-casing, and splitting text into words and marks.

Text is first lower-cased (unless ``case_sensitive``), then put in the configured Unicode
normal form (``unicodedata.normalize``: NFC by default), so ``"für"`` typed as ``u`` plus a
combining diaeresis (NFD) and as one precomposed ``ü`` (NFC) become the same word.

The unit of splitting is the *extended grapheme cluster* of Unicode (UAX #29), the
user-perceived character, found by the ``regex`` package's ``\\X``: a letter with its
combining marks, a Devanagari or Thai syllable with its vowel signs, an emoji with its skin
tone, a ZWJ family, a flag.  A cluster is never split.  A *word* is a maximal run of clusters
that start with a word character (``\\w`` as Unicode defines it: letters, marks, decimal
digits, connector punctuation, joiners); every other cluster that is not white space is a
token of its own (a punctuation mark, a symbol, an emoji).  So ``"Hello, world! 👍🏽"`` becomes
``["hello", ",", "world", "!", "👍🏽"]``.  A space that carries combining marks (``" \\u0301"``,
one cluster) is kept whole as a token.

The cost: ASCII text (no marks, every character its own cluster but ``"\\r\\n"``, which is
white space) takes the old fast paths (``str.replace`` here, numpy bytes in ``encoding``);
other text is split by one ``regex.findall`` over a whole chunk of texts joined by NUL, a
control character that always forms a cluster of its own, so no cluster spans two texts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import regex  # type: ignore[import-untyped]  # no stubs in the lint session (types-regex)

__all__ = [
    "SEPARATOR",
    "clusters",
    "corpus_clusters",
    "corpus_words",
    "join_prepared",
    "normalize",
    "one_cluster_per_char",
    "prepare",
    "words",
]

#: Token that separates texts in ``corpus_words`` output; never produced from input text.
SEPARATOR = "\x00"
# White space is what ``str.isspace`` says (as ``str.split`` on the fast paths): Unicode's
# White_Space plus the ASCII information separators U+001C..U+001F.
_SPACE = r"[\s\x1c-\x1f]"
# a run of word-led clusters | a cluster led by anything but space | a space carrying marks
_TOKEN_RE = regex.compile(rf"(?:(?=\w)\X)+|(?!{_SPACE})\X|(?={_SPACE})\X(?<!{_SPACE})")
_CLUSTER_RE = regex.compile(r"\X")
_PUNCT_RE = re.compile(r"[^\w\s]")
# ASCII bytes that are not punctuation: deleting them from ASCII text leaves only the marks.
_ASCII_NOT_PUNCT = bytes(b for b in range(128) if not _PUNCT_RE.match(chr(b)))


def prepare(text: str, *, lowercase: bool = True, form: str = "NFC") -> str:
    """``text`` lower-cased (unless ``lowercase=False``), then in Unicode normal form ``form`` (``"none"``: as is).

    Lower-casing comes first so the result is in the normal form (``"İ".lower()`` is ``i`` plus
    a combining dot, which NFC keeps apart: there is no precomposed letter).
    """
    if lowercase:
        text = text.lower()
    if form != "none" and not text.isascii():  # ASCII is in every normal form already
        text = unicodedata.normalize(form, text)  # type: ignore[arg-type]
    return text


def words(text: str, *, lowercase: bool = True, form: str = "NFC") -> list[str]:
    """Words and single-cluster marks of one text, after ``prepare``."""
    return _TOKEN_RE.findall(prepare(text, lowercase=lowercase, form=form))


def normalize(text: str, *, lowercase: bool = True, form: str = "NFC") -> str:
    """The canonical form word tokenization sees: prepared, tokens joined by single spaces."""
    return " ".join(words(text, lowercase=lowercase, form=form))


def clusters(text: str) -> list[str]:
    """The extended grapheme clusters of ``text`` (no normalisation)."""
    return _CLUSTER_RE.findall(text)


def _marks(text: str) -> set[str]:
    """The distinct punctuation marks of ASCII ``text`` (a byte scan)."""
    return set(text.encode("ascii").translate(None, _ASCII_NOT_PUNCT).decode("ascii"))


def join_prepared(texts: Sequence[str], *, lowercase: bool = True, form: str = "NFC") -> str:
    """The prepared texts joined by ``SEPARATOR`` (NUL inside a text read as a space)."""
    joined = SEPARATOR.join(texts)
    if joined.count(SEPARATOR) != len(texts) - 1:  # a text contains NUL itself: rare, slow path
        joined = SEPARATOR.join(t.replace(SEPARATOR, " ") for t in texts)
    # NUL is a starter that composes with nothing and has no case: preparing the joined string
    # equals joining the prepared texts.
    return prepare(joined, lowercase=lowercase, form=form)


def corpus_words(texts: Sequence[str], *, lowercase: bool = True, form: str = "NFC") -> list[str]:
    """Words of every text in order, with ``SEPARATOR`` between consecutive texts.

    Equal to ``words(t)`` for each text joined by ``[SEPARATOR]``.  NUL characters inside
    the texts are treated as spaces (they would otherwise be read as separators).
    """
    if not len(texts):
        return []
    joined = join_prepared(texts, lowercase=lowercase, form=form)
    if not joined.isascii():
        return _TOKEN_RE.findall(joined)
    # ASCII: each character is a cluster and \w is [A-Za-z0-9_]; spacing out the marks that
    # occur (a C scan per distinct mark) and one split give the same tokens as the regex.
    joined = joined.replace(SEPARATOR, f" {SEPARATOR} ")
    for mark in sorted(_marks(joined) - {SEPARATOR}):
        joined = joined.replace(mark, f" {mark} ")
    return joined.split()


def corpus_clusters(texts: Sequence[str], *, lowercase: bool = True, form: str = "NFC") -> list[str]:
    """Grapheme clusters of every text in order, with ``SEPARATOR`` between consecutive texts.

    Equal to ``clusters(prepare(t))`` for each text joined by ``[SEPARATOR]``; white space is
    kept (character-level tokens).  NUL inside a text is read as a space.
    """
    if not len(texts):
        return []
    joined = join_prepared(texts, lowercase=lowercase, form=form)
    return list(joined) if one_cluster_per_char(joined) else _CLUSTER_RE.findall(joined)


def one_cluster_per_char(text: str) -> bool:
    """True when every character of ``text`` is a grapheme cluster of its own (ASCII without CR LF)."""
    return text.isascii() and "\r\n" not in text
