"""Vocabulary and Tokenizer: building, JSON, ids against a plain reference, round trips, determinism."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import unicodedata

import numpy as np
import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from modalax import ConfigError, DataError
from modalax_text import TextParams, Tokenizer, Vocabulary
from modalax_text.encoding import encode_words
from modalax_text.normalize import SEPARATOR, corpus_words


def reference_words(text: str, *, lowercase: bool = True, form: str = "NFC") -> list[str]:
    """A plain loop over grapheme clusters (``regex``'s ``\\X``) after ``unicodedata.normalize``:
    clusters led by a word character join into words, other non-space clusters stand alone."""
    text = text.lower() if lowercase else text
    text = text if form == "none" else unicodedata.normalize(form, text)
    out: list[str] = []
    word = False
    for cluster in regex.findall(r"\X", text):
        if regex.match(r"\w", cluster):
            if word:
                out[-1] += cluster
            else:
                out.append(cluster)
            word = True
            continue
        word = False
        if not cluster.isspace() and not cluster[-1].isspace():
            out.append(cluster)
    return out


def reference_ids(texts, vocab: Vocabulary, max_length: int) -> np.ndarray:
    """The plain per-text loop the tokenizer must agree with (NUL counts as a space)."""
    p = vocab.params
    out = np.full((len(texts), max_length), p.pad_token_id, np.int32)
    for i, t in enumerate(texts):
        t = t.replace("\x00", " ")
        words = reference_words(t, lowercase=not p.case_sensitive, form=p.normalization)
        ids = [vocab.token_to_id.get(w, p.unk_token_id) for w in words][: max_length - 2]
        row = [p.bos_token_id, *ids, p.eos_token_id]
        out[i, : len(row)] = row
    return out


def test_vocabulary_ranks_by_count_then_word_and_honours_min_freq_and_cap():
    corpus = ["b a c", "a b", "a d d", "e"]  # counts: a3 b2 d2 c1 e1
    v = Vocabulary.from_corpus(corpus, TextParams(vocab_size=10))
    assert v.tokens[:4] == ("<pad>", "<unk>", "<bos>", "<eos>")
    assert v.tokens[4:] == ("a", "b", "d", "c", "e")  # ties broken by the word
    assert Vocabulary.from_corpus(corpus, TextParams(vocab_size=10), min_freq=2).tokens[4:] == ("a", "b", "d")
    capped = Vocabulary.from_corpus(corpus, TextParams(vocab_size=6))
    assert len(capped) == 6 and capped.tokens[4:] == ("a", "b")
    # the specials may sit anywhere; words fill the free ids in order
    odd = Vocabulary.from_corpus(
        corpus, TextParams(vocab_size=9, pad_token_id=8, unk_token_id=0, bos_token_id=4, eos_token_id=2)
    )
    assert odd.tokens == ("<unk>", "a", "<eos>", "b", "<bos>", "d", "c", "e", "<pad>")
    reserved = Vocabulary.from_corpus(corpus, TextParams(vocab_size=10), reserved_tokens=("<mask>",))
    assert reserved.id_of("<mask>") == 4 and reserved.id_of("a") == 5 and reserved.id_of("zzz") == 1


def test_vocabulary_json_round_trip_and_mismatch(tmp_path):
    params = TextParams(vocab_size=20, max_length=12)
    tok = Tokenizer.from_corpus(["Hello, world! Hello again."], params, reserved_tokens=("<mask>",))
    path = tok.save(tmp_path / "vocab.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["format"] == "modalax-text-vocabulary" and data["tokens"][5:8] == ["hello", "!", ","]
    again = Tokenizer.load(path)
    assert again.vocabulary.tokens == tok.vocabulary.tokens and again.vocabulary.reserved_tokens == ("<mask>",)
    np.testing.assert_array_equal(again.tokenize("hello again, world"), tok.tokenize("hello again, world"))
    assert Tokenizer.load(path, TextParams(vocab_size=20, max_length=40)).params.max_length == 40
    with pytest.raises(
        ConfigError,
        match=r"text_params\.case_sensitive is False in the file, but the configuration "
        r"has True",
    ):
        Tokenizer.load(path, TextParams(vocab_size=20, case_sensitive=True))
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match=r"cannot read vocabulary .*bad\.json"):
        Vocabulary.load(tmp_path / "bad.json")


def test_tokenize_frames_pads_splits_punctuation_and_maps_oov_to_unk():
    tok = Tokenizer.from_corpus(["the cat sat on the mat ."], TextParams(vocab_size=50, max_length=10))
    ids = tok.tokenize("The cat, sat!")
    v = tok.vocabulary
    assert ids.dtype == np.int32 and ids.shape == (10,)
    np.testing.assert_array_equal(ids, [2, v.id_of("the"), v.id_of("cat"), 1, v.id_of("sat"), 1, 3, 0, 0, 0])
    batch = tok.tokenize(["the mat", "", "dog"])
    assert batch.shape == (3, 10)
    np.testing.assert_array_equal(batch[1], [2, 3, 0, 0, 0, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(batch[2], [2, 1, 3, 0, 0, 0, 0, 0, 0, 0])
    assert tok.words("Hello, World!") == ["hello", ",", "world", "!"]
    assert tok.tokenize([]).shape == (0, 10)


def test_truncation_keeps_eos():
    tok = Tokenizer.from_corpus(["a b c d e f g h"], TextParams(vocab_size=20, max_length=6))
    long = tok.tokenize(["a b c d e f g h", "a b c d", "a b c d e"])
    v = tok.vocabulary
    a, b, c, d = (v.id_of(w) for w in "abcd")
    np.testing.assert_array_equal(long[0], [2, a, b, c, d, 3])
    np.testing.assert_array_equal(long[1], [2, a, b, c, d, 3])
    np.testing.assert_array_equal(long[2], [2, a, b, c, d, 3])
    assert tok.tokenize("a b c", max_length=3).tolist() == [2, a, 3]
    assert tok.tokenize("a b c", max_length=2).tolist() == [2, 3]


def test_case_sensitivity_is_honoured():
    corpus = ["Apple apple APPLE"]
    insensitive = Tokenizer.from_corpus(corpus, TextParams(vocab_size=20, max_length=6))
    assert insensitive.vocabulary.tokens[4:] == ("apple",)
    assert len(set(insensitive.tokenize("Apple apple APPLE")[1:4].tolist())) == 1
    sensitive = Tokenizer.from_corpus(corpus, TextParams(vocab_size=20, max_length=6, case_sensitive=True))
    assert sensitive.vocabulary.tokens[4:] == ("APPLE", "Apple", "apple")
    ids = sensitive.tokenize("Apple apple aPPle")
    assert ids[1] != ids[2] and ids[3] == 1  # aPPle is unknown


def test_detokenize_inverts_in_vocabulary_text_up_to_normalisation():
    texts = ["The quick brown fox, it jumps!", "Over the lazy dog (twice)."]
    tok = Tokenizer.from_corpus(texts, TextParams(vocab_size=100, max_length=16))
    assert tok.detokenize(tok.tokenize(texts)) == [tok.normalize(t) for t in texts]
    assert tok.detokenize(tok.tokenize(texts[0])) == "the quick brown fox , it jumps !"
    assert tok.detokenize(tok.tokenize("the cat")) == "the <unk>"


def test_byte_level_fallback_round_trips_any_text_exactly():
    tok = Tokenizer(TextParams(max_length=64, case_sensitive=True))
    assert tok.byte_level
    ids = tok.tokenize("Hello world")
    np.testing.assert_array_equal(ids[:13], [2, *(b + 4 for b in b"Hello world"), 3])
    for text in ["Hello world", "Ünïcödé — 日本語 🙂", "", "tabs\tand\nnewlines\x00nul"]:
        assert tok.detokenize(tok.tokenize(text)) == text
    # case_sensitive=False (the default) lower-cases at byte level too
    lower = Tokenizer(TextParams(max_length=64))
    np.testing.assert_array_equal(lower.tokenize("Hello world")[:13], [2, *(b + 4 for b in b"hello world"), 3])
    assert lower.detokenize(lower.tokenize("Ünïcödé")) == "ünïcödé" == lower.normalize("Ünïcödé")
    np.testing.assert_array_equal(lower.encode("AB"), lower.encode("ab"))
    with pytest.raises(ConfigError, match=r"vocab_size: got 100, but the byte-level tokenizer needs 260 ids"):
        Tokenizer(TextParams(vocab_size=100)).tokenize("x")


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=40))
def test_byte_level_round_trip_property(text):
    exact = Tokenizer(TextParams(max_length=4 * 40 + 2, case_sensitive=True, normalization="none"))
    assert exact.detokenize(exact.tokenize(text)) == text
    tok = Tokenizer(TextParams(max_length=3 * 4 * 40 + 2, case_sensitive=True))
    assert tok.detokenize(tok.tokenize(text)) == unicodedata.normalize("NFC", text)
    lower = Tokenizer(TextParams(max_length=3 * 4 * 40 + 2))
    assert lower.detokenize(lower.tokenize(text)) == unicodedata.normalize("NFC", text.lower())


ALPHABET = st.sampled_from(
    list("abcXYZ019_ ")
    + [
        " ",
        "\t",
        "\n",
        "\r",
        "\x0b",
        "\x1c",
        ".",
        ",",
        "!",
        "'",
        "-",
        "(",
        "\x00",
        "\x01",
        "é",
        "ß",
        "İ",
        "\u212a",
        "\u00a0",
        "—",
        "🙂",
        "\u0301",  # combining acute
        "\u0308",  # combining diaeresis
        "\U0001f3fd",  # skin tone modifier
        "\u200d",  # zero width joiner
        "👩",
        "\U0001f1e9",  # regional indicators D, E (a flag in pairs)
        "\U0001f1ea",
        "न",
        "\u094d",  # Devanagari virama
        "ि",
        "ส",
        "\u0e31",  # Thai mai han-akat
        "日",
        "\u1100",  # Hangul conjoining jamo (NFD Korean)
        "\u1161",
        "ﬁ",
        "²",
        "abcdefghijklmnopqrstu",
        "ab_cd09xyzwvu",
    ]
)
TEXTS = st.lists(st.lists(ALPHABET, max_size=12).map("".join), max_size=8)


@settings(max_examples=150, deadline=None)
@given(TEXTS, TEXTS, st.booleans(), st.integers(2, 12), st.sampled_from(["NFC", "NFD", "NFKC", "NFKD", "none"]))
def test_batch_ids_equal_the_plain_reference_loop(corpus, texts, case_sensitive, max_length, form):
    tok = Tokenizer.from_corpus(
        corpus + ["abc x ab_cd09xyzwvu abcdefghijklmnopqrstu"],
        TextParams(vocab_size=40, max_length=max_length, case_sensitive=case_sensitive, normalization=form),
    )
    expected = reference_ids(texts, tok.vocabulary, max_length)
    np.testing.assert_array_equal(tok.tokenize(texts), expected)
    for i, t in enumerate(texts):
        np.testing.assert_array_equal(tok.tokenize(t), expected[i])


def test_ascii_fast_path_equals_the_general_path():
    rng = np.random.default_rng(0)
    words = np.array(
        [
            "a",
            "bb",
            "ccc",
            "dddddddd",
            "eeeeeeeee",
            "ffffffffffffffff",
            "g" * 17,
            "h" * 30,
            "_x1",
            "9",
            ".",
            ",",
            "!",
            "Mixed",
            "UPPER",
            "zz",
        ]
    )
    texts = [" ".join(rng.choice(words, rng.integers(0, 20))) for _ in range(300)]
    vocab = Vocabulary.from_tokens(
        ["a", "ccc", "eeeeeeeee", "ffffffffffffffff", "h" * 30, "_x1", ".", "mixed"], TextParams(vocab_size=50)
    )
    fast = encode_words(texts, vocab, lowercase=True)
    tokens = corpus_words(texts, lowercase=True)
    slow = np.array([-1 if t == SEPARATOR else vocab.lookup[t] for t in tokens], np.int32)
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(
        Tokenizer(vocab.params, vocab).tokenize(texts, max_length=24), reference_ids(texts, vocab, 24)
    )


@pytest.mark.parametrize("byte_level", [False, True], ids=["word", "byte"])
def test_long_lists_are_encoded_in_chunks_with_the_same_ids(byte_level):
    # 5,000 texts span three chunks of the tokenizer; non-ASCII and NUL texts sit in the middle
    # chunk only, so each chunk takes a different path (ASCII, general, ASCII and a short tail).
    rng = np.random.default_rng(1)
    words = np.array(["the", "cat", "Sat", "on", "a", "mat", ".", ",", "zzz", "h" * 20])
    texts = [" ".join(rng.choice(words, rng.integers(0, 30))) for _ in range(5000)]
    texts[2500], texts[3000] = "Über die Brücke — ça va", "nul\x00inside the text"
    vocab = Vocabulary.from_tokens(["the", "cat", "sat", "a", ".", "über", "ça", "h" * 20], TextParams(vocab_size=30))
    tok = Tokenizer(TextParams(vocab_size=300), None) if byte_level else Tokenizer(vocab.params, vocab)
    ids = tok.tokenize(texts, max_length=16)
    assert ids.shape == (5000, 16)
    singles = np.stack([tok.tokenize(t, max_length=16) for t in texts])
    np.testing.assert_array_equal(ids, singles)
    if not byte_level:
        np.testing.assert_array_equal(ids, reference_ids(texts, vocab, 16))


def test_bad_inputs_raise_clear_errors():
    tok = Tokenizer.from_corpus(["a"], TextParams(vocab_size=10))
    with pytest.raises(DataError, match=r"texts\[1\] is int, expected str"):
        tok.tokenize(["a", 3])
    with pytest.raises(ConfigError, match=r"max_length: got 1, expected an int >= 2"):
        tok.tokenize("a", max_length=1)
    with pytest.raises(DataError, match=r"detokenize: got float64 array"):
        tok.detokenize(np.zeros((2, 3)))
    with pytest.raises(ConfigError, match=r"min_freq: got 0, expected an int >= 1"):
        Vocabulary.from_corpus(["a"], min_freq=0)
    with pytest.raises(ConfigError, match=r"Vocabulary\.tokens\[0\]: got 'x', expected '<pad>'"):
        Vocabulary(["x", "<unk>", "<bos>", "<eos>"])


DETERMINISM = textwrap.dedent("""
    import hashlib, numpy as np
    from modalax_text import SyntheticTextDataset, TextParams, Tokenizer, text_config
    corpus = [f"w{i % 37} x{i % 11} y{(i * 7) % 5} tie{i}" for i in range(400)]  # many equal counts
    tok = Tokenizer.from_corpus(corpus, TextParams(vocab_size=300, max_length=12))
    ids = tok.tokenize(corpus + ["unseen words here", "tie3 w1"])
    ds = SyntheticTextDataset(text_config(max_length=16), 50, "random_sentences", rngs=7)
    rec = np.asarray(ds.get_records(np.arange(50))["text_tokens"])
    texts = "|".join(ds.host_records(np.arange(50))["texts"])
    h = hashlib.sha256(repr(tok.vocabulary.tokens).encode() + ids.tobytes() + rec.tobytes() + texts.encode())
    print(h.hexdigest())
""")


@pytest.mark.multiprocess
def test_identical_ids_in_processes_with_different_hash_seeds():
    digests = set()
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "JAX_PLATFORMS": "cpu"}
        out = subprocess.run(
            [sys.executable, "-c", DETERMINISM], capture_output=True, text=True, env=env, timeout=300, check=True
        )
        digests.add(out.stdout.strip().splitlines()[-1])
    assert len(digests) == 1
