"""Batch tokenization: modalax's ``Tokenizer`` against a Python dict loop and HuggingFace ``tokenizers``.

100,000 generated English-like sentences (Zipf-distributed words, mean ~45 words, some capitals
and commas, a final period) become int32 ids padded to 64: BOS, ids, EOS, padding; longer
sentences are truncated and keep EOS.  Every implementation uses the same 10,000-id vocabulary
(built from the corpus by modalax) and must produce the same array, which is checked. Every
contender is built once (first call timed apart) and timed round-robin.

Rerun: ``python benchmarks/bench_text.py [--runs N] [--quick]``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchResult, Contender, main, race

SENTENCES, MEAN_WORDS, LENGTH, VOCAB = 100_000, 45, 64, 10_000
FUNCTION_WORDS = (
    "the of and to a in is that it was for on are as with his they at be this from have or by one "
    "had not but what all were when we there can an your which their said if do will each about how "
    "up out them then she many some so these would other into has more her two like him see time"
)


def make_corpus(n: int, seed: int = 0) -> list[str]:
    """English-like sentences: common function words plus syllable words with a Zipf law of ranks."""
    rng = np.random.default_rng(seed)
    onsets = ["b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "v", "w", "st", "tr", "ch", "sh", "pl"]
    vowels = ["a", "e", "i", "o", "u", "ea", "ou", "ai"]
    codas = ["", "n", "r", "s", "t", "l", "nd", "st", "ng", "ck"]
    syllables = np.array([o + v + c for o in onsets for v in vowels for c in codas], dtype=object)
    counts = rng.integers(1, 4, 30_000)
    parts = rng.choice(syllables, counts.sum())
    words = np.array(
        ["".join(parts[s : s + k]) for s, k in zip(np.cumsum(counts) - counts, counts, strict=True)], dtype=object
    )
    lexicon = np.array(list(dict.fromkeys([*FUNCTION_WORDS.split(), *words])), dtype=object)
    p = 1.0 / np.arange(1, len(lexicon) + 1) ** 1.05
    lengths = np.clip(np.round(rng.normal(MEAN_WORDS, 12, n)).astype(int), 5, 120)
    total = int(lengths.sum())
    drawn = lexicon[rng.choice(len(lexicon), total, p=p / p.sum())]
    ends = np.cumsum(lengths) - 1
    capital = rng.random(total) < 0.04
    drawn[capital] = [w.capitalize() for w in drawn[capital]]
    comma = (rng.random(total) < 0.07) & ~np.isin(np.arange(total), ends)
    drawn[comma] = drawn[comma] + ","
    starts = ends + 1 - lengths
    return [" ".join(drawn[s : e + 1]).capitalize() + "." for s, e in zip(starts, ends, strict=True)]


_WORD = re.compile(r"\w+|[^\w\s]")


def dict_loop(corpus: list[str], vocab: dict[str, int]) -> np.ndarray:
    """The plain Python loop: regex split, dict lookups, one row at a time."""
    out = np.zeros((len(corpus), LENGTH), np.int32)
    get = vocab.get
    for i, text in enumerate(corpus):
        ids = [get(w, 1) for w in _WORD.findall(text.lower())[: LENGTH - 2]]
        ids.append(3)
        out[i, 0] = 2
        out[i, 1 : len(ids) + 1] = ids
    return out


def _hf_tokenizer(vocab: dict[str, int]) -> Any:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A <eos>", special_tokens=[("<bos>", 2), ("<eos>", 3)]
    )
    tok.enable_truncation(LENGTH)
    tok.enable_padding(length=LENGTH, pad_id=0, pad_token="<pad>")
    return tok


def run(quick: bool = False, runs: int | None = None) -> list[BenchResult]:
    """Tokenization throughput in sentences/s; peers that are not installed give a note instead of a row."""
    from modalax_text import TextParams, Tokenizer

    n = 10_000 if quick else SENTENCES
    runs = runs or (3 if quick else 7)
    corpus = make_corpus(n)
    mean_words = float(np.mean([len(s.split()) for s in corpus[:5000]]))
    tokenizer = Tokenizer.from_corpus(corpus, TextParams(vocab_size=VOCAB, max_length=LENGTH))
    assert tokenizer.vocabulary is not None
    vocab = dict(tokenizer.vocabulary.token_to_id)
    ours = tokenizer.tokenize(corpus)
    contenders = {
        "modalax (Tokenizer.tokenize)": Contender(lambda: tokenizer.tokenize(corpus)),
        "python dict loop (re.findall + dict.get)": Contender(lambda: dict_loop(corpus, vocab)),
    }
    notes = [
        f"{n:,} sentences, mean {mean_words:.1f} words, {len(vocab):,} ids, {np.mean(ours == 1):.1%} of positions UNK"
    ]
    assert np.array_equal(dict_loop(corpus, vocab), ours), "the dict loop disagrees with modalax"
    try:
        import tokenizers
    except ImportError:
        notes.append("tokenizers not installed: no HuggingFace row")
    else:
        hf = _hf_tokenizer(vocab)

        def hf_run() -> np.ndarray:
            return np.array([e.ids for e in hf.encode_batch(corpus)], dtype=np.int32)

        same = np.array_equal(hf_run(), ours)
        notes.append(f"HF output {'identical' if same else 'DIFFERENT'}; encode_batch uses its own thread pool")
        contenders[f"HF tokenizers {tokenizers.__version__} WordLevel encode_batch"] = Contender(hf_run)
    res = BenchResult(
        title=f"tokenize {n:,} English-like sentences to ids padded to {LENGTH}",
        unit="sentences/s",
        subject="modalax (Tokenizer.tokenize)",
        target=">= 1.0x python dict loop, >= 2.5x HF tokenizers",
        notes="; ".join(notes),
        case="python benchmarks/bench_text.py",
    )
    res.add(race(contenders, n, runs))
    return [res]


if __name__ == "__main__":
    main(run)
