"""The lexicon and word classes of the synthetic text datasets (plain data, no jax).

Every lexicon entry is a single token under the tokenizer's normalisation (lower-case word
characters, or one punctuation mark), so ``tokenize(text) == text_tokens`` for synthetic text.

The full grammar has 297 words (301 ids with the four special tokens).  A smaller vocabulary
gets a smaller grammar of the same shape (``grammar_for``): every class keeps its first words,
at least ``MIN_WORDS`` of each, the rest of the room shared in proportion to the class sizes
(one word at a time by highest averages, so a larger vocabulary never loses a word), so
sentences still read determiner-adjective-noun-verb..., and
number sequences become progressions modulo the count of numbers kept.  The smallest
vocabulary is ``MIN_VOCAB_SIZE`` (32 ids).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

DETERMINERS = ("the", "a", "this", "that", "every", "one", "my", "your", "our", "their", "some", "no")
ADJECTIVES = (
    "red", "blue", "green", "small", "large", "quiet", "loud", "happy", "sad", "old", "young", "quick",
    "slow", "bright", "dark", "warm", "cold", "soft", "hard", "brave", "clever", "gentle", "proud", "shy",
    "tall", "short", "heavy", "light", "strange", "curious", "lazy", "busy", "silver", "golden", "wild",
    "calm", "noisy", "tiny", "huge", "friendly",
)  # fmt: skip
NOUNS = (
    "cat", "dog", "bird", "fox", "horse", "child", "teacher", "farmer", "robot", "river", "mountain",
    "city", "garden", "forest", "train", "ship", "window", "book", "song", "storm", "king", "queen",
    "student", "doctor", "painter", "engine", "market", "village", "ocean", "cloud", "tree", "flower",
    "rabbit", "wolf", "bear", "lion", "owl", "fish", "boat", "bridge", "castle", "lamp", "clock", "road",
    "house", "school", "letter", "piano", "camera", "island", "desert", "valley", "star", "moon", "sun",
    "wind", "friend", "stranger", "poet", "pilot",
)  # fmt: skip
VERBS = (
    "runs", "sleeps", "jumps", "sings", "waits", "walks", "swims", "flies", "laughs", "works", "reads",
    "writes", "dances", "listens", "talks", "grows", "shines", "falls", "rests", "travels", "plays",
    "thinks", "dreams", "cries", "smiles", "moves", "stops", "turns", "climbs", "hides", "returns",
    "wanders", "glows", "trembles", "whispers", "shouts", "sits", "stands", "learns", "waves",
)  # fmt: skip
ADVERBS = (
    "quickly", "slowly", "quietly", "loudly", "happily", "sadly", "often", "rarely", "always", "never",
    "gently", "boldly", "calmly", "eagerly", "softly", "suddenly", "carefully", "easily", "early",
    "late", "today", "again", "alone", "together", "outside", "inside", "nearby", "away", "everywhere",
    "here",
)  # fmt: skip
PREPOSITIONS = ("near", "under", "over", "behind", "beside", "with", "without", "around", "across", "into", "past",
                "toward")  # fmt: skip
ENDINGS = (".", "!", "?")
NUMBERS = tuple(str(i) for i in range(100))

#: Word classes in lexicon order; the lexicon is their concatenation.
CLASSES: dict[str, tuple[str, ...]] = {
    "determiner": DETERMINERS,
    "adjective": ADJECTIVES,
    "noun": NOUNS,
    "verb": VERBS,
    "adverb": ADVERBS,
    "preposition": PREPOSITIONS,
    "ending": ENDINGS,
    "number": NUMBERS,
}
#: Fewest words a scaled grammar keeps of each class.
MIN_WORDS = {
    "determiner": 2,
    "adjective": 3,
    "noun": 5,
    "verb": 3,
    "adverb": 2,
    "preposition": 2,
    "ending": 1,
    "number": 10,
}
#: Ids the special tokens take in every vocabulary.
SPECIAL_IDS = 4
#: The smallest ``vocab_size`` synthetic text works with: the smallest grammar and the special tokens.
MIN_VOCAB_SIZE = sum(MIN_WORDS.values()) + SPECIAL_IDS
_CONTENT = ("adjective", "noun", "verb", "adverb")


@dataclass(frozen=True)
class Grammar:
    """A grammar of the first ``sizes[k]`` words of each word class (``CLASSES`` order); hashable."""

    sizes: tuple[int, ...]

    @property
    def lexicon(self) -> tuple[str, ...]:
        """The words in class order; lexicon index ``i`` is a word slot's value."""
        return tuple(w for words, n in zip(CLASSES.values(), self.sizes, strict=True) for w in words[:n])

    def class_range(self, name: str) -> tuple[int, int]:
        """``(offset, size)`` of a word class in ``lexicon``."""
        offset = 0
        for cls, n in zip(CLASSES, self.sizes, strict=True):
            if cls == name:
                return offset, n
            offset += n
        raise KeyError(name)

    @property
    def content_range(self) -> tuple[int, int]:
        """``(offset, size)`` of the content words repeated phrases and palindromes draw from (contiguous)."""
        return self.class_range(_CONTENT[0])[0], sum(self.class_range(c)[1] for c in _CONTENT)

    @property
    def ending_weights(self) -> tuple[int, ...]:
        """Weights of the endings kept (``"."`` first)."""
        return ENDING_WEIGHTS[: self.class_range("ending")[1]]


def grammar_for(vocab_size: int) -> Grammar:
    """The largest grammar whose words and the special tokens fit ``vocab_size`` ids.

    ``ValueError`` below ``MIN_VOCAB_SIZE`` (callers turn it into a ``ConfigError``).
    """
    full = [len(words) for words in CLASSES.values()]
    budget = vocab_size - SPECIAL_IDS
    if budget >= sum(full):
        return Grammar(tuple(full))
    mins = [MIN_WORDS[c] for c in CLASSES]
    if budget < sum(mins):
        raise ValueError(f"vocab_size {vocab_size} is below {MIN_VOCAB_SIZE}")
    sizes = list(mins)
    for i in _growth_order()[: budget - sum(mins)]:
        sizes[i] += 1
    return Grammar(tuple(sizes))


@functools.cache
def _growth_order() -> tuple[int, ...]:
    """The class that gets each word past the minimums, in turn (highest averages, D'Hondt).

    Each word goes to the class with the largest ``full / (kept + 1)`` that still has words
    (ties: class order), so the classes grow in proportion to their full sizes; a grammar is
    a prefix of this sequence, so a larger vocabulary never loses a word.
    """
    full = [len(words) for words in CLASSES.values()]
    sizes = [MIN_WORDS[c] for c in CLASSES]
    order = []
    for _ in range(sum(full) - sum(sizes)):
        i = max((k for k in range(len(full)) if sizes[k] < full[k]), key=lambda k: (full[k] / (sizes[k] + 1), -k))
        sizes[i] += 1
        order.append(i)
    return tuple(order)


#: The full grammar (vocabularies of at least 301 ids).
FULL = Grammar(tuple(len(words) for words in CLASSES.values()))
LEXICON: tuple[str, ...] = FULL.lexicon


def class_range(name: str) -> tuple[int, int]:
    """``(offset, size)`` of a word class in ``LEXICON`` (the full grammar)."""
    return FULL.class_range(name)


#: Content words of the full grammar (a contiguous lexicon range).
CONTENT_RANGE = FULL.content_range

# random_sentences: (word class, groups) per slot.  A slot appears when every one of its groups
# is drawn present; group 0 always is.  Ending weights favour ".".
SENTENCE_SLOTS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("determiner", (0,)),
    ("adjective", (1,)),
    ("noun", (0,)),
    ("verb", (0,)),
    ("adverb", (2,)),
    ("preposition", (3,)),
    ("determiner", (3,)),
    ("adjective", (3, 4)),
    ("noun", (3,)),
    ("ending", (0,)),
)
SENTENCE_GROUP_PROBS = (1.0, 0.6, 0.7, 0.5, 0.3)
ENDING_WEIGHTS = (8, 1, 1)
