"""``CharTokenizer``: one token per character, for text without spaces (Japanese, Chinese, code).

A *character* is an extended grapheme cluster of Unicode (UAX #29, the ``regex`` package's
``\\X``): what a reader sees as one character, so ``é`` written with a combining accent, a
Devanagari syllable with its vowel sign, ``👍🏽`` or a ZWJ family is one token, never two.  The
vocabulary holds these clusters (white space included, so ``detokenize`` joins them back
without separators), the most frequent first.  Text is lower-cased unless ``case_sensitive``
and put in the configured Unicode normal form first.

A whole batch is encoded at once: ASCII text (one cluster per byte, but ``"\\r\\n"``) through
a 128-entry numpy table on its bytes; other text through one ``regex.findall`` over the texts
joined by NUL and one C-level ``itemgetter`` lookup.  ``pack_separated`` lays the ids out as
BOS, ids, EOS, padding.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from modalax.plugin import ConfigError, DataError
from modalax_text.encoding import pack_separated
from modalax_text.normalize import SEPARATOR, clusters, corpus_clusters, join_prepared, one_cluster_per_char
from modalax_text.params import text_params_from
from modalax_text.tokenizer import Tokenizer
from modalax_text.vocabulary import Vocabulary

__all__ = ["CharTokenizer"]


class CharTokenizer(Tokenizer):
    """Character-level tokenizer: each grapheme cluster of the prepared text is a token.

    Build it with ``CharTokenizer.from_corpus(corpus, params)``; characters it has not seen
    become UNK.  ``detokenize`` concatenates the characters.
    """

    joiner = ""

    def __init__(self, params: Any = None, vocabulary: Vocabulary | None = None) -> None:
        if vocabulary is None:
            raise ConfigError("CharTokenizer.vocabulary: got None, expected a character Vocabulary (use from_corpus)")
        super().__init__(params, vocabulary)
        self._ascii: np.ndarray | None = None

    @classmethod
    def from_corpus(
        cls, corpus: Iterable[str], params: Any = None, *, min_freq: int = 1, reserved_tokens: Sequence[str] = ()
    ) -> CharTokenizer:
        """A character vocabulary of ``corpus`` (characters seen at least ``min_freq`` times)."""
        p = text_params_from(params)
        vocab = Vocabulary.from_corpus(corpus, p, min_freq=min_freq, reserved_tokens=reserved_tokens, level="char")
        return cls(p, vocab)

    @classmethod
    def from_tokens(
        cls, tokens: Iterable[str], params: Any = None, *, reserved_tokens: Sequence[str] = ()
    ) -> CharTokenizer:
        """A character vocabulary over the characters (grapheme clusters) of ``tokens`` in the given order."""
        p = text_params_from(params)
        lowercase = not p.case_sensitive
        chars = (c for t in tokens for c in corpus_clusters([t], lowercase=lowercase, form=p.normalization))
        return cls(p, Vocabulary.from_tokens(chars, p, reserved_tokens=reserved_tokens, level="char"))

    def words(self, text: str) -> list[str]:
        """The characters (grapheme clusters) of ``text`` as the tokenizer sees them."""
        return clusters(self.prepare(text))

    def normalize(self, text: str) -> str:
        """``text`` lower-cased unless ``case_sensitive`` and in the normal form (characters otherwise unchanged)."""
        return self.prepare(text)

    def encode(self, text: str) -> np.ndarray:
        """The ids of ``text`` without BOS, EOS, padding or truncation."""
        if not isinstance(text, str):
            raise DataError(f"CharTokenizer.encode: got {type(text).__name__}, expected str")
        return self._ids([text])

    def _encode_corpus(self, texts: list[str], length: int) -> np.ndarray:
        return pack_separated(self._ids(texts), len(texts), self.params, length)

    def _ids(self, texts: list[str]) -> np.ndarray:
        """int32 ids of every character of every text, ``-1`` between texts."""
        if not texts:
            return np.zeros(0, np.int32)
        joined = join_prepared(texts, lowercase=self.lowercase, form=self.form)
        if one_cluster_per_char(joined):
            return self._ascii_table()[np.frombuffer(joined.encode("ascii"), np.uint8)]
        chars = clusters(joined)
        assert self.vocabulary is not None
        if len(chars) < 2:  # itemgetter of one key returns the value, not a tuple
            return np.array([self.vocabulary.lookup[c] for c in chars], np.int32)
        return np.fromiter(operator.itemgetter(*chars)(self.vocabulary.lookup), dtype=np.int32, count=len(chars))

    def _ascii_table(self) -> np.ndarray:
        """ASCII code -> id (UNK when absent; NUL, the text separator, -1)."""
        if self._ascii is None:
            assert self.vocabulary is not None
            lookup = self.vocabulary.lookup
            self._ascii = np.array([lookup[chr(b)] for b in range(128)], np.int32)
            self._ascii[ord(SEPARATOR)] = -1
        return self._ascii

    def __repr__(self) -> str:
        assert self.vocabulary is not None
        return (
            f"CharTokenizer({self.vocabulary.num_tokens} tokens, max_length={self.params.max_length}, "
            f"case_sensitive={self.params.case_sensitive})"
        )
