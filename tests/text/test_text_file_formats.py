"""Text files as they arrive: byte-order marks, every line ending, nested JSONL fields, min_length;
and the character-level tokenizer for text without spaces."""

from __future__ import annotations

import numpy as np
import pytest

from modalax_text import CharTokenizer, SimpleTextDataset, TextFileDataset, TextModality, Tokenizer, text_config
from modalax_text.datasets import files

CFG = text_config(vocab_size=500, max_length=16)
LINES = ["first line", "second, line", "third"]


@pytest.mark.parametrize(
    "raw",
    [
        "\ufefffirst line\nsecond, line\nthird\n".encode(),  # UTF-8 BOM
        b"first line\r\nsecond, line\r\nthird\r\n",  # Windows
        b"first line\rsecond, line\rthird\r",  # old Mac: CR only
        b"first line\r\n\rsecond, line\n\r\nthird",  # mixed, blank lines, no final newline
        "\ufefffirst line\r\r\nsecond, line\rthird".encode(),
    ],
    ids=["bom", "crlf", "cr", "mixed", "bom-cr"],
)
@pytest.mark.parametrize("chunk", [3, 1 << 24], ids=["tiny-chunks", "one-chunk"])
def test_line_endings_and_bom(tmp_path, monkeypatch, raw, chunk):
    monkeypatch.setattr(files, "_SCAN_CHUNK", chunk)  # a CR and its LF may fall in different chunks
    path = tmp_path / "corpus.txt"
    path.write_bytes(raw)
    ds = TextFileDataset(CFG, path, rngs=0)
    assert ds.read_texts(np.arange(len(ds))) == LINES
    assert ds.tokenizer.vocabulary is not None and "\ufefffirst" not in ds.tokenizer.vocabulary


def test_bom_in_jsonl_and_latin1_keeps_its_bytes(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes('\ufeff{"text": "a"}\r\n{"text": "b"}\r'.encode())
    assert TextFileDataset(CFG, path, rngs=0).read_texts([0, 1]) == ["a", "b"]
    latin = tmp_path / "l.txt"
    latin.write_bytes("caf\xe9\r".encode("latin-1"))
    assert TextFileDataset(CFG, latin, encoding="latin-1", rngs=0).read_texts([0]) == ["café"]


def test_nested_jsonl_fields(tmp_path):
    path = tmp_path / "nested.jsonl"
    path.write_text(
        '{"meta": {"text": "a red fox", "lang": "en"}}\n{"meta": {"text": "a blue bird"}, "meta.text": "flat wins"}\n',
        encoding="utf-8",
    )
    ds = TextFileDataset(CFG, path, field="meta.text", rngs=0)
    # a key spelled with the dot itself is read first; otherwise the path is followed
    assert ds.read_texts([0, 1]) == ["a red fox", "flat wins"]


def test_min_length_filters_files_into_an_index_list(tmp_path):
    path = tmp_path / "m.txt"
    path.write_text("one\ntwo words\n\nthree words here\nfour words are here\n", encoding="utf-8")
    ds = TextFileDataset(CFG, path, min_length=2, rngs=0)
    assert len(ds) == 3 and ds.kept_indices.tolist() == [1, 2, 3]
    assert ds.read_texts([0, 2]) == ["two words", "four words are here"]
    rows = np.asarray(ds.get_records(np.arange(3))["text_tokens"])
    assert ((rows != 0).sum(axis=1) - 2 >= 2).all()
    again = TextFileDataset(CFG, path, min_length=2, rngs=0)  # records are pure functions of the index
    np.testing.assert_array_equal(np.asarray(again.get_records([2, 0])["text_tokens"]), rows[[2, 0]])
    simple = SimpleTextDataset(CFG, ["one", "two words", "x y z"], min_length=2, rngs=0)
    assert simple.kept_indices.tolist() == [1, 2] and [s["text"] for s in simple] == ["two words", "x y z"]


def test_char_tokenizer_splits_text_without_spaces(tmp_path):
    corpus = ["吾輩は猫である。", "名前はまだ無い。", "Hello"]
    params = text_config(vocab_size=64, max_length=12)
    tok = CharTokenizer.from_corpus(corpus, params)
    ids = tok.tokenize(corpus[0])
    assert (ids[1:9] > 3).all() and ids[9] == 3  # eight characters, eight known ids, then EOS
    assert tok.detokenize(ids) == corpus[0]
    assert tok.detokenize(tok.tokenize("HELLO")) == "hello"  # lower-cased unless case_sensitive
    assert tok.detokenize(tok.tokenize("猫犬")) == "猫<unk>"
    np.testing.assert_array_equal(tok.tokenize(corpus), np.stack([tok.tokenize(t) for t in corpus]))
    # the word tokenizer sees one giant word per sentence; the character tokenizer does not
    assert len(Tokenizer.from_corpus(corpus, params).words(corpus[0])) == 2
    path = tok.save(tmp_path / "chars.json")
    loaded = Tokenizer.load(path)
    assert isinstance(loaded, CharTokenizer)
    np.testing.assert_array_equal(loaded.tokenize(corpus), tok.tokenize(corpus))
    modality = TextModality(params)
    modality.build_vocabulary(corpus, level="char")
    assert isinstance(modality.tokenizer, CharTokenizer) and modality.detokenize(modality.tokenize("名前")) == "名前"
