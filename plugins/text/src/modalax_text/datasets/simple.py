"""``SimpleTextDataset``: a dataset over a list of strings, tokenized once at construction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from flax import nnx

from modalax.plugin import ArraySource, DataError, ModalityConfiguration
from modalax_text.datasets.base import TextDataset, check_min_length, resolve_config, token_lengths
from modalax_text.tokenizer import Tokenizer

__all__ = ["SimpleTextDataset"]


class _Texts:
    """Holds the raw strings outside nnx state (they are host data, never traced)."""

    def __init__(self, texts: list[str], kept: np.ndarray) -> None:
        self.array = np.array(texts, dtype=object)
        self.kept = kept


class SimpleTextDataset(TextDataset):
    """Text dataset from a list of strings.

    Without ``tokenizer``, a word vocabulary is built from ``texts`` (words seen at least
    ``min_freq`` times, up to ``vocab_size``); ``tokenizer`` may also be a ``CharTokenizer`` or
    any encode/decode tokenizer (HF ``tokenizers``, ``transformers``, SentencePiece).  With
    ``min_length``, texts of fewer tokens (BOS and EOS not counted) are left out at
    construction: ``kept_indices`` maps each record to its position in ``texts``.  Token ids
    live on the device, so the loader gathers batches inside its jitted step; ``texts`` come
    from ``host_records``.  ``seed`` or ``rngs`` seed ``get_batch`` (the records are the texts).
    """

    traceable = True

    def __init__(
        self,
        config: ModalityConfiguration | None = None,
        texts: Sequence[str] = (),
        split: str = "train",
        *,
        seed: int | None = None,
        rngs: nnx.Rngs | int | None = None,
        tokenizer: Any = None,
        min_freq: int = 1,
        min_length: int = 0,
    ) -> None:
        config, params = resolve_config(config)
        super().__init__(config, split, seed=seed, rngs=rngs)
        if isinstance(texts, str) or not isinstance(texts, Sequence | np.ndarray):
            raise DataError(f"SimpleTextDataset.texts: got {type(texts).__name__}, expected a list of strings")
        texts = list(texts)
        if not texts:
            raise DataError("SimpleTextDataset.texts: got an empty list, expected at least one string")
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise DataError(f"SimpleTextDataset.texts[{i}]: got {type(t).__name__}, expected str")
        min_length = check_min_length("SimpleTextDataset", min_length)
        if tokenizer is None:
            tokenizer = Tokenizer.from_corpus(texts, params, min_freq=min_freq)
        self._set_text(params, tokenizer)
        tokens = self.tokenizer.tokenize(texts)
        kept = np.flatnonzero(token_lengths(tokens, self.params) >= min_length)
        if len(kept) == 0:
            raise DataError(
                f"SimpleTextDataset.min_length: got {min_length}, but no text has that many tokens "
                f"(the longest has {int(token_lengths(tokens, self.params).max())}); expected a smaller min_length"
            )
        self._texts = _Texts([texts[i] for i in kept.tolist()], kept)
        self._source = ArraySource({"text_tokens": tokens[kept]})

    @property
    def kept_indices(self) -> np.ndarray:
        """Each record's position in the ``texts`` given (all of them without ``min_length``)."""
        return self._texts.kept

    def __len__(self) -> int:
        return len(self._source)

    def get_records(self, indices: Any) -> dict[str, jax.Array]:
        return self._source.get_records(indices)

    def pure_gather(self) -> tuple[Any, Any]:
        return self._source.pure_gather()

    def element_spec(self) -> dict[str, jax.ShapeDtypeStruct]:
        return self._source.element_spec()

    def host_records(self, indices: Any) -> dict[str, Any]:
        """``texts``: the strings at ``indices``."""
        return {"texts": self._texts.array[np.asarray(indices)].tolist()}
