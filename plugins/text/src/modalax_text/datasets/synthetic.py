"""``SyntheticTextDataset``: text generated on demand from (seed, split, index), vectorised.

Each record draws word *slots* from its own key with jax (which lexicon word fills each slot,
or -1 for an empty slot); a table lookup turns lexicon entries into the tokenizer's ids and a
scatter lays them out as BOS, ids, EOS, padding.  All of it is jitted over the batch.  The raw
strings are made only in ``host_records`` (numpy indexing and ``str.join``: host work on
strings), from the same slots, so ``tokenizer.tokenize(texts) == text_tokens``.

The grammar is sized to ``vocab_size`` (``grammar.grammar_for``): the full 297 words from 301
ids, a smaller grammar of the same shape down to ``grammar.MIN_VOCAB_SIZE`` (32) ids, so every
id stays below ``vocab_size`` without UNK.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from modalax.plugin import ConfigError, ModalityConfiguration, SyntheticDataset, record_keys, unknown_name_message
from modalax_text import grammar
from modalax_text.datasets.base import TextDataset, dataset_rngs, resolve_config
from modalax_text.grammar import Grammar
from modalax_text.kernels import uniform_ints, uniforms
from modalax_text.params import TextParams
from modalax_text.tokenizer import Tokenizer

__all__ = ["PatternType", "SyntheticTextDataset", "layout_tokens"]

_ENDINGS = frozenset(grammar.ENDINGS)


class PatternType(enum.StrEnum):
    """What synthetic text looks like."""

    RANDOM_SENTENCES = "random_sentences"  # determiner-adjective-noun-verb-adverb sentences, optional phrases
    REPEATED_PHRASES = "repeated_phrases"  # a 2-4 word phrase repeated 2-5 times
    SEQUENCES = "sequences"  # arithmetic progressions of numbers mod 100 (5-16 terms)
    PALINDROMES = "palindromes"  # word sequences that read the same backwards


def _pattern(value: Any) -> PatternType:
    if isinstance(value, PatternType):
        return value
    try:
        return PatternType(value)
    except ValueError:
        message = unknown_name_message("pattern", value, [p.value for p in PatternType])
        raise ConfigError(f"SyntheticTextDataset.pattern_type: {message}") from None


# ------------------------------------------------------------------ slot drawing
# Each drawer maps one record key to (lexicon index per slot, presence per slot) using a
# single ``uniforms`` call, so the vmapped generator compiles quickly.
def _sentence_drawer(g: Grammar) -> Callable[[jax.Array], tuple[jax.Array, jax.Array]]:
    tables: list[list[int]] = []
    starts: list[int] = []
    sizes: list[int] = []
    for cls, _ in grammar.SENTENCE_SLOTS:
        offset, size = g.class_range(cls)
        entries = list(range(offset, offset + size))
        if cls == "ending":  # weights by repetition
            entries = [e for e, w in zip(entries, g.ending_weights, strict=True) for _ in range(w)]
        starts.append(sum(len(t) for t in tables))
        sizes.append(len(entries))
        tables.append(entries)
    table = np.concatenate(tables).astype(np.int32)
    starts_a, sizes_a = np.array(starts, np.int32), np.array(sizes, np.int32)
    probs = np.array(grammar.SENTENCE_GROUP_PROBS, np.float32)
    needs = np.zeros((len(grammar.SENTENCE_SLOTS), len(probs)), bool)
    for s, (_, groups) in enumerate(grammar.SENTENCE_SLOTS):
        needs[s, list(groups)] = True
    n_slots = len(starts)

    def draw(key: jax.Array) -> tuple[jax.Array, jax.Array]:
        u = uniforms(key, (n_slots + len(probs),))
        words = jnp.asarray(table)[starts_a + uniform_ints(u[:n_slots], 0, jnp.asarray(sizes_a))]
        group_on = u[n_slots:] < probs
        present = jnp.all(jnp.where(needs, group_on[None, :], True), axis=1)
        return words, present

    return draw


def _repeated_drawer(cap: int, g: Grammar) -> Callable[[jax.Array], tuple[jax.Array, jax.Array]]:
    offset, size = g.content_range
    slots = 4 * 5

    def draw(key: jax.Array) -> tuple[jax.Array, jax.Array]:
        u = uniforms(key, (6,))
        k, r = uniform_ints(u[0], 2, 5), uniform_ints(u[1], 2, 6)
        phrase = uniform_ints(u[2:], offset, offset + size)
        j = jnp.arange(slots)
        return phrase[j % k], j < k * r

    return draw


def _sequence_drawer(cap: int, g: Grammar) -> Callable[[jax.Array], tuple[jax.Array, jax.Array]]:
    offset, size = g.class_range("number")
    slots = 16
    steps = min(20, size)  # steps 1..19 modulo the count of numbers, never 0

    def draw(key: jax.Array) -> tuple[jax.Array, jax.Array]:
        u = uniforms(key, (3,))
        start, step = uniform_ints(u[0], 0, size), uniform_ints(u[1], 1, steps)
        n = jnp.minimum(uniform_ints(u[2], 5, slots + 1), cap)
        j = jnp.arange(slots)
        return offset + (start + step * j) % size, j < n

    return draw


def _palindrome_drawer(cap: int, g: Grammar) -> Callable[[jax.Array], tuple[jax.Array, jax.Array]]:
    offset, size = g.content_range
    half_max = min(6, cap // 2)
    slots = 2 * half_max + 1

    def draw(key: jax.Array) -> tuple[jax.Array, jax.Array]:
        u = uniforms(key, (half_max + 3,))
        h = uniform_ints(u[0], 1, half_max + 1)
        odd = (u[1] < 0.5) & (2 * h + 1 <= cap)
        total = 2 * h + odd.astype(jnp.int32)
        half = uniform_ints(u[2:], offset, offset + size)
        j = jnp.arange(slots)
        return half[jnp.clip(jnp.minimum(j, total - 1 - j), 0, half_max)], j < total

    return draw


def layout_tokens(word_ids: jax.Array, present: jax.Array, params: TextParams, max_length: int) -> jax.Array:
    """``(B, S)`` ids with a presence mask -> ``(B, max_length)``: BOS, present ids, EOS, padding.

    Longer runs are truncated to ``max_length - 2`` ids and keep EOS.  Pure jax.
    """
    b = word_ids.shape[0]
    cap = max_length - 2
    pos = jnp.cumsum(present, axis=1) - 1
    col = jnp.where(present & (pos < cap), pos + 1, max_length)  # max_length: out of range, dropped
    rows = jnp.broadcast_to(jnp.arange(b)[:, None], col.shape)
    tokens = jnp.full((b, max_length), params.pad_token_id, jnp.int32)
    tokens = tokens.at[rows, col].set(word_ids.astype(jnp.int32), mode="drop")
    tokens = tokens.at[:, 0].set(params.bos_token_id)
    n = jnp.minimum(jnp.sum(present, axis=1), cap)
    return tokens.at[jnp.arange(b), n + 1].set(params.eos_token_id)


class SyntheticTextDataset(TextDataset, SyntheticDataset):
    """Synthetic text: ``random_sentences``, ``repeated_phrases``, ``sequences``, ``palindromes``.

    The grammar fits ``vocab_size`` (the full 297 words from 301 ids, a smaller one of the same
    shape down to ``grammar.MIN_VOCAB_SIZE`` = 32 ids; ``ConfigError`` below).  Token ids of
    its words come from ``tokenizer`` (default: a word vocabulary of the grammar's lexicon),
    which must know every word and keep every id below ``vocab_size``.  Record ``i`` is a pure
    function of (seed, split, i): nothing is stored, so ``dataset_size`` may be huge.
    ``seed`` (an int) or ``rngs`` (``nnx.Rngs`` or an int; it wins when both are given) set
    the seed.
    """

    def __init__(
        self,
        config: ModalityConfiguration | None = None,
        dataset_size: int = 1000,
        pattern_type: str | PatternType = "random_sentences",
        split: str = "train",
        *,
        seed: int | None = None,
        rngs: nnx.Rngs | int | None = None,
        tokenizer: Tokenizer | None = None,
    ) -> None:
        owner = type(self).__name__
        config, params = resolve_config(config)
        self.pattern_type = _pattern(pattern_type)
        if self.pattern_type is PatternType.PALINDROMES and params.max_length < 4:
            raise ConfigError(
                f"TextParams.max_length: got {params.max_length}, expected at least 4 for pattern 'palindromes'"
            )
        try:
            self.grammar = grammar.grammar_for(params.vocab_size)
        except ValueError:
            raise ConfigError(
                f"TextParams.vocab_size: got {params.vocab_size}, but {owner} needs at least "
                f"{grammar.MIN_VOCAB_SIZE} ids (its smallest grammar has {grammar.MIN_VOCAB_SIZE - 4} words, "
                f"plus the 4 special tokens); expected vocab_size >= {grammar.MIN_VOCAB_SIZE}"
            ) from None
        SyntheticDataset.__init__(self, config, dataset_size, split, rngs=dataset_rngs(owner, rngs, seed))
        self._key = self.dataset_key(self.pattern_type.value)  # patterns of one seed draw independently
        lexicon = self.grammar.lexicon
        if tokenizer is None:
            tokenizer = Tokenizer.from_tokens(lexicon, params)
        elif not isinstance(tokenizer, Tokenizer) or tokenizer.byte_level or type(tokenizer) is not Tokenizer:
            raise ConfigError(
                f"{owner}.tokenizer: got {tokenizer!r}, expected a word-level Tokenizer "
                "(synthetic text is made of whole words)"
            )
        assert tokenizer.vocabulary is not None
        lacking = [w for w in lexicon if w not in tokenizer.vocabulary]
        if lacking:
            raise ConfigError(
                f"{owner}.tokenizer: its vocabulary lacks {len(lacking)} of the grammar's "
                f"{len(lexicon)} words (e.g. {', '.join(map(repr, lacking[:5]))}); they would all be <unk>. "
                "Expected a vocabulary with every word of the grammar "
                f"(modalax_text.grammar.grammar_for({params.vocab_size}).lexicon)"
            )
        ids = tokenizer.token_ids(lexicon)
        if int(ids.max()) >= params.vocab_size:
            raise ConfigError(
                f"{owner}.tokenizer: gives {lexicon[int(ids.argmax())]!r} id {int(ids.max())}, expected ids below "
                f"the config's vocab_size={params.vocab_size}"
            )
        self._set_text(params, tokenizer)
        self.word_ids = jnp.asarray(ids)

    def word_slots(self, keys: jax.Array) -> jax.Array:
        """Lexicon index of each slot of each record, -1 for an empty slot: ``(B, S)`` int32."""
        return _word_slots(keys, self.pattern_type, self.params.max_length - 2, self.grammar)

    def generate_records(self, keys: jax.Array, indices: jax.Array) -> dict[str, jax.Array]:
        slots = self.word_slots(keys)
        return {"text_tokens": _layout(slots, self.word_ids, self.params)}

    def _both(self, indices: Any) -> tuple[jax.Array, jax.Array]:
        idx = jnp.asarray(np.asarray(indices) if not isinstance(indices, jax.Array) else indices, dtype=jnp.int32)
        return _tokens_and_slots(
            self._key, idx, self.word_ids, pattern=self.pattern_type, params=self.params, grammar=self.grammar
        )

    def get_records(self, indices: Any) -> dict[str, jax.Array]:
        """``text_tokens`` of the records at ``indices`` (record keys are folded inside the jit)."""
        return {"text_tokens": self._both(indices)[0]}

    def host_records(self, indices: Any) -> dict[str, Any]:
        """``texts``: the raw strings of the records at ``indices``."""
        slots = np.asarray(self._both(indices)[1])
        lexicon = _lexicon_array(self.grammar)
        return {"texts": [_join(lexicon[row[row >= 0]]) for row in slots]}


@functools.cache
def _lexicon_array(g: Grammar) -> np.ndarray:
    return np.array(g.lexicon, dtype=object)


@functools.cache
def _drawer(pattern: PatternType, cap: int, g: Grammar) -> Callable[[jax.Array], tuple[jax.Array, jax.Array]]:
    if pattern is PatternType.RANDOM_SENTENCES:
        return _sentence_drawer(g)
    builders = {
        PatternType.REPEATED_PHRASES: _repeated_drawer,
        PatternType.SEQUENCES: _sequence_drawer,
        PatternType.PALINDROMES: _palindrome_drawer,
    }
    return builders[pattern](cap, g)


def _word_slots(keys: jax.Array, pattern: PatternType, cap: int, g: Grammar) -> jax.Array:
    words, present = jax.vmap(_drawer(pattern, cap, g))(keys)
    return jnp.where(present, words, -1).astype(jnp.int32)


def _layout(slots: jax.Array, word_ids: jax.Array, params: TextParams) -> jax.Array:
    return layout_tokens(word_ids[jnp.maximum(slots, 0)], slots >= 0, params, params.max_length)


# Module-level and keyed by (pattern, params, grammar, shapes): every dataset instance with the
# same settings shares one executable, serving both tokens (get_records) and strings (host_records).
@functools.partial(jax.jit, static_argnames=("pattern", "params", "grammar"))
def _tokens_and_slots(
    base_key: jax.Array,
    indices: jax.Array,
    word_ids: jax.Array,
    *,
    pattern: PatternType,
    params: TextParams,
    grammar: Grammar,
) -> tuple[jax.Array, jax.Array]:
    slots = _word_slots(record_keys(base_key, indices), pattern, params.max_length - 2, grammar)
    return _layout(slots, word_ids, params), slots


def _join(words: np.ndarray) -> str:
    if len(words) and words[-1] in _ENDINGS:
        return " ".join(words[:-1]) + words[-1]
    return " ".join(words)
