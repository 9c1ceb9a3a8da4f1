"""Synthetic, in-memory and file datasets; the factory; vocabulary statistics; the loader."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from flax import nnx

import modalax
from modalax import ConfigError, DataError
from modalax_text import (
    SimpleTextDataset,
    SyntheticTextDataset,
    TextFileDataset,
    Tokenizer,
    create_text_dataset,
    get_vocab_stats,
    text_config,
)

CFG = text_config(max_length=24)
PATTERNS = ["random_sentences", "repeated_phrases", "sequences", "palindromes"]


@pytest.fixture(scope="module")
def datasets():
    return {p: SyntheticTextDataset(CFG, 1000, p, rngs=nnx.Rngs(3)) for p in PATTERNS}


def words_of(tokens: np.ndarray) -> list[np.ndarray]:
    """The ids between BOS and EOS of each row."""
    eos = np.argmax(tokens == 3, axis=1)
    return [row[1:e] for row, e in zip(tokens, eos, strict=True)]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_synthetic_tokens_are_the_tokenized_texts_and_mostly_distinct(datasets, pattern):
    ds = datasets[pattern]
    idx = np.arange(1000)
    tokens = np.asarray(ds.get_records(idx)["text_tokens"])
    texts = ds.host_records(idx)["texts"]
    assert tokens.dtype == np.int32 and tokens.shape == (1000, 24)
    np.testing.assert_array_equal(ds.tokenizer.tokenize(texts), tokens)
    assert np.all(tokens[:, 0] == 2) and np.all((tokens == 3).sum(axis=1) == 1)
    assert not np.any(tokens == 1)  # every grammar word is in the vocabulary
    assert len(set(texts)) >= 900


def test_pattern_shapes(datasets):
    idx = np.arange(1000)  # the shape compiled above
    sentences = datasets["random_sentences"].host_records(idx)["texts"]
    assert all(t[-1] in ".!?" and 3 <= len(t.split()) <= 9 for t in sentences)
    for t in datasets["repeated_phrases"].host_records(idx)["texts"]:
        w = t.split()
        k = next(k for k in (2, 3, 4) if len(w) % k == 0 and w == w[:k] * (len(w) // k))
        assert 2 <= len(w) // k <= 5, t
    for t in datasets["sequences"].host_records(idx)["texts"]:
        v = [int(x) for x in t.split()]
        steps = {(b - a) % 100 for a, b in itertools.pairwise(v)}
        assert len(v) >= 5 and len(steps) == 1 and 0 not in steps, t


def test_palindromes_are_palindromes_at_token_level(datasets):
    tokens = np.asarray(datasets["palindromes"].get_records(np.arange(1000))["text_tokens"])
    runs = words_of(tokens)
    assert all(len(r) >= 2 and np.array_equal(r, r[::-1]) for r in runs)
    assert {len(r) % 2 for r in runs} == {0, 1}
    short = SyntheticTextDataset(text_config(max_length=5), 100, "palindromes", rngs=0)
    runs = words_of(np.asarray(short.get_records(np.arange(100))["text_tokens"]))
    assert all(np.array_equal(r, r[::-1]) and 2 <= len(r) <= 3 for r in runs)


def test_records_are_pure_functions_of_seed_split_and_index(datasets):
    ds = datasets["random_sentences"]
    whole = np.asarray(ds.get_records(np.arange(50))["text_tokens"])
    np.testing.assert_array_equal(np.asarray(ds.get_records(np.array([7, 3]))["text_tokens"]), whole[[7, 3]])
    same = SyntheticTextDataset(CFG, 1000, "random_sentences", rngs=nnx.Rngs(3))
    np.testing.assert_array_equal(np.asarray(same.get_records(np.arange(50))["text_tokens"]), whole)
    val = SyntheticTextDataset(CFG, 1000, "random_sentences", split="val", rngs=nnx.Rngs(3))
    train_texts = set(ds.host_records(np.arange(1000))["texts"])
    val_texts = val.host_records(np.arange(1000))["texts"]
    assert sum(t in train_texts for t in val_texts) < 20  # independent draws; a few short sentences coincide
    other = SyntheticTextDataset(CFG, 1000, "random_sentences", rngs=nnx.Rngs(4))
    assert not np.array_equal(np.asarray(other.get_records(np.arange(50))["text_tokens"]), whole)


def test_samples_batches_and_iteration(datasets):
    ds = datasets["sequences"]
    sample = ds[5]
    assert set(sample) == {"text_tokens", "text"} and sample["text_tokens"].shape == (24,)
    assert ds.tokenizer.detokenize(sample["text_tokens"]) == sample["text"]
    assert ds[-1]["text"] == ds[999]["text"]
    with pytest.raises(IndexError, match="expected -1000 <= index < 1000"):
        ds[1000]
    batch = ds.get_batch(6)
    assert batch["text_tokens"].shape == (6, 24) and len(batch["texts"]) == 6
    np.testing.assert_array_equal(ds.tokenizer.tokenize(batch["texts"]), np.asarray(batch["text_tokens"]))
    small = SyntheticTextDataset(CFG, 5, "sequences", rngs=nnx.Rngs(3))
    assert [s["text"] for s in small] == [ds[i]["text"] for i in range(5)]


def test_loader_batches_carry_texts(datasets):
    ds = datasets["random_sentences"]
    loader = modalax.DataLoader(ds, 8, shuffle=True, seed=1, with_indices=True)
    batch = next(iter(loader))
    assert set(batch) == {"text_tokens", "texts", "mask", "index"}
    idx = np.asarray(batch["index"])
    assert batch["texts"] == ds.host_records(idx)["texts"]
    np.testing.assert_array_equal(np.asarray(batch["text_tokens"]), np.asarray(ds.get_records(idx)["text_tokens"]))


def test_unknown_pattern_and_bad_tokenizer():
    with pytest.raises(
        ConfigError,
        match=r"pattern_type: unknown pattern 'palindrome'; available: palindromes, "
        r"random_sentences, repeated_phrases, sequences; did you mean 'palindromes'",
    ):
        SyntheticTextDataset(CFG, 10, "palindrome", rngs=0)
    with pytest.raises(ConfigError, match=r"expected a word-level Tokenizer"):
        SyntheticTextDataset(CFG, 10, tokenizer=Tokenizer(), rngs=0)
    with pytest.raises(ConfigError, match=r"max_length: got 3, expected at least 4 for pattern 'palindromes'"):
        SyntheticTextDataset(text_config(max_length=3), 10, "palindromes", rngs=0)
    with pytest.raises(ConfigError, match=r"dataset_size: got 0"):
        SyntheticTextDataset(CFG, 0, rngs=0)


def test_a_user_tokenizer_supplies_the_ids():
    from modalax_text import grammar

    # the user's own order: reversed lexicon after a reserved token, so ids differ from the default
    tok = Tokenizer.from_tokens(grammar.LEXICON[::-1], text_config(max_length=24), reserved_tokens=("<mask>",))
    ds = SyntheticTextDataset(CFG, 50, tokenizer=tok, rngs=0)
    idx = np.arange(50)
    tokens = np.asarray(ds.get_records(idx)["text_tokens"])
    np.testing.assert_array_equal(tok.tokenize(ds.host_records(idx)["texts"]), tokens)
    assert not np.any(tokens == 1)  # no UNK: every word of the grammar is known
    assert not np.array_equal(tokens, np.asarray(SyntheticTextDataset(CFG, 50, rngs=0).get_records(idx)["text_tokens"]))
    # a vocabulary lacking the grammar's words would make them UNK: refused, naming the count
    small = Tokenizer.from_corpus(["the cat runs quickly ."], text_config(max_length=24))
    with pytest.raises(ConfigError, match=r"lacks 292 of the grammar's 297 words"):
        SyntheticTextDataset(CFG, 50, tokenizer=small, rngs=0)


def test_simple_dataset_builds_its_vocabulary_and_gathers_on_device():
    texts = [
        "The quick brown fox jumps over the lazy dog",
        "Machine learning is a subset of artificial intelligence",
        "Deep learning uses neural networks",
    ]
    ds = SimpleTextDataset(CFG, texts, rngs=nnx.Rngs(0))
    assert len(ds) == 3 and ds.traceable
    samples = list(ds)
    assert [s["text"] for s in samples] == texts
    assert samples[0]["text_tokens"].shape == (24,)
    assert ds.tokenizer.detokenize(samples[2]["text_tokens"]) == texts[2].lower()
    batch = next(iter(modalax.DataLoader(ds, 2, shuffle=False)))
    assert batch["texts"] == texts[:2] and batch["mask"].tolist() == [True, True]
    last = list(modalax.DataLoader(ds, 2, shuffle=False))[-1]
    assert last["texts"] == [texts[2], texts[0]] and last["mask"].tolist() == [True, False]
    with pytest.raises(DataError, match=r"texts\[1\]: got int, expected str"):
        SimpleTextDataset(CFG, ["a", 1], rngs=0)
    with pytest.raises(DataError, match="got an empty list"):
        SimpleTextDataset(CFG, [], rngs=0)


def test_text_file_dataset_reads_lines_lazily(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("first line here\n\n   \nsecond, line!\r\nthird\n", encoding="utf-8")
    ds = TextFileDataset(CFG, path, rngs=0)
    assert len(ds) == 3 and not ds.traceable
    assert ds.read_texts([2, 0]) == ["third", "first line here"]
    batch = ds.get_records(np.array([1]))
    assert batch["texts"] == ["second, line!"]
    assert ds.tokenizer.detokenize(batch["text_tokens"][0]) == "second , line !"
    loaded = next(iter(modalax.DataLoader(ds, 3, shuffle=False)))
    assert loaded["texts"] == ["first line here", "second, line!", "third"]
    assert loaded["text_tokens"].shape == (3, 24)
    path.write_text("first line here\n\n   \nSECOND, LINE?\r\nthird\n", encoding="utf-8")
    assert ds[1]["text"] == "SECOND, LINE?"  # read on demand by offset, not cached


def test_jsonl_files_and_a_saved_vocabulary(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text('{"text": "hello world", "id": 1}\n{"text": "hello again"}\n', encoding="utf-8")
    b.write_text('\n{"text": "bye"}\n', encoding="utf-8")
    vocab = Tokenizer.from_corpus(["hello world again"], text_config(max_length=24)).save(tmp_path / "v.json")
    ds = TextFileDataset(CFG, [a, b], tokenizer=vocab, rngs=0)
    assert len(ds) == 3 and [s["text"] for s in ds] == ["hello world", "hello again", "bye"]
    assert ds[2]["text_tokens"][:3].tolist() == [2, 1, 3]  # "bye" is not in the saved vocabulary
    b.write_text('{"text": "bye"}\n{"txt": "oops"}\n', encoding="utf-8")
    ds = TextFileDataset(CFG, b, tokenizer=vocab, rngs=0)
    with pytest.raises(DataError, match=r"b\.jsonl' line 2: missing field 'text'; the record has \['txt'\]"):
        ds[1]
    b.write_text('{"text": 5}\nnot json\n', encoding="utf-8")
    ds = TextFileDataset(CFG, b, format="jsonl", tokenizer=vocab, rngs=0)
    with pytest.raises(DataError, match=r"line 1: field 'text' is int, expected a string"):
        ds[0]
    with pytest.raises(DataError, match=r"cannot parse .*b\.jsonl' line 2 as JSON"):
        ds[1]
    with pytest.raises(DataError, match=r"is not a readable file"):
        TextFileDataset(CFG, tmp_path / "missing.txt", rngs=0)
    with pytest.raises(ConfigError, match=r"format: got 'csv', expected one of auto, text, jsonl"):
        TextFileDataset(CFG, a, format="csv", rngs=0)


def test_factory_and_registry():
    ds = create_text_dataset(CFG, "synthetic", pattern_type="sequences", dataset_size=10, rngs=nnx.Rngs(0))
    assert isinstance(ds, SyntheticTextDataset) and len(ds) == 10
    simple = create_text_dataset(CFG, "simple", texts=["a b", "c"], rngs=nnx.Rngs(0))
    assert isinstance(simple, SimpleTextDataset)
    reg = modalax.create_dataset("text", "synthetic", config=CFG, dataset_size=4, rngs=nnx.Rngs(0))
    assert reg[0]["text"] == SyntheticTextDataset(CFG, 4, rngs=nnx.Rngs(0))[0]["text"]
    with pytest.raises(ValueError, match=r"unknown dataset type 'synth'; available: file, packed, simple, synthetic"):
        create_text_dataset(CFG, "synth", rngs=nnx.Rngs(0))
    with pytest.raises(ConfigError, match=r"config: got int"):
        SyntheticTextDataset(3)


def test_vocab_stats(datasets):
    stats = datasets["sequences"].get_vocab_stats()
    tokens = np.asarray(datasets["sequences"].get_records(np.arange(1000))["text_tokens"])
    lengths = np.array([len(r) for r in words_of(tokens)])
    assert stats["num_samples"] == 1000 and stats["vocab_size"] == 10000
    assert stats["total_tokens"] == lengths.sum() and stats["max_sequence_length"] == lengths.max()
    assert stats["unique_tokens"] == 100 and stats["unk_tokens"] == 0 and stats["vocabulary_tokens"] == 301
    assert stats["mean_length"] == pytest.approx(lengths.mean())
    direct = get_vocab_stats(np.array([[2, 5, 5, 1, 4, 3], [2, 6, 3, 0, 0, 0]]), text_config(max_length=6))
    assert direct["total_tokens"] == 5 and direct["unique_tokens"] == 4 and direct["unk_tokens"] == 1
    assert direct["full_length"] == 1 and direct["vocabulary_tokens"] is None
