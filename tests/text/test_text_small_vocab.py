"""Synthetic text with small vocabularies: a grammar of the same shape that fits ``vocab_size``,
every id below it, no UNK, the patterns intact, and the same data for the same seed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from flax import nnx

from modalax import ConfigError
from modalax_text import SyntheticTextDataset, create_text_dataset, grammar, text_config

PATTERNS = ["random_sentences", "repeated_phrases", "sequences", "palindromes"]
SIZES = [32, 47, 100, 300, 301, 10000]


def test_grammar_fits_the_vocabulary():
    full = [len(words) for words in grammar.CLASSES.values()]
    assert grammar.MIN_VOCAB_SIZE == 32 and grammar.grammar_for(10000) == grammar.FULL
    for vocab_size in range(32, 320):
        g = grammar.grammar_for(vocab_size)
        assert sum(g.sizes) == min(vocab_size - 4, len(grammar.LEXICON)), vocab_size
        assert all(grammar.MIN_WORDS[c] <= n <= f for c, n, f in zip(grammar.CLASSES, g.sizes, full, strict=True))
        assert len(set(g.lexicon)) == len(g.lexicon)
        if vocab_size > 32:  # a larger vocabulary never loses a word
            smaller = grammar.grammar_for(vocab_size - 1)
            assert all(a >= b for a, b in zip(g.sizes, smaller.sizes, strict=True)), vocab_size
    # the classes keep their proportions (within a word or two of the full grammar's shares)
    g = grammar.grammar_for(100)
    shares = np.array(g.sizes) / sum(g.sizes) - np.array(full) / sum(full)
    assert np.abs(shares).max() < 0.03


@pytest.fixture(scope="module")
def datasets():
    return {
        (v, p): SyntheticTextDataset(text_config(vocab_size=v, max_length=24), 400, p, seed=4)
        for v in SIZES
        for p in PATTERNS
    }


def words_of(tokens: np.ndarray) -> list[np.ndarray]:
    eos = np.argmax(tokens == 3, axis=1)
    return [row[1:e] for row, e in zip(tokens, eos, strict=True)]


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("vocab_size", SIZES)
def test_ids_stay_below_vocab_size_and_texts_tokenize_to_them(datasets, vocab_size, pattern):
    ds = datasets[vocab_size, pattern]
    idx = np.arange(400)
    tokens = np.asarray(ds.get_records(idx)["text_tokens"])
    texts = ds.host_records(idx)["texts"]
    assert tokens.min() >= 0 and tokens.max() < vocab_size
    assert not np.any(tokens == 1)  # no UNK: every word has an id
    np.testing.assert_array_equal(ds.tokenizer.tokenize(texts), tokens)
    assert np.all(tokens[:, 0] == 2) and np.all((tokens == 3).sum(axis=1) == 1)
    assert len(set(texts)) >= 200  # still varied data
    words = {w for t in texts for w in t.replace(".", " .").replace("!", " !").replace("?", " ?").split()}
    assert words <= set(ds.grammar.lexicon)


@pytest.mark.parametrize("vocab_size", [32, 100, 10000])
def test_patterns_keep_their_meaning(datasets, vocab_size):
    idx = np.arange(400)
    g = datasets[vocab_size, "sequences"].grammar
    numbers = g.class_range("number")[1]
    sentences = datasets[vocab_size, "random_sentences"].host_records(idx)["texts"]
    determiners = set(grammar.DETERMINERS)
    assert all(t[-1] in ".!?" and t.split()[0] in determiners for t in sentences)
    for t in datasets[vocab_size, "sequences"].host_records(idx)["texts"]:
        v = [int(x) for x in t.split()]
        steps = {(b - a) % numbers for a, b in itertools.pairwise(v)}
        assert max(v) < numbers and len(v) >= 5 and len(steps) == 1 and 0 not in steps, t
    runs = words_of(np.asarray(datasets[vocab_size, "palindromes"].get_records(idx)["text_tokens"]))
    assert all(len(r) >= 2 and np.array_equal(r, r[::-1]) for r in runs)
    for t in datasets[vocab_size, "repeated_phrases"].host_records(idx)["texts"]:
        w = t.split()
        assert any(len(w) % k == 0 and w == w[:k] * (len(w) // k) for k in (2, 3, 4)), t


@pytest.mark.parametrize("vocab_size", [32, 100])
def test_same_seed_same_data(datasets, vocab_size):
    idx = np.arange(400)
    first = np.asarray(datasets[vocab_size, "random_sentences"].get_records(idx)["text_tokens"])
    again = SyntheticTextDataset(text_config(vocab_size=vocab_size, max_length=24), 400, seed=4)
    np.testing.assert_array_equal(np.asarray(again.get_records(idx)["text_tokens"]), first)
    other = SyntheticTextDataset(text_config(vocab_size=vocab_size, max_length=24), 400, seed=5)
    assert not np.array_equal(np.asarray(other.get_records(idx)["text_tokens"]), first)


def test_the_full_grammar_is_unchanged_from_301_ids(datasets):
    idx = np.arange(400)
    for pattern in PATTERNS:
        a, b = datasets[301, pattern], datasets[10000, pattern]
        assert a.grammar == b.grammar == grammar.FULL
        assert a.host_records(idx)["texts"] == b.host_records(idx)["texts"]


def test_artifex_style_small_vocabulary_through_the_factory():
    for pattern in PATTERNS:
        ds = create_text_dataset(
            text_config(vocab_size=100, max_length=16),
            "synthetic",
            pattern_type=pattern,
            dataset_size=5,
            rngs=nnx.Rngs(42),
        )
        batch = ds.get_batch(4)
        assert batch["text_tokens"].shape == (4, 16) and int(np.max(batch["text_tokens"])) < 100


@pytest.mark.parametrize("vocab_size", [5, 16, 31])
def test_below_the_minimum_is_a_clear_error(vocab_size):
    with pytest.raises(ConfigError) as info:
        SyntheticTextDataset(text_config(vocab_size=vocab_size), 10, seed=0)
    message = str(info.value)
    assert f"TextParams.vocab_size: got {vocab_size}" in message and "expected vocab_size >= 32" in message
