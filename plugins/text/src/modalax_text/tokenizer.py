"""``Tokenizer``: text to fixed-length int32 ids and back, word-level or byte-level.

With a ``Vocabulary`` the tokenizer is word-level (see ``normalize``).  Without one it is
byte-level: the UTF-8 bytes of the text map to the first 256 ids that are not special, so any
text round-trips exactly (up to lower-casing, unless ``case_sensitive``, and the Unicode normal
form, unless ``normalization="none"``); ``TextModality`` uses that until a vocabulary is built.
A byte-level row too long for ``max_length`` is cut at the last grapheme-cluster boundary that
fits (found with ``regex``'s ``\\X`` on a prefix of the text, for the long texts only), so no
character, accent or emoji sequence is cut in two; the rest of the row is padding.
``CharTokenizer`` (``modalax_text.char``) is the character-level sibling, for text without spaces.

Batches are encoded for the whole list at once (see ``encoding``): no Python code runs per
word, and a numpy scatter lays the ids into the padded ``(B, max_length)`` array.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modalax.plugin import ConfigError, DataError
from modalax_text.encoding import encode_words, pack_separated
from modalax_text.ids import check_token_ids
from modalax_text.normalize import clusters, normalize, prepare, words
from modalax_text.params import TextParams, text_params_from
from modalax_text.vocabulary import Vocabulary

__all__ = ["Tokenizer", "pack"]

_BYTES = 256
# Large lists are encoded this many texts at a time. A chunk's temporaries (a few MB) are reused
# from the heap and stay in cache; a whole 100,000-sentence corpus at once mapped and faulted in
# ~150 MB of fresh pages per call, and with other threads alive in the process (a jax or Rust
# thread pool) the faults and unmaps took most of the time (measured: 0.6-1.4 s of 1.2-1.7 s).
_CHUNK_TEXTS = 2048
# bytes of each byte id, then U+FFFD for ids that are no byte (UNK, a mask id, unused ids)
_BYTE_STRINGS = [bytes([b]) for b in range(_BYTES)] + ["\ufffd".encode()]


def pack(flat: np.ndarray, lengths: np.ndarray, params: TextParams, max_length: int) -> np.ndarray:
    """Lay ragged id runs into ``(B, max_length)``: BOS, ids, EOS, padding.

    ``flat`` holds the runs back to back, ``lengths[b]`` the length of run ``b``.  Runs longer
    than ``max_length - 2`` are truncated and still end with EOS.
    """
    n = len(lengths)
    out = np.full((n, max_length), params.pad_token_id, dtype=np.int32)
    if n == 0:
        return out
    out[:, 0] = params.bos_token_id
    cap = max_length - 2
    lengths = lengths.astype(np.int64, copy=False)
    starts = np.cumsum(lengths) - lengths
    # flat position p of run b goes to row b, column p - starts[b] + 1
    dest = np.arange(len(flat), dtype=np.int64) + np.repeat(
        np.arange(n, dtype=np.int64) * max_length + 1 - starts, lengths
    )
    if lengths.max() > cap:
        keep = np.arange(len(flat), dtype=np.int64) - np.repeat(starts, lengths) < cap
        out.reshape(-1)[dest[keep]] = flat[keep]
    else:
        out.reshape(-1)[dest] = flat
    out[np.arange(n), np.minimum(lengths, cap) + 1] = params.eos_token_id
    return out


class Tokenizer:
    """Tokenize and detokenize text for ``params`` (a config, ``TextParams``, dict or None).

    ``vocabulary=None`` gives the lossless byte-level tokenizer; build a word vocabulary with
    ``Tokenizer.from_corpus`` (or ``from_tokens``, ``load``).  Text is lower-cased unless
    ``case_sensitive``, at every level.
    """

    #: String between tokens in ``detokenize`` output.
    joiner = " "

    def __init__(self, params: Any = None, vocabulary: Vocabulary | None = None) -> None:
        self.params = text_params_from(params if params is not None or vocabulary is None else vocabulary.params)
        if vocabulary is not None:
            if not isinstance(vocabulary, Vocabulary):
                raise ConfigError(f"Tokenizer.vocabulary: got {type(vocabulary).__name__}, expected a Vocabulary")
            mine, theirs = self.params.to_dict(), vocabulary.params.to_dict()
            for name in mine:
                if name != "max_length" and mine[name] != theirs[name]:
                    raise ConfigError(
                        f"Tokenizer: vocabulary has {name}={theirs[name]!r} but params have {mine[name]!r}; "
                        "expected them to match"
                    )
        self.vocabulary = vocabulary
        self._byte_ids: np.ndarray | None = None
        self._id_to_byte: np.ndarray | None = None

    # ------------------------------------------------------------ building
    @classmethod
    def from_corpus(
        cls, corpus: Iterable[str], params: Any = None, *, min_freq: int = 1, reserved_tokens: Sequence[str] = ()
    ) -> Tokenizer:
        """A word-level tokenizer whose vocabulary is built from ``corpus``."""
        p = text_params_from(params)
        return cls(p, Vocabulary.from_corpus(corpus, p, min_freq=min_freq, reserved_tokens=reserved_tokens))

    @classmethod
    def from_tokens(
        cls, tokens: Iterable[str], params: Any = None, *, reserved_tokens: Sequence[str] = ()
    ) -> Tokenizer:
        """A word-level tokenizer over ``tokens`` in the given order."""
        p = text_params_from(params)
        return cls(p, Vocabulary.from_tokens(tokens, p, reserved_tokens=reserved_tokens))

    @classmethod
    def load(cls, path: str | os.PathLike[str], params: Any = None) -> Tokenizer:
        """A word-level tokenizer from a vocabulary JSON file written by ``save``."""
        vocab = Vocabulary.load(path, params)
        if vocab.level == "char" and cls is Tokenizer:
            from modalax_text.char import CharTokenizer  # a subclass: imported here, not at module level

            return CharTokenizer(vocab.params, vocab)
        return cls(vocab.params, vocab)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the vocabulary as JSON (a byte-level tokenizer has none to write)."""
        if self.vocabulary is None:
            raise ConfigError("Tokenizer.save: the byte-level tokenizer has no vocabulary; build one first")
        return self.vocabulary.save(path)

    # ------------------------------------------------------------ properties
    @property
    def byte_level(self) -> bool:
        """True until a word vocabulary is set."""
        return self.vocabulary is None

    @property
    def lowercase(self) -> bool:
        """Whether tokenization lower-cases text (``case_sensitive=False``), at every level."""
        return not self.params.case_sensitive

    def __len__(self) -> int:
        """Ids in use: the vocabulary's, or the specials plus 256 bytes."""
        if self.vocabulary is not None:
            return len(self.vocabulary)
        return int(self._byte_table()[0].max()) + 1

    # ------------------------------------------------------------ text -> ids
    @property
    def form(self) -> str:
        """The Unicode normal form text is put in (``TextParams.normalization``)."""
        return self.params.normalization

    def prepare(self, text: str) -> str:
        """``text`` lower-cased (unless ``case_sensitive``) and in the Unicode normal form."""
        return prepare(text, lowercase=self.lowercase, form=self.form)

    def words(self, text: str) -> list[str]:
        """The words and marks of ``text`` as the word-level tokenizer sees them (grapheme clusters whole)."""
        return words(text, lowercase=self.lowercase, form=self.form)

    def normalize(self, text: str) -> str:
        """``detokenize(tokenize(text))`` for in-vocabulary text that fits ``max_length``."""
        if self.byte_level:
            return self.prepare(text)
        return normalize(text, lowercase=self.lowercase, form=self.form)

    def encode(self, text: str) -> np.ndarray:
        """The ids of ``text`` without BOS, EOS, padding or truncation."""
        if not isinstance(text, str):
            raise DataError(f"Tokenizer.encode: got {type(text).__name__}, expected str")
        if self.vocabulary is None:
            return self._byte_table()[0][np.frombuffer(self.normalize(text).encode("utf-8"), np.uint8)]
        return self.vocabulary.ids_of(self.words(text))

    def tokenize(self, texts: str | Sequence[str], *, max_length: int | None = None) -> np.ndarray:
        """int32 ids ``(max_length,)`` for a string, ``(B, max_length)`` for a list of strings.

        Each row is BOS, the ids, EOS, then padding; longer texts are truncated (byte-level rows at a
        grapheme-cluster boundary) and keep EOS.
        Unknown words map to UNK.
        """
        length = self.params.max_length if max_length is None else max_length
        if isinstance(length, np.integer):
            length = int(length)
        if isinstance(length, bool) or not isinstance(length, int) or length < 2:
            raise ConfigError(f"Tokenizer.tokenize.max_length: got {length!r}, expected an int >= 2")
        if isinstance(texts, str):
            return self.tokenize([texts], max_length=length)[0]
        return self._encode_corpus(_as_text_list(texts), length)

    __call__ = tokenize

    def _encode_corpus(self, texts: list[str], length: int) -> np.ndarray:
        if len(texts) <= _CHUNK_TEXTS:
            return self._encode_chunk(texts, length)
        out = np.empty((len(texts), length), np.int32)
        for start in range(0, len(texts), _CHUNK_TEXTS):
            part = texts[start : start + _CHUNK_TEXTS]
            out[start : start + len(part)] = self._encode_chunk(part, length)
        return out

    def _encode_chunk(self, texts: list[str], length: int) -> np.ndarray:
        if self.vocabulary is None:
            prepared = [self.prepare(t) for t in texts]
            encoded = [t.encode("utf-8") for t in prepared]
            lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
            for i in np.flatnonzero(lengths > length - 2).tolist():  # cut long texts between clusters
                encoded[i] = encoded[i][: cluster_cut(prepared[i], length - 2)]
                lengths[i] = len(encoded[i])
            flat = self._byte_table()[0][np.frombuffer(b"".join(encoded), np.uint8)]
            return pack(flat, lengths, self.params, length)
        ids = encode_words(texts, self.vocabulary, lowercase=self.lowercase, form=self.form)
        return pack_separated(ids, len(texts), self.params, length)

    def token_ids(self, tokens: Sequence[str]) -> np.ndarray:
        """int32 ids of already split tokens (UNK when absent); word-level only."""
        if self.vocabulary is None:
            raise ConfigError("Tokenizer.token_ids: the byte-level tokenizer has no word ids; build a vocabulary")
        return self.vocabulary.ids_of(list(tokens))

    # ------------------------------------------------------------ ids -> text
    def detokenize(self, ids: Any) -> str | list[str]:
        """Text of ``(L,)`` ids (a string) or ``(B, L)`` ids (a list of strings).

        Padding and BOS are dropped and reading stops at the first EOS.  Word-level output is
        the normalised text (tokens joined by single spaces, UNK as ``<unk>``); byte-level
        output is the prepared text (``prepare``: the original exactly with ``case_sensitive`` and
        ``normalization="none"``; ids that are no byte, such as UNK, read as U+FFFD).
        An id outside ``[0, vocab_size)`` raises ``DataError`` naming it.
        """
        arr = np.asarray(ids)
        if arr.ndim == 1:
            return self.detokenize(arr[None])[0]
        if arr.ndim != 2 or arr.dtype.kind not in "iu":
            raise DataError(
                f"Tokenizer.detokenize: got {arr.dtype} array of shape {arr.shape}, "
                "expected integer ids of shape (L,) or (B, L)"
            )
        p = self.params
        check_token_ids(arr, p.vocab_size, "Tokenizer.detokenize: ids")
        arr = arr.astype(np.int64)
        is_eos = arr == p.eos_token_id
        cut = np.where(is_eos.any(axis=1), is_eos.argmax(axis=1), arr.shape[1])
        keep = (np.arange(arr.shape[1]) < cut[:, None]) & (arr != p.pad_token_id) & (arr != p.bos_token_id)
        if self.vocabulary is None:
            to_byte = self._byte_table()[1]
            byte = np.where(arr < len(to_byte), to_byte[np.minimum(arr, len(to_byte) - 1)], -1)
            return [_bytes_text(byte[i][keep[i]]) for i in range(len(arr))]
        names = self.vocabulary.id_to_token[arr]
        return [self.joiner.join(names[i][keep[i]]) for i in range(len(arr))]

    # ------------------------------------------------------------ byte table
    def _byte_table(self) -> tuple[np.ndarray, np.ndarray]:
        """(byte -> id, id -> byte or -1): bytes take the first 256 non-special ids."""
        if self._byte_ids is None:
            p = self.params
            specials = set(p.special_ids.values())
            need = _BYTES + len(specials)
            if p.vocab_size < need:
                raise ConfigError(
                    f"TextParams.vocab_size: got {p.vocab_size}, but the byte-level tokenizer needs {need} ids "
                    "(the special tokens and 256 bytes); build a word vocabulary first "
                    "(Tokenizer.from_corpus or TextModality.build_vocabulary)"
                )
            ids = np.array([i for i in range(need) if i not in specials][:_BYTES], dtype=np.int32)
            inverse = np.full(int(ids.max()) + 1, -1, dtype=np.int64)
            inverse[ids] = np.arange(_BYTES)
            self._byte_ids, self._id_to_byte = ids, inverse
        assert self._id_to_byte is not None
        return self._byte_ids, self._id_to_byte

    def __repr__(self) -> str:
        kind = "byte-level" if self.vocabulary is None else f"{self.vocabulary.num_tokens} tokens"
        return f"Tokenizer({kind}, max_length={self.params.max_length}, case_sensitive={self.params.case_sensitive})"


def cluster_cut(text: str, cap: int) -> int:
    """UTF-8 bytes of the longest prefix of ``text`` made of whole grapheme clusters that fits ``cap`` bytes.

    ``cap`` bytes hold at most ``cap`` characters, so only ``text[: cap + 1]`` is segmented.  Every
    cluster boundary inside that prefix is a boundary of the whole text (the rules of UAX #29
    look only at the characters before a boundary and the one after it); the prefix's own end
    lies past ``cap`` bytes, so it is never chosen.
    """
    sizes = np.cumsum([len(c.encode("utf-8")) for c in clusters(text[: cap + 1])])
    fits = sizes[sizes <= cap]
    return int(fits[-1]) if len(fits) else 0


def _bytes_text(byte: np.ndarray) -> str:
    """UTF-8 text of byte values, -1 (an id that is no byte) as U+FFFD."""
    if (byte >= 0).all():
        return bytes(byte.astype(np.uint8)).decode("utf-8", errors="replace")
    return b"".join(_BYTE_STRINGS[b] for b in byte.tolist()).decode("utf-8", errors="replace")


def _as_text_list(texts: Any) -> list[str]:
    if isinstance(texts, np.ndarray):
        texts = texts.tolist()
    if not isinstance(texts, list | tuple):
        raise DataError(f"Tokenizer.tokenize: got {type(texts).__name__}, expected a str or a list of str")
    if not all(isinstance(t, str) for t in texts):
        i, bad = next((i, t) for i, t in enumerate(texts) if not isinstance(t, str))
        raise DataError(f"Tokenizer.tokenize: texts[{i}] is {type(bad).__name__}, expected str")
    return list(texts)
