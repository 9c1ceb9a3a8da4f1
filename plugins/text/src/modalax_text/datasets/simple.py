"""``SimpleTextDataset``: a dataset over a list of strings, tokenized once at construction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from flax import nnx

from modalax.config import ModalityConfiguration
from modalax.errors import DataError
from modalax.sources import ArraySource
from modalax_text.datasets.base import TextDataset, resolve_config
from modalax_text.tokenizer import Tokenizer

__all__ = ["SimpleTextDataset"]


class _Texts:
    """Holds the raw strings outside nnx state (they are host data, never traced)."""

    def __init__(self, texts: list[str]) -> None:
        self.array = np.array(texts, dtype=object)


class SimpleTextDataset(TextDataset):
    """Text dataset from a list of strings (seed 01).

    Without ``tokenizer``, a word vocabulary is built from ``texts`` (words seen at least
    ``min_freq`` times, up to ``vocab_size``).  Token ids live on the device, so the loader
    gathers batches inside its jitted step; ``texts`` come from ``host_records``.
    """

    traceable = True

    def __init__(
        self,
        config: ModalityConfiguration | None = None,
        texts: Sequence[str] = (),
        split: str = "train",
        *,
        rngs: nnx.Rngs | int | None = None,
        tokenizer: Tokenizer | None = None,
        min_freq: int = 1,
    ) -> None:
        config, params = resolve_config(config)
        super().__init__(config, split, rngs=rngs)
        if isinstance(texts, str) or not isinstance(texts, Sequence | np.ndarray):
            raise DataError(f"SimpleTextDataset.texts: got {type(texts).__name__}, expected a list of strings")
        texts = list(texts)
        if not texts:
            raise DataError("SimpleTextDataset.texts: got an empty list, expected at least one string")
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise DataError(f"SimpleTextDataset.texts[{i}]: got {type(t).__name__}, expected str")
        if tokenizer is None:
            tokenizer = Tokenizer.from_corpus(texts, params, min_freq=min_freq)
        self._set_text(params, tokenizer)
        self._texts = _Texts(texts)
        self._source = ArraySource({"text_tokens": tokenizer.tokenize(texts)})

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
