"""``CharTokenizer``: one token per character, for text without spaces (Japanese, Chinese, code).

The vocabulary holds single characters (whitespace included, so ``detokenize`` joins them
back without separators), the most frequent first.  A whole batch is encoded at once: the
texts' code points (UTF-32) are looked up with one ``searchsorted`` in the sorted code points
of the vocabulary, and ``pack`` lays them out as BOS, ids, EOS, padding.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from modalax.plugin import ConfigError, DataError
from modalax_text.params import text_params_from
from modalax_text.tokenizer import Tokenizer, pack
from modalax_text.vocabulary import Vocabulary

__all__ = ["CharTokenizer"]


class CharTokenizer(Tokenizer):
    """Character-level tokenizer: each character of the (lower-cased unless ``case_sensitive``) text is a token.

    Build it with ``CharTokenizer.from_corpus(corpus, params)``; characters it has not seen
    become UNK.  ``detokenize`` concatenates the characters.
    """

    joiner = ""

    def __init__(self, params: Any = None, vocabulary: Vocabulary | None = None) -> None:
        if vocabulary is None:
            raise ConfigError("CharTokenizer.vocabulary: got None, expected a character Vocabulary (use from_corpus)")
        super().__init__(params, vocabulary)
        self._codes: tuple[np.ndarray, np.ndarray] | None = None

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
        """A character vocabulary over the characters of ``tokens`` in the given order."""
        p = text_params_from(params)
        chars = (c for t in tokens for c in t)
        return cls(p, Vocabulary.from_tokens(chars, p, reserved_tokens=reserved_tokens, level="char"))

    def words(self, text: str) -> list[str]:
        """The characters of ``text`` as the tokenizer sees them."""
        return list(self.normalize(text))

    def normalize(self, text: str) -> str:
        """``text`` lower-cased unless ``case_sensitive`` (characters are not otherwise changed)."""
        return text.lower() if self.lowercase else text

    def encode(self, text: str) -> np.ndarray:
        """The ids of ``text`` without BOS, EOS, padding or truncation."""
        if not isinstance(text, str):
            raise DataError(f"CharTokenizer.encode: got {type(text).__name__}, expected str")
        return self._lookup(_code_points(self.normalize(text)))

    def _encode_corpus(self, texts: list[str], length: int) -> np.ndarray:
        texts = [self.normalize(t) for t in texts]
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        return pack(self._lookup(_code_points("".join(texts))), lengths, self.params, length)

    def _lookup(self, codes: np.ndarray) -> np.ndarray:
        if self._codes is None:
            assert self.vocabulary is not None
            singles = [(ord(t), i) for t, i in self.vocabulary.token_to_id.items() if len(t) == 1]
            singles.sort()
            self._codes = (
                np.array([c for c, _ in singles], np.uint32),
                np.array([i for _, i in singles], np.int32),
            )
        keys, ids = self._codes
        at = np.minimum(np.searchsorted(keys, codes), max(len(keys) - 1, 0))
        hit = keys[at] == codes if len(keys) else np.zeros(len(codes), bool)
        return np.where(hit, ids[at] if len(ids) else 0, self.params.unk_token_id).astype(np.int32)

    def __repr__(self) -> str:
        assert self.vocabulary is not None
        return (
            f"CharTokenizer({self.vocabulary.num_tokens} tokens, max_length={self.params.max_length}, "
            f"case_sensitive={self.params.case_sensitive})"
        )


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
