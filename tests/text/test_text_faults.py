"""Fault injection for the text plugin: each bad input gets the right error type, and the message
names the field, file or value at fault.  Also: what happens inside jit, numpy scalars in configs,
and empty batches.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import modalax
from modalax import ConfigError, DataError, MissingFieldError
from modalax_text import (
    CharTokenizer,
    ExternalTokenizer,
    SimpleTextDataset,
    SyntheticTextDataset,
    TextFileDataset,
    TextModality,
    TextParams,
    TokenDropout,
    TokenDropoutConfig,
    Tokenizer,
    TokenMasking,
    TokenMaskingConfig,
    TokenSubstitution,
    TokenSubstitutionConfig,
    create_text_dataset,
    get_vocab_stats,
    text_config,
)
from modalax_text.metrics import corpus_bleu

P = TextParams(vocab_size=300, max_length=8)
CFG = text_config(vocab_size=300, max_length=8)


class _NoSpecials:
    """An encode/decode tokenizer that defines no special tokens at all."""

    def encode(self, text: str) -> list[int]:
        return [5 for _ in text.split()]

    def decode(self, ids: list[int]) -> str:
        return " ".join("w" for _ in ids)

    def __len__(self) -> int:
        return 50


class _Overflowing(_NoSpecials):
    """Says it has 50 ids but returns id 77."""

    def encode(self, text: str) -> list[int]:
        return [77]


def _lexicon() -> tuple[str, ...]:
    from modalax_text import grammar

    return grammar.LEXICON


def _op(cls, cfg_cls, **kw):
    return cls(cfg_cls(text_params=P, **kw), rngs=nnx.Rngs(0, augment=1))


def _write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


BAD = np.array([[2, 5, 300, 3, 0, 0, 0, 0]], np.int32)
NEG = np.array([[2, -4, 6, 3, 0, 0, 0, 0]], np.int32)

# (case id, action(tmp_path), error type, substrings the message must contain)
CASES = [
    (
        "detokenize id >= vocab_size",
        lambda t: Tokenizer(P).detokenize(BAD),
        DataError,
        ["token id 300", "vocab_size=300"],
    ),
    ("detokenize negative id", lambda t: Tokenizer.from_corpus(["a b"], P).detokenize(NEG), DataError, ["token id -4"]),
    (
        "masking an out-of-range id",
        lambda t: _op(TokenMasking, TokenMaskingConfig)({"text_tokens": BAD}),
        DataError,
        ["TokenMasking", "'text_tokens'", "token id 300", "[0, vocab_size=300)"],
    ),
    (
        "dropout of a negative id",
        lambda t: _op(TokenDropout, TokenDropoutConfig)({"text_tokens": NEG}),
        DataError,
        ["TokenDropout", "'text_tokens'", "token id -4"],
    ),
    (
        "substitution of an out-of-range id",
        lambda t: _op(TokenSubstitution, TokenSubstitutionConfig)({"text_tokens": jnp.asarray(BAD)}),
        DataError,
        ["TokenSubstitution", "token id 300"],
    ),
    (
        "mask_token_id is the padding id",
        lambda t: TokenMaskingConfig(text_params=P, mask_token_id=0),
        ConfigError,
        ["mask_token_id: got 0", "pad_token_id"],
    ),
    (
        "mask_token_id is the EOS id",
        lambda t: TokenMaskingConfig(text_params=P, mask_token_id=3),
        ConfigError,
        ["mask_token_id: got 3", "eos_token_id"],
    ),
    ("empty corpus", lambda t: Tokenizer.from_corpus([], P), DataError, ["Vocabulary.corpus", "got 0 text"]),
    ("blank corpus", lambda t: Tokenizer.from_corpus(["  ", "\n"], P), DataError, ["got 2 text", "no word"]),
    (
        "min_freq above every count",
        lambda t: Tokenizer.from_corpus(["a b a", "b a"], P, min_freq=5),
        DataError,
        ["min_freq: got 5", "'a'", "occurs 3"],
    ),
    ("empty character corpus", lambda t: CharTokenizer.from_corpus([""], P), DataError, ["no char"]),
    ("no tokens at all", lambda t: Tokenizer.from_tokens([], P), DataError, ["no token"]),
    (
        "vocab_size below the smallest synthetic grammar",
        lambda t: SyntheticTextDataset(text_config(vocab_size=31), 10, rngs=0),
        ConfigError,
        ["TextParams.vocab_size: got 31", "needs at least 32 ids", "28 words", "vocab_size >= 32"],
    ),
    (
        "a synthetic tokenizer whose ids pass vocab_size",
        lambda t: SyntheticTextDataset(
            text_config(vocab_size=301),
            10,
            tokenizer=Tokenizer.from_tokens(
                _lexicon(), TextParams(vocab_size=400), reserved_tokens=[f"<r{i}>" for i in range(10)]
            ),
        ),
        ConfigError,
        ["SyntheticTextDataset.tokenizer", "expected ids below the config's vocab_size=301"],
    ),
    (
        "a bad seed",
        lambda t: SyntheticTextDataset(CFG, 10, seed=-1),
        ConfigError,
        ["SyntheticTextDataset.seed: got -1", "[0, 2**64)"],
    ),
    (
        "a seed that is no int",
        lambda t: SimpleTextDataset(CFG, ["a"], seed="7"),
        ConfigError,
        ["SimpleTextDataset.seed: got '7'"],
    ),
    (
        "rngs that are no Rngs",
        lambda t: create_text_dataset(CFG, "synthetic", rngs=1.5),
        ConfigError,
        ["create_text_dataset.rngs: got 1.5", "expected nnx.Rngs, an integer seed or None"],
    ),
    (
        "unknown encoding",
        lambda t: TextFileDataset(CFG, _write(t, "a.txt", b"hi\n"), encoding="no-such-codec"),
        ConfigError,
        ["encoding: got 'no-such-codec'"],
    ),
    (
        "encoding that is not ASCII-compatible",
        lambda t: TextFileDataset(CFG, _write(t, "a.txt", "hi\n".encode("utf-16")), encoding="utf-16"),
        ConfigError,
        ["encoding: got 'utf-16'", "not ASCII-compatible"],
    ),
    (
        "bytes that are not the encoding",
        lambda t: TextFileDataset(CFG, _write(t, "bad.txt", b"ok\n\xff\xfe\n"), tokenizer=Tokenizer(P)).read_texts([1]),
        DataError,
        ["bad.txt", "line 2", "utf-8"],
    ),
    (
        "JSONL record without the field",
        lambda t: TextFileDataset(CFG, _write(t, "r.jsonl", b'{"text": "a"}\n{"other": "b"}\n')),
        MissingFieldError,
        ["r.jsonl", "line 2", "missing field 'text'", "'other'"],
    ),
    (
        "JSONL record without a nested field",
        lambda t: TextFileDataset(CFG, _write(t, "n.jsonl", b'{"meta": {"title": "a"}}\n'), field="meta.text"),
        MissingFieldError,
        ["n.jsonl", "line 1", "'meta.text'"],
    ),
    (
        "JSONL field that is not a string",
        lambda t: TextFileDataset(CFG, _write(t, "x.jsonl", b'{"text": 3}\n')),
        DataError,
        ["x.jsonl", "line 1", "field 'text' is int"],
    ),
    (
        "JSONL line that is not JSON",
        lambda t: TextFileDataset(CFG, _write(t, "j.jsonl", b'{"text": "a"}\n{oops\n')),
        DataError,
        ["j.jsonl", "line 2", "JSON"],
    ),
    (
        "min_length no text reaches",
        lambda t: SimpleTextDataset(CFG, ["a b", "c"], min_length=5, rngs=0),
        DataError,
        ["min_length: got 5", "longest has 2"],
    ),
    (
        "min_length no file record reaches",
        lambda t: TextFileDataset(CFG, _write(t, "s.txt", b"a b\nc\n"), min_length=3),
        DataError,
        ["min_length: got 3", "s.txt"],
    ),
    (
        "negative min_length",
        lambda t: SimpleTextDataset(CFG, ["a"], min_length=-1),
        ConfigError,
        ["min_length: got -1"],
    ),
    (
        "tokenizer without special tokens",
        lambda t: ExternalTokenizer(_NoSpecials(), P),
        ConfigError,
        ["_NoSpecials", "pad_token_id", "unk_token_id", "bos_token_id", "eos_token_id"],
    ),
    (
        "tokenizer whose ids exceed its size",
        lambda t: ExternalTokenizer(
            _Overflowing(), P, pad_token_id=0, unk_token_id=1, bos_token_id=2, eos_token_id=3
        ).tokenize("a"),
        DataError,
        ["_Overflowing.encode", "token id 77", "vocab_size=50"],
    ),
    (
        "something that is no tokenizer",
        lambda t: SimpleTextDataset(CFG, ["a"], tokenizer=42),
        ConfigError,
        ["SimpleTextDataset.tokenizer", "got int", "encode(text) and decode(ids)"],
    ),
    (
        "vocabulary level that does not exist",
        lambda t: TextModality(CFG).build_vocabulary(["a"], level="bpe"),
        ConfigError,
        ["level: got 'bpe'"],
    ),
    ("stats of negative ids", lambda t: get_vocab_stats(NEG, P), DataError, ["get_vocab_stats", "token id -4"]),
    ("BLEU of negative ids", lambda t: corpus_bleu(NEG, NEG), DataError, ["token id -4"]),
    (
        "numpy float as a string field",
        lambda t: Tokenizer(P).tokenize(["a", 3.0]),
        DataError,
        ["texts[1] is float"],
    ),
]


@pytest.mark.parametrize(("action", "error", "parts"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_error(tmp_path, action, error, parts):
    with pytest.raises(error) as info:
        action(tmp_path)
    message = str(info.value)
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


def test_inside_jit_out_of_range_ids_stay_visible():
    """In the loader's jitted step nothing can raise: a bad id is never masked, dropped or
    substituted (so it reaches the batch unchanged), and ``detokenize`` then refuses it."""
    tokens = jnp.asarray(np.array([[2, 5, 300, -7, 6, 3, 0, 0]] * 4, np.int32))
    keys = jax.random.split(jax.random.key(0), 4)
    masked, selected = modalax.get_kernel("text.mask_tokens")(
        tokens, keys, mask_prob=1.0, mask_token_id=4, vocab_size=300
    )
    assert (np.asarray(masked)[:, 2:4] == [300, -7]).all() and not np.asarray(selected)[:, 2:4].any()
    assert np.asarray(selected)[:, [1, 4]].all()  # the valid words were all selected
    dropped = modalax.get_kernel("text.token_dropout")(tokens, keys, rate=1.0, vocab_size=300)
    np.testing.assert_array_equal(np.asarray(dropped)[:, 1:5], [[1, 300, -7, 1]] * 4)
    swapped = modalax.get_kernel("text.random_substitution")(tokens, keys, rate=1.0, vocab_size=300)
    assert (np.asarray(swapped)[:, 2:4] == [300, -7]).all()
    with pytest.raises(DataError, match="token id 300"):
        Tokenizer(P).detokenize(masked)


def test_numpy_scalars_are_accepted_in_configs():
    p = TextParams(vocab_size=np.int64(300), max_length=np.int32(8), case_sensitive=np.bool_(True))
    assert p == TextParams(vocab_size=300, max_length=8, case_sensitive=True)
    assert type(p.vocab_size) is int and type(p.case_sensitive) is bool
    cfg = TokenMaskingConfig(text_params=p, mask_prob=np.float32(0.5), mask_token_id=np.int64(1))
    assert type(cfg.mask_token_id) is int and cfg.mask_prob == 0.5
    assert TokenDropoutConfig(text_params=p, rate=np.float32(0.25)).rate == 0.25
    tok = Tokenizer.from_corpus(["a b"], p, min_freq=np.int64(1))
    assert tok.tokenize("a", max_length=np.int64(4)).shape == (4,)


@pytest.mark.parametrize(
    ("name", "kwargs", "new_keys"),
    [
        ("TokenMasking", {"mask_token_id": 1}, {"mlm_mask": (0, 8)}),
        ("TokenDropout", {}, {}),
        ("TokenSubstitution", {}, {}),
        ("PaddingMask", {}, {"padding_mask": (0, 8)}),
        ("CausalMask", {}, {"causal_mask": (0, 8, 8)}),
        ("PositionEncoding", {"dim": 4}, {"position_encoding": (0, 8, 4)}),
    ],
)
def test_empty_batches_give_empty_results(name, kwargs, new_keys):
    from modalax_text import operators

    config = getattr(operators, name + "Config")(text_params=P, **kwargs)
    op = getattr(operators, name)(config, rngs=nnx.Rngs(0, augment=1))
    out = op({"text_tokens": np.zeros((0, 8), np.int32), "texts": []})
    assert {k: tuple(np.shape(v)) for k, v in out.items() if k != "texts"} == {"text_tokens": (0, 8), **new_keys}
    assert out["texts"] == []


def test_empty_batches_through_tokenizers_and_kernels():
    keys = jax.random.split(jax.random.key(0), 0)
    empty = jnp.zeros((0, 8), jnp.int32)
    assert modalax.get_kernel("text.mask_tokens")(empty, keys)[0].shape == (0, 8)
    assert modalax.get_kernel("text.token_dropout")(empty, keys).shape == (0, 8)
    assert modalax.get_kernel("text.position_encoding")(empty, dim=4).shape == (0, 8, 4)
    for tok in (Tokenizer(P), Tokenizer.from_corpus(["a b"], P), CharTokenizer.from_corpus(["ab"], P)):
        assert tok.tokenize([]).shape == (0, 8)
        assert tok.detokenize(np.zeros((0, 8), np.int32)) == []
