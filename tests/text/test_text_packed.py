"""text/packed: packed text records equal the file dataset's, with its vocabulary."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("array_record")

import modalax
from modalax import DataError, pack
from modalax_text.packed import TOKENIZER_FILE, PackedTextDataset
from modalax_text.tokenizer import Tokenizer

LINES = ["the cat sat on the mat", "a dog ran", "", "naïve café ☃ words", "the end\r"]


def test_packed_text_file_equals_the_file_dataset(tmp_path: Path) -> None:
    (tmp_path / "corpus.txt").write_text("\n".join(LINES), encoding="utf-8")
    source = modalax.create_dataset("text", "file", path=tmp_path / "corpus.txt")
    index = pack(source, tmp_path / "packed", shards=2, progress=False)
    assert index.modality == "text" and (tmp_path / "packed" / TOKENIZER_FILE).is_file()
    packed = modalax.create_dataset("text", "packed", root=tmp_path / "packed")
    assert isinstance(packed, PackedTextDataset) and len(packed) == len(source) == 4
    idx = np.array([3, 0, 2, 1])
    want, got = source.get_records(idx), packed.get_records(idx)
    assert got["texts"] == want["texts"] and got["texts"][0] == "the end"
    np.testing.assert_array_equal(got["text_tokens"], want["text_tokens"])
    assert packed.tokenizer.detokenize(got["text_tokens"][1]) == source.tokenizer.detokenize(want["text_tokens"][1])
    assert packed[0]["text"] == LINES[0]


def test_another_tokenizer_tokenizes_the_packed_texts(tmp_path: Path) -> None:
    source = modalax.create_dataset("text", "simple", texts=["one two", "two three three"])
    pack(source, tmp_path / "packed", progress=False)
    other = Tokenizer.from_corpus(["three two one"], source.params)
    packed = modalax.create_dataset("text", "packed", root=tmp_path / "packed", tokenizer=other)
    np.testing.assert_array_equal(packed.get_records(np.array([1]))["text_tokens"], other.tokenize(["two three three"]))


def test_tokens_of_another_length_are_refused(tmp_path: Path) -> None:
    from modalax_text.params import text_config

    source = modalax.create_dataset("text", "simple", texts=["one two", "three"])
    pack(source, tmp_path / "packed", progress=False)
    config = text_config(**{**source.params.to_dict(), "max_length": source.params.max_length + 3})
    with pytest.raises(DataError, match=r"field 'text_tokens'.*max_length"):
        modalax.create_dataset("text", "packed", root=tmp_path / "packed", config=config)
