"""Bring your own tokenizer: a HF ``tokenizers`` tokenizer trained in the test drives the text
modality end to end; ``transformers`` and SentencePiece are reached through duck typing.

``transformers`` and ``sentencepiece`` are not installed here, so their paths are tested with
tiny in-test classes that mimic exactly their documented method names (``encode(text,
add_special_tokens=...)``, ``decode``, ``convert_tokens_to_ids``, ``pad_token_id``, ...;
``encode_as_ids``, ``decode_ids``, ``pad_id()``, ``unk_id()``, ``bos_id()``, ``eos_id()``,
``get_piece_size()``).  The HF ``tokenizers`` path uses the real package.
"""

from __future__ import annotations

import numpy as np
import pytest
from flax import nnx
from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, pre_tokenizers, trainers

import modalax
from modalax import ConfigError
from modalax_text import (
    EncodeDecode,
    ExternalTokenizer,
    SimpleTextDataset,
    TextFileDataset,
    TextModality,
    TextTokenizer,
    TokenMasking,
    TokenMaskingConfig,
    text_config,
)

CORPUS = [
    "The quick brown fox jumps over the lazy dog",
    "A lazy dog sleeps in the sun",
    "The fox runs and the dog barks",
    "Quick thinking saves the day",
]


def _hf_word_level() -> HFTokenizer:
    # special tokens in an order unlike modalax's defaults, so the ids really come from the tokenizer
    tok = HFTokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(special_tokens=["[UNK]", "[PAD]", "[CLS]", "[SEP]", "[MASK]"])
    tok.train_from_iterator(CORPUS, trainer)
    return tok


def _expected(hf: HFTokenizer, texts: list[str], max_length: int) -> np.ndarray:
    pad, bos, eos = hf.token_to_id("[PAD]"), hf.token_to_id("[CLS]"), hf.token_to_id("[SEP]")
    out = np.full((len(texts), max_length), pad, np.int32)
    for i, text in enumerate(texts):
        ids = [bos, *hf.encode(text, add_special_tokens=False).ids[: max_length - 2], eos]
        out[i, : len(ids)] = ids
    return out


def test_hf_tokenizer_drives_text_modality_end_to_end(tmp_path):
    hf = _hf_word_level()
    assert isinstance(hf, EncodeDecode)
    config = text_config(max_length=8, case_sensitive=True)
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    ds = TextFileDataset(config, path, tokenizer=hf, rngs=0)
    assert isinstance(ds.tokenizer, TextTokenizer)
    # the special ids and the size come from the tokenizer
    p = ds.params
    assert (p.unk_token_id, p.pad_token_id, p.bos_token_id, p.eos_token_id) == (0, 1, 2, 3)
    assert p.vocab_size == hf.get_vocab_size() and ds.tokenizer.mask_token_id == 4
    batches = list(modalax.DataLoader(ds, batch_size=2, shuffle=False))
    tokens = np.concatenate([np.asarray(b["text_tokens"]) for b in batches])
    np.testing.assert_array_equal(tokens, _expected(hf, CORPUS, 8))  # the first text is truncated to 6 ids
    assert [t for b in batches for t in b["texts"]] == CORPUS
    # the modality tokenizes and decodes through the same tokenizer
    modality = TextModality(config, tokenizer=hf)
    np.testing.assert_array_equal(np.asarray(modality.tokenize(CORPUS[1])), _expected(hf, CORPUS[1:2], 8)[0])
    assert modality.detokenize(modality.tokenize(CORPUS[2])) == hf.decode(hf.encode(CORPUS[2]).ids[:6])
    assert modality.params == p
    # operators built from the dataset's params mask with the tokenizer's own mask id
    masking = TokenMasking(
        TokenMaskingConfig(
            text_params=p, mask_token_id=ds.tokenizer.mask_token_id, mask_prob=1.0, keep_prob=0.0, random_prob=0.0
        ),
        rngs=nnx.Rngs(0, augment=1),
    )
    masked = np.asarray(masking({"text_tokens": tokens})["text_tokens"])
    words = ~np.isin(tokens, [1, 2, 3])
    assert (masked[words] == 4).all() and (masked[~words] == tokens[~words]).all()


def test_hf_tokenizer_lower_cases_unless_case_sensitive():
    hf = _hf_word_level()
    ds = SimpleTextDataset(text_config(max_length=12), ["THE FOX runs"], tokenizer=hf, rngs=0)
    np.testing.assert_array_equal(np.asarray(ds[0]["text_tokens"]), _expected(hf, ["the fox runs"], 12)[0])
    kept = SimpleTextDataset(text_config(max_length=12, case_sensitive=True), ["THE FOX runs"], tokenizer=hf, rngs=0)
    np.testing.assert_array_equal(np.asarray(kept[0]["text_tokens"]), _expected(hf, ["THE FOX runs"], 12)[0])
    assert (np.asarray(kept[0]["text_tokens"])[1:3] == 0).all()  # unknown upper-case words are [UNK]


def test_hf_bpe_tokenizer_with_min_length():
    tok = HFTokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(
        CORPUS, trainers.BpeTrainer(special_tokens=["<pad>", "<unk>", "<s>", "</s>"], vocab_size=80)
    )
    ds = SimpleTextDataset(text_config(max_length=32), ["a dog", *CORPUS], tokenizer=tok, min_length=5, rngs=0)
    lengths = [len(tok.encode(t.lower(), add_special_tokens=False).ids) for t in ["a dog", *CORPUS]]
    assert ds.kept_indices.tolist() == [i for i, n in enumerate(lengths) if n >= 5]
    assert ds.params.bos_token_id == tok.token_to_id("<s>") and ds.params.eos_token_id == tok.token_to_id("</s>")


class TransformersLike:
    """Mimics a ``transformers`` tokenizer: ``encode(text, add_special_tokens=True)`` adds CLS/SEP,
    ``decode(token_ids, skip_special_tokens=False)``, ``convert_tokens_to_ids``, the ``*_token_id``
    attributes (``bos_token_id``/``eos_token_id`` None, as BERT's) and ``len``."""

    pad_token_id, unk_token_id, cls_token_id, sep_token_id, mask_token_id = 0, 100, 101, 102, 103
    bos_token_id = eos_token_id = None

    def __init__(self) -> None:
        self.vocab = {"hello": 7592, "world": 2088}

    def __len__(self) -> int:
        return 30522

    def convert_tokens_to_ids(self, tokens: list[str]) -> list[int]:
        return [self.vocab.get(t, self.unk_token_id) for t in tokens]

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        ids = self.convert_tokens_to_ids(text.split())
        return [self.cls_token_id, *ids, self.sep_token_id] if add_special_tokens else ids

    def decode(self, token_ids: list[int], skip_special_tokens: bool = False) -> str:
        names = {v: k for k, v in self.vocab.items()}
        return " ".join(names.get(i, "[UNK]") for i in token_ids)


class SentencePieceLike:
    """Mimics ``sentencepiece.SentencePieceProcessor``: ``encode_as_ids``, ``decode_ids``, ``pad_id()``
    (-1: no padding piece, SentencePiece's default), ``unk_id()``, ``bos_id()``, ``eos_id()``,
    ``get_piece_size()``."""

    pieces = ("<unk>", "<s>", "</s>", "▁hello", "▁world")

    def encode(self, text: str) -> list[int]:
        return self.encode_as_ids(text)

    def encode_as_ids(self, text: str) -> list[int]:
        return [self.pieces.index("▁" + w) if "▁" + w in self.pieces else 0 for w in text.split()]

    def decode(self, ids: list[int]) -> str:
        return self.decode_ids(ids)

    def decode_ids(self, ids: list[int]) -> str:
        return "".join(self.pieces[i] for i in ids).replace("▁", " ").strip()

    def pad_id(self) -> int:
        return -1

    def unk_id(self) -> int:
        return 0

    def bos_id(self) -> int:
        return 1

    def eos_id(self) -> int:
        return 2

    def get_piece_size(self) -> int:
        return len(self.pieces) + 1  # one id past the pieces for the padding given below


def test_transformers_style_tokenizer_through_duck_typing():
    tok = ExternalTokenizer(TransformersLike(), text_config(max_length=6))
    p = tok.params
    assert (p.pad_token_id, p.unk_token_id, p.bos_token_id, p.eos_token_id) == (0, 100, 101, 102)
    assert p.vocab_size == 30522 and tok.mask_token_id == 103
    ids = tok.tokenize(["Hello world", "hello there friend again"])
    np.testing.assert_array_equal(ids, [[101, 7592, 2088, 102, 0, 0], [101, 7592, 100, 100, 100, 102]])
    assert tok.detokenize(ids[0]) == "hello world"


def test_sentencepiece_style_tokenizer_needs_a_pad_id():
    with pytest.raises(ConfigError, match=r"SentencePieceLike: defines no pad_token_id"):
        ExternalTokenizer(SentencePieceLike(), text_config(max_length=6))
    tok = ExternalTokenizer(SentencePieceLike(), text_config(max_length=6), pad_token_id=5)
    ids = tok.tokenize("hello world")
    np.testing.assert_array_equal(ids, [1, 3, 4, 2, 5, 5])
    assert tok.detokenize(ids) == "hello world" and tok.mask_token_id is None
    ds = SimpleTextDataset(text_config(max_length=6), ["hello", "world hello"], tokenizer=tok, rngs=0)
    assert ds.params.pad_token_id == 5 and np.asarray(ds[1]["text_tokens"]).tolist() == [1, 4, 3, 2, 5, 5]


# ---------------------------------------------------------------- special-token text in the input
SPECIAL_TEXTS = ["a </s> b c", "the <s> fox </s> runs </s>", "<pad> <unk> dog", "</s>", "a b c"]


def _hf_with_specials(kind: str) -> HFTokenizer:
    """A real HF tokenizer whose special tokens are <pad> <unk> <s> </s>, trained on the corpus."""
    specials = ["<pad>", "<unk>", "<s>", "</s>"]
    corpus = [*CORPUS, "a b c", "the fox runs"]
    if kind == "bpe-bytelevel":
        tok = HFTokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        )
    else:
        tok = HFTokenizer(models.WordLevel(unk_token="<unk>"))
        split = pre_tokenizers.Whitespace() if kind == "wordlevel" else pre_tokenizers.WhitespaceSplit()
        tok.pre_tokenizer = split
        trainer = trainers.WordLevelTrainer(special_tokens=specials)
    tok.train_from_iterator(corpus, trainer)
    return tok


@pytest.mark.parametrize("kind", ["wordlevel", "wordlevel-whitespacesplit", "bpe-bytelevel"])
def test_special_token_text_in_the_input_is_text(kind):
    hf = _hf_with_specials(kind)
    pad, unk, bos, eos = (hf.token_to_id(t) for t in ("<pad>", "<unk>", "<s>", "</s>"))
    tok = ExternalTokenizer(hf, text_config(max_length=24, case_sensitive=True))
    assert (tok.params.bos_token_id, tok.params.eos_token_id) == (bos, eos)
    # the reference: HF's own switch that reads special-token text as text
    as_text = HFTokenizer.from_str(hf.to_str())
    as_text.encode_special_tokens = True
    rows = tok.tokenize(SPECIAL_TEXTS)
    for text, row in zip(SPECIAL_TEXTS, rows, strict=True):
        ids = as_text.encode(text, add_special_tokens=False).ids
        framed = [unk if i in (pad, bos, eos) else i for i in ids]  # the row layout owns these ids
        np.testing.assert_array_equal(row, [bos, *framed, eos] + [pad] * (24 - len(framed) - 2))
        assert np.count_nonzero(row == eos) == 1 and np.count_nonzero(row == bos) == 1
        assert tok.detokenize(row) == as_text.decode(ids)
    np.testing.assert_array_equal(tok.encode("a </s> b c"), rows[0][1 : int(np.argmax(rows[0] == eos))])
    assert hf.encode_special_tokens is False  # the user's tokenizer is not touched
    # the report: a literal </s> ended the row ('a'); HF keeps the words after it
    assert tok.detokenize(rows[0]).split()[-2:] == ["b", "c"]
    assert hf.decode(hf.encode("a </s> b c", add_special_tokens=False).ids).split()[-2:] == ["b", "c"]


def test_special_token_text_survives_pickling_the_tokenizer():
    import pickle

    hf = _hf_with_specials("wordlevel")
    tok = ExternalTokenizer(hf, text_config(max_length=12, case_sensitive=True))
    again = pickle.loads(pickle.dumps(tok))  # HF's encode_special_tokens flag itself is not pickled
    np.testing.assert_array_equal(again.tokenize(SPECIAL_TEXTS), tok.tokenize(SPECIAL_TEXTS))
    as_text = HFTokenizer.from_str(hf.to_str())
    as_text.encode_special_tokens = True
    ids = as_text.encode("a </s> b c", add_special_tokens=False).ids
    assert ids != hf.encode("a </s> b c", add_special_tokens=False).ids  # "</", "s", ">" against one </s>
    assert again.encode("a </s> b c").tolist() == ids


class SplittingTransformersLike(TransformersLike):
    """A ``transformers`` tokenizer with its ``split_special_tokens`` option: off, "[SEP]" in the text
    is the SEP id; on, it is text (here: unknown)."""

    split_special_tokens = False

    def encode(self, text: str, add_special_tokens: bool = True, **kwargs: object) -> list[int]:
        split = kwargs.get("split_special_tokens", self.split_special_tokens)
        ids = [self.sep_token_id if w == "[SEP]" and not split else self.vocab.get(w, 100) for w in text.split()]
        return [self.cls_token_id, *ids, self.sep_token_id] if add_special_tokens else ids


def test_transformers_tokenizers_are_asked_to_split_special_tokens():
    tok = ExternalTokenizer(SplittingTransformersLike(), text_config(max_length=6, case_sensitive=True))
    np.testing.assert_array_equal(tok.tokenize("hello [SEP] world"), [101, 7592, 100, 2088, 102, 0])
    # without the option, a special id from the tokenizer's model still reads as UNK, never as EOS
    plain = ExternalTokenizer(TransformersLike(), text_config(max_length=6, case_sensitive=True))
    assert plain.tokenize("hello world").tolist() == [101, 7592, 2088, 102, 0, 0]
