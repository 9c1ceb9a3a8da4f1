"""Unicode: words, characters, decoding and byte-level truncation on real text in many scripts.

The references are ``unicodedata.normalize`` (the normal forms) and the ``regex`` package's
``\\X`` (extended grapheme clusters, UAX #29): every token must be made of whole clusters of
the normalised text, in order, and decoding must never put a space inside a cluster.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from modalax import ConfigError
from modalax_text import CharTokenizer, TextParams, Tokenizer, text_config
from modalax_text.tokenizer import cluster_cut

# Real sentences: combining marks (Vietnamese stacks two on one letter), Devanagari and Thai
# vowel signs and viramas, Hangul, Arabic and Hebrew points, Greek final sigma, Turkish dotted I,
# CJK without spaces, emoji with skin tones, ZWJ families, flags, keycaps.
LINES = [
    "Schöne Grüße aus München, wir fahren über die Brücke.",
    "L'été dernier, nous sommes allés à la plage près de Nîmes.",
    "Tiếng Việt có nhiều dấu thanh: sắc, huyền, hỏi, ngã, nặng.",
    "नमस्ते दुनिया, हिन्दी में आपका स्वागत है।",
    "สวัสดีครับ ยินดีต้อนรับสู่ประเทศไทย",
    "吾輩は猫である。名前はまだ無い。",
    "如何在 Python 中处理中文文本？",  # noqa: RUF001
    "안녕하세요, 한국어 텍스트입니다.",
    "مرحبًا بالعالم، كيف حالك؟",
    "שָׁלוֹם עוֹלָם",
    "Ёлки-палки, съешь же ещё этих мягких булок.",
    "Καλημέρα κόσμε, ΟΔΟΣ ΣΟΦΟΣ",
    "İstanbul'da ılık bir gün",  # noqa: RUF001
    "Great job 👍🏽👏🏿! Family: 👨‍👩‍👧‍👦, flags 🇩🇪 🇯🇵 🏳️‍🌈, keycap 1️⃣",
    "👩🏾‍💻 codes, 🧑‍🤝‍🧑 meet; ❤️‍🔥 burns",
]
FORMS = ["NFC", "NFD", "NFKC", "NFKD", "none"]


def prepared(text: str, form: str = "NFC", lowercase: bool = True) -> str:
    text = text.lower() if lowercase else text
    return text if form == "none" else unicodedata.normalize(form, text)


def clusters(text: str) -> list[str]:
    return regex.findall(r"\X", text)


def solid(text: str) -> list[str]:
    """The clusters of ``text`` that are not white space."""
    return [c for c in clusters(text) if not c.isspace()]


def test_the_table_really_has_what_splits_naive_tokenizers():
    nfd = "".join(unicodedata.normalize("NFD", line) for line in LINES)
    assert sum(unicodedata.combining(c) > 0 for c in nfd) > 40  # combining marks
    joined = "".join(LINES)
    assert "\u200d" in joined and "\U0001f3fd" in joined and "\U0001f1e9" in joined and "\ufe0f" in joined
    # the old split (Python's \w+|[^\w\s] on code points) cuts a cluster in most NFD lines
    naive = [re.findall(r"\w+|[^\w\s]", unicodedata.normalize("NFD", line)) for line in LINES]
    cut = [
        line
        for line, words in zip(LINES, naive, strict=True)
        if [c for w in words for c in clusters(w)] != solid(unicodedata.normalize("NFD", line))
    ]
    assert len(cut) >= 12


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("line", LINES, ids=range(len(LINES)))
def test_words_are_whole_grapheme_clusters_of_the_normalised_text(line, form):
    for variant in (line, unicodedata.normalize("NFD", line), unicodedata.normalize("NFC", line)):
        tok = Tokenizer.from_corpus([variant], TextParams(vocab_size=200, max_length=64, normalization=form))
        words = tok.words(variant)
        expected_text = prepared(variant, form)
        # every token re-segments into whole clusters, and together they are the text's clusters
        assert [c for w in words for c in clusters(w)] == solid(expected_text)
        decoded = tok.detokenize(tok.tokenize(variant))
        assert decoded == " ".join(words) == tok.normalize(variant)
        assert solid(decoded) == solid(expected_text)  # no space was put inside a cluster
        assert "<unk>" not in decoded


def test_canonically_equivalent_inputs_get_the_same_ids():
    tok = Tokenizer.from_corpus(LINES, TextParams(vocab_size=400, max_length=48))
    nfc = tok.tokenize([unicodedata.normalize("NFC", line) for line in LINES])
    nfd = tok.tokenize([unicodedata.normalize("NFD", line) for line in LINES])
    np.testing.assert_array_equal(nfc, nfd)
    assert not np.any(nfc == 1)  # the corpus itself has no unknown word
    none = Tokenizer.from_corpus(LINES, TextParams(vocab_size=400, max_length=48, normalization="none"))
    nfd_none = none.tokenize([unicodedata.normalize("NFD", line) for line in LINES])
    assert np.any(nfd_none == 1)  # without normalisation, decomposed text is other words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (unicodedata.normalize("NFD", "für Straße"), ["für", "straße"]),
        ("Tiếng Việt", ["tiếng", "việt"]),
        ("नमस्ते दुनिया।", ["नमस्ते", "दुनिया", "।"]),
        ("สวัสดีครับ", ["สวัสดีครับ"]),
        ("吾輩は猫である。", ["吾輩は猫である", "。"]),
        ("👍🏽👏🏿!", ["👍🏽", "👏🏿", "!"]),
        ("a👨‍👩‍👧‍👦b", ["a", "👨‍👩‍👧‍👦", "b"]),
        ("🇩🇪🇯🇵", ["🇩🇪", "🇯🇵"]),
        ("1️⃣ ❤️‍🔥", ["1️⃣", "❤️‍🔥"]),
        ("می\u200cخواهم", ["می\u200cخواهم"]),  # noqa: RUF001 -- the zero width non-joiner stays inside the Persian word
        ("ΟΔΟΣ", ["οδος"]),  # final sigma when lower-cased
        ("x \u0301y", ["x", " \u0301", "y"]),  # a space carrying an accent is one cluster: kept whole
    ],
)
def test_known_splits(text, expected):
    assert Tokenizer.from_corpus(["x"], TextParams(vocab_size=20)).words(text) == expected


@pytest.mark.parametrize("form", FORMS)
def test_normal_forms_follow_unicodedata(form):
    tok = Tokenizer(TextParams(max_length=512, normalization=form, case_sensitive=True))
    for line in LINES:
        for variant in (line, unicodedata.normalize("NFD", line), "ﬁ ² Ⅻ ｶ"):
            want = variant if form == "none" else unicodedata.normalize(form, variant)
            assert tok.prepare(variant) == tok.detokenize(tok.tokenize(variant)) == want


@pytest.mark.parametrize(("value", "stored"), [("nfkc", "NFKC"), (None, "none"), ("None", "none"), ("NFD", "NFD")])
def test_normalization_values(value, stored):
    assert TextParams(normalization=value).normalization == stored
    assert text_config(normalization=value).metadata["text_params"]["normalization"] == value


@pytest.mark.parametrize("value", ["NFX", "", 3, True])
def test_bad_normalization_is_refused(value):
    with pytest.raises(
        ConfigError, match=r"TextParams\.normalization: got .*expected one of NFC, NFD, NFKC, NFKD, none"
    ):
        TextParams(normalization=value)


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_characters_are_grapheme_clusters(form):
    params = TextParams(vocab_size=400, max_length=96, normalization=form)
    chars = CharTokenizer.from_corpus(LINES, params)
    for line in LINES:
        assert chars.words(line) == clusters(prepared(line, form))
        for variant in (unicodedata.normalize("NFD", line), unicodedata.normalize("NFC", line)):
            ids = chars.tokenize(variant)
            assert not np.any(ids == 1)
            assert chars.detokenize(ids) == prepared(variant, form)
            np.testing.assert_array_equal(ids, chars.tokenize(line))
    np.testing.assert_array_equal(chars.tokenize(LINES), np.stack([chars.tokenize(t) for t in LINES]))
    assert "👨‍👩‍👧‍👦" in chars.vocabulary and "\u200d" not in chars.vocabulary
    crlf = CharTokenizer.from_corpus(["a\r\nb", "ab"], params)
    assert "\r\n" in crlf.vocabulary and crlf.words("a\r\nb") == ["a", "\r\n", "b"]
    with pytest.raises(Exception, match=r"one grapheme cluster per 'char' token"):
        from modalax_text import Vocabulary

        Vocabulary.from_tokens(["ab"], params, level="char")


def _byte_rows(text: str, form: str, lengths: range) -> list[tuple[int, np.ndarray, str]]:
    tok = Tokenizer(TextParams(max_length=8, case_sensitive=True, normalization=form))
    return [(n, tok.tokenize(text, max_length=n), tok.detokenize(tok.tokenize(text, max_length=n))) for n in lengths]


@pytest.mark.parametrize("form", ["NFC", "NFD"])
@pytest.mark.parametrize("line", LINES, ids=range(len(LINES)))
def test_byte_level_truncation_keeps_whole_clusters(line, form):
    text = prepared(line, form, lowercase=False)
    parts = clusters(text)
    sizes = np.cumsum([len(c.encode()) for c in parts])
    tok = Tokenizer(TextParams(max_length=8, case_sensitive=True, normalization=form))
    for n in range(2, int(sizes[-1]) + 4):
        row = tok.tokenize(line, max_length=n)
        decoded = tok.detokenize(row)
        k = int(np.searchsorted(sizes, n - 2, side="right"))  # whole clusters that fit n - 2 bytes
        assert decoded == "".join(parts[:k]), (n, decoded)
        used = len(decoded.encode())
        assert row[0] == 2 and row[used + 1] == 3 and np.all(row[used + 2 :] == 0), n
        assert "\ufffd" not in decoded


def test_the_reported_truncation():
    tok = Tokenizer(TextParams(max_length=10, case_sensitive=True))
    assert tok.detokenize(tok.tokenize("如何在 Python")) == "如何"  # 在 (3 bytes) does not fit 8
    rows = tok.tokenize(["如何在 Python", "👨‍👩‍👧‍👦 ok", "e\u0301e\u0301e\u0301e\u0301"])
    assert tok.detokenize(rows) == ["如何", "", "éééé"]  # NFC: é is 2 bytes
    nfd = Tokenizer(TextParams(max_length=10, case_sensitive=True, normalization="NFD"))
    assert nfd.detokenize(nfd.tokenize("éééé")) == "e\u0301e\u0301"  # 3 bytes a cluster: two fit 8


@pytest.mark.parametrize(
    ("text", "cap", "expected"),
    [("abc", 2, 2), ("如何在", 8, 6), ("👍🏽x", 7, 0), ("👍🏽x", 8, 8), ("🇩🇪🇯🇵", 12, 8), ("", 5, 0)],
)
def test_cluster_cut(text, cap, expected):
    assert cluster_cut(text, cap) == expected


SCRIPT = st.sampled_from(
    list("aé ,.!") + ["\u0301", "\u0308", "\U0001f3fd", "\u200d", "👩", "👍", "\U0001f1e9", "\U0001f1ea"]
    + ["न", "\u094d", "ि", "ส", "\u0e31", "日", "\u1100", "\u1161", "\u11a8", "\ufe0f", "\r", "\n", "\u0915"]
)  # fmt: skip


@settings(max_examples=120, deadline=None)
@given(st.lists(SCRIPT, max_size=30).map("".join), st.sampled_from(FORMS), st.integers(2, 40))
def test_no_cluster_is_ever_split_property(text, form, max_length):
    params = TextParams(vocab_size=300, max_length=max_length, normalization=form, case_sensitive=True)
    want = prepared(text, form, lowercase=False)
    words = Tokenizer.from_corpus(["x"], params).words(text)
    assert [c for w in words for c in clusters(w)] == solid(want)
    byte = Tokenizer(params)
    decoded = byte.detokenize(byte.tokenize(text))
    assert want.startswith(decoded) and clusters(decoded) == clusters(want)[: len(clusters(decoded))]
