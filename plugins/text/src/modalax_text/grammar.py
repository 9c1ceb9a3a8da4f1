"""The lexicon and word classes of the synthetic text datasets (plain data, no jax).

Every lexicon entry is a single token under the tokenizer's normalisation (lower-case word
characters, or one punctuation mark), so ``tokenize(text) == text_tokens`` for synthetic text.
"""

from __future__ import annotations

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
LEXICON: tuple[str, ...] = tuple(w for words in CLASSES.values() for w in words)


def class_range(name: str) -> tuple[int, int]:
    """``(offset, size)`` of a word class in ``LEXICON``."""
    offset = 0
    for cls, words in CLASSES.items():
        if cls == name:
            return offset, len(words)
        offset += len(words)
    raise KeyError(name)


#: Content words repeated phrases and palindromes draw from (a contiguous lexicon range).
CONTENT_RANGE = (class_range("adjective")[0], sum(class_range(c)[1] for c in ("adjective", "noun", "verb", "adverb")))

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
