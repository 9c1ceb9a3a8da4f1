"""``Vocabulary``: words to ids and back, built from a corpus and stored as JSON.

Ids are assigned deterministically: the special tokens sit at their configured ids,
``reserved_tokens`` (for example ``"<mask>"``) take the first free ids, then words follow by
decreasing count, ties broken by the word itself (code-point order), so every process builds
the same vocabulary whatever ``PYTHONHASHSEED`` is.

``level`` says what a token is: ``"word"`` (words and punctuation marks, see ``normalize``)
or ``"char"`` (single grapheme clusters, user-perceived characters, for ``CharTokenizer``).
Tokens are lower-cased (unless ``case_sensitive``) and put in the configured Unicode normal
form, as the text they will be looked up for.  A corpus that yields no token
(empty, or ``min_freq`` above every count) is a ``DataError``, never an all-``<unk>`` vocabulary.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modalax.plugin import ConfigError, DataError
from modalax_text.normalize import SEPARATOR, clusters, corpus_clusters, corpus_words, prepare
from modalax_text.params import SPECIAL_TOKENS, TextParams, text_params_from

__all__ = ["Vocabulary"]

FORMAT = "modalax-text-vocabulary"
VERSION = 1
LEVELS = ("word", "char")


class _Lookup(dict[str, int]):
    """A dict whose missing keys map to the UNK id (lookups of hits stay in C)."""

    def __init__(self, mapping: dict[str, int], unk: int) -> None:
        super().__init__(mapping)
        self.unk = unk

    def __missing__(self, key: str) -> int:
        return self.unk


class Vocabulary:
    """An id-indexed token table for ``params`` (``tokens[i]`` is the token of id ``i``).

    Unused ids (gaps between special ids, or a corpus smaller than ``vocab_size``) hold None.
    """

    def __init__(
        self,
        tokens: Sequence[str | None],
        params: Any = None,
        *,
        reserved_tokens: Sequence[str] = (),
        level: str = "word",
    ) -> None:
        self.params = text_params_from(params)
        p = self.params
        if level not in LEVELS:
            raise ConfigError(f"Vocabulary.level: got {level!r}, expected one of {', '.join(LEVELS)}")
        self.level = level
        table = list(tokens)
        if len(table) > p.vocab_size:
            raise ConfigError(f"Vocabulary.tokens: got {len(table)} ids, expected at most vocab_size={p.vocab_size}")
        table += [None] * (max(p.special_ids.values()) + 1 - len(table))
        for name, i in p.special_ids.items():
            if table[i] != SPECIAL_TOKENS[name]:
                raise ConfigError(
                    f"Vocabulary.tokens[{i}]: got {table[i]!r}, expected {SPECIAL_TOKENS[name]!r} ({name}={i})"
                )
        index: dict[str, int] = {}
        for i, token in enumerate(table):
            if token is None:
                continue
            if not isinstance(token, str) or not token:
                raise ConfigError(f"Vocabulary.tokens[{i}]: got {token!r}, expected a non-empty string or None")
            if token in index:
                raise ConfigError(f"Vocabulary.tokens[{i}]: {token!r} already has id {index[token]}; expected unique")
            index[token] = i
        for token in reserved_tokens:
            if token not in index:
                raise ConfigError(f"Vocabulary.reserved_tokens: {token!r} is not in the vocabulary")
        self.tokens: tuple[str | None, ...] = tuple(table)
        self.reserved_tokens = tuple(reserved_tokens)
        self.token_to_id = index
        self.lookup = _Lookup(index, p.unk_token_id)
        self.lookup[SEPARATOR] = -1
        names = np.array([t if t is not None else SPECIAL_TOKENS["unk_token_id"] for t in table], dtype=object)
        # id -> token for every id below vocab_size; ids without a token read as <unk>
        self.id_to_token = np.full(p.vocab_size, SPECIAL_TOKENS["unk_token_id"], dtype=object)
        self.id_to_token[: len(names)] = names

    # ------------------------------------------------------------- building
    @classmethod
    def from_tokens(
        cls, tokens: Iterable[str], params: Any = None, *, reserved_tokens: Sequence[str] = (), level: str = "word"
    ) -> Vocabulary:
        """Ids for ``tokens`` in the given order (duplicates and overflow past ``vocab_size`` dropped).

        Tokens are lower-cased unless ``case_sensitive`` and put in the normal form of
        ``params.normalization`` (a ``"char"`` token must be one grapheme cluster after that);
        ``reserved_tokens`` are kept as given.  No token at all is a ``DataError``.
        """
        p = text_params_from(params)
        specials = {i: SPECIAL_TOKENS[name] for name, i in p.special_ids.items()}
        table: list[str | None] = [specials.get(i) for i in range(max(specials) + 1)]
        taken = set(specials.values())
        free = (i for i in range(p.vocab_size) if i not in specials)

        def place(token: str) -> bool:
            i = next(free, None)
            if i is None:
                return False
            table.extend([None] * (i + 1 - len(table)))
            table[i] = token
            taken.add(token)
            return True

        for token in reserved_tokens:
            if not isinstance(token, str) or not token or token in taken:
                raise ConfigError(f"Vocabulary.reserved_tokens: got {token!r}, expected new non-empty strings")
            if not place(token):
                raise ConfigError(f"Vocabulary.reserved_tokens: no id left for {token!r} (vocab_size={p.vocab_size})")
        placed = 0
        for token in tokens:
            if not isinstance(token, str) or not token or token == SEPARATOR:
                raise DataError(f"Vocabulary.tokens: got {token!r}, expected non-empty strings")
            token = prepare(token, lowercase=not p.case_sensitive, form=p.normalization)
            if level == "char" and len(clusters(token)) != 1:
                raise DataError(f"Vocabulary.tokens: got {token!r}, expected one grapheme cluster per 'char' token")
            if token not in taken:
                if not place(token):
                    break
                placed += 1
        if placed == 0:
            raise DataError(
                "Vocabulary.tokens: got no token besides the special and reserved ones; every id would be <unk> "
                "(expected at least one token)"
            )
        return cls(table, p, reserved_tokens=reserved_tokens, level=level)

    @classmethod
    def from_corpus(
        cls,
        corpus: Iterable[str],
        params: Any = None,
        *,
        min_freq: int = 1,
        reserved_tokens: Sequence[str] = (),
        chunk_size: int = 65536,
        level: str = "word",
    ) -> Vocabulary:
        """The most frequent tokens of ``corpus`` (count >= ``min_freq``), up to ``vocab_size`` ids.

        ``corpus`` is streamed in chunks of ``chunk_size`` texts, so it may be a generator.
        ``level="char"`` counts characters instead of words.  ``DataError`` when no token is
        left (an empty corpus, or ``min_freq`` above every count).
        """
        p = text_params_from(params)
        if isinstance(min_freq, np.integer):
            min_freq = int(min_freq)
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise ConfigError(f"Vocabulary.min_freq: got {min_freq!r}, expected an int >= 1")
        if level not in LEVELS:
            raise ConfigError(f"Vocabulary.level: got {level!r}, expected one of {', '.join(LEVELS)}")
        count = _count_chars if level == "char" else _count_words
        if isinstance(corpus, str):
            raise DataError("Vocabulary.corpus: got a single string, expected an iterable of texts")
        counts: Counter[str] = Counter()
        chunk: list[str] = []
        texts = 0
        for i, text in enumerate(corpus):
            if not isinstance(text, str):
                raise DataError(f"Vocabulary.corpus[{i}]: got {type(text).__name__}, expected str")
            chunk.append(text)
            texts += 1
            if len(chunk) >= chunk_size:
                count(counts, chunk, lowercase=not p.case_sensitive, form=p.normalization)
                chunk = []
        count(counts, chunk, lowercase=not p.case_sensitive, form=p.normalization)
        counts.pop(SEPARATOR, None)
        ranked = sorted((item for item in counts.items() if item[1] >= min_freq), key=lambda kv: (-kv[1], kv[0]))
        if not ranked:
            if not counts:
                raise DataError(
                    f"Vocabulary.corpus: got {texts} text(s) with no {level} in them; expected a corpus with at "
                    "least one token (an empty vocabulary would map everything to <unk>)"
                )
            top, top_count = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
            raise DataError(
                f"Vocabulary.min_freq: got {min_freq}, above every count in the corpus (the most frequent {level}, "
                f"{top!r}, occurs {top_count} time(s)); expected min_freq <= {top_count}"
            )
        return cls.from_tokens((w for w, _ in ranked), p, reserved_tokens=reserved_tokens, level=level)

    # --------------------------------------------------------------- access
    def __len__(self) -> int:
        """Number of ids in use (one past the largest assigned id)."""
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self.token_to_id

    @property
    def num_tokens(self) -> int:
        """Number of tokens (specials included), not counting unused ids."""
        return len(self.token_to_id)

    def id_of(self, token: str) -> int:
        """The id of ``token`` (the UNK id when absent)."""
        return self.token_to_id.get(token, self.params.unk_token_id)

    def token_of(self, token_id: int) -> str:
        """The token of ``token_id`` (``"<unk>"`` for unused or out-of-range ids)."""
        i = int(token_id)
        return self.id_to_token[i] if 0 <= i < len(self.id_to_token) else SPECIAL_TOKENS["unk_token_id"]

    def ids_of(self, tokens: Sequence[str]) -> np.ndarray:
        """int32 ids of already split tokens (UNK for unknown ones)."""
        return np.fromiter((self.lookup[t] for t in tokens), dtype=np.int32, count=len(tokens))

    # ------------------------------------------------------------------ I/O
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "text_params": self.params.to_dict(),
            "reserved_tokens": list(self.reserved_tokens),
            "level": self.level,
            "tokens": list(self.tokens),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], params: Any = None) -> Vocabulary:
        """Inverse of ``to_dict``; with ``params``, they must equal the stored ones."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DataError(f"vocabulary: got {str(data)[:80]!r}, expected a {FORMAT!r} JSON object")
        if data.get("version") != VERSION:
            raise DataError(f"vocabulary.version: got {data.get('version')!r}, expected {VERSION}")
        stored = TextParams.from_dict(data["text_params"])
        if params is not None:
            wanted = text_params_from(params)
            for name, value in stored.to_dict().items():
                if getattr(wanted, name) != value and name != "max_length":
                    raise ConfigError(
                        f"vocabulary: text_params.{name} is {value!r} in the file, but the configuration has "
                        f"{getattr(wanted, name)!r}; expected them to match"
                    )
            stored = wanted
        return cls(
            data["tokens"], stored, reserved_tokens=data.get("reserved_tokens", ()), level=data.get("level", "word")
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the vocabulary as UTF-8 JSON; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str], params: Any = None) -> Vocabulary:
        """Read a vocabulary written by ``save``."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read vocabulary {str(path)!r}: {type(exc).__name__}: {exc}") from exc
        return cls.from_dict(data, params)

    def __repr__(self) -> str:
        return f"Vocabulary({self.num_tokens} {self.level} tokens, vocab_size={self.params.vocab_size})"


def _count_words(counts: Counter[str], texts: list[str], *, lowercase: bool, form: str) -> None:
    counts.update(corpus_words(texts, lowercase=lowercase, form=form))


def _count_chars(counts: Counter[str], texts: list[str], *, lowercase: bool, form: str) -> None:
    counts.update(corpus_clusters(texts, lowercase=lowercase, form=form))
