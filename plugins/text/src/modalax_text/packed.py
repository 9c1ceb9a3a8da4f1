"""``PackedTextDataset``: text records packed by ``modalax.pack``.

Text has no file to decode: ``pack`` stores each record's ``texts`` (the raw string) and
``text_tokens``, and the tokenizer's vocabulary beside the shards (``tokenizer.json``), so the
packed dataset yields what the source yielded and decodes tokens with the same vocabulary.
With ``tokenizer=`` the texts are tokenized again with it instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from flax import nnx

from modalax.plugin import ConfigError, DataError, ModalityConfiguration, PackedDataset, PackedIndex
from modalax_text.datasets.base import TextDataset, resolve_config
from modalax_text.params import text_config
from modalax_text.tokenizer import Tokenizer

__all__ = ["TOKENIZER_FILE", "PackedTextDataset"]

#: The vocabulary written beside the shards when the source's tokenizer has one.
TOKENIZER_FILE = "tokenizer.json"


class PackedTextDataset(PackedDataset, TextDataset):
    """Text records of a packed folder (``create_dataset("text", "packed", root=DIR)``).

    Records are ``text_tokens`` (int32, ``max_length``) and ``texts``. The tokenizer is the
    packed one (``tokenizer.json``; the byte-level one when the source had no vocabulary),
    unless ``tokenizer`` is given: then ``text_tokens`` are re-made from ``texts`` with it.
    Arguments follow every text dataset: ``(config=None, root, split="train", *, seed, rngs)``
    (None config: the packed one); the 0.1 order ``(root, config)`` still works, with a
    ``DeprecationWarning``.
    """

    modality = "text"

    def __init__(
        self,
        config: ModalityConfiguration | None = None,
        root: str | os.PathLike[str] | None = None,
        split: str = "train",
        *,
        seed: int | None = None,
        rngs: nnx.Rngs | int | None = None,
        num_threads: int | None = None,
        on_error: Literal["raise", "skip"] | None = None,
        checks: str = "records",
        tokenizer: Any = None,
    ) -> None:
        self._retokenize = tokenizer is not None
        # PackedDataset by name: mypy cannot see through the surface's lazy export and would check
        # super() against TextDataset (the call is the same: PackedDataset is next in the MRO)
        PackedDataset.__init__(
            self,
            config,
            root,
            split,
            seed=seed,
            rngs=rngs,
            num_threads=num_threads,
            on_error=on_error,
            checks=checks,
        )
        saved = self.root / TOKENIZER_FILE
        if tokenizer is None and saved.is_file():
            tokenizer = Tokenizer.load(saved, self.params)
        if tokenizer is not None:
            self._set_text(self.params, tokenizer)

    @classmethod
    def resolve_config(cls, config: Any) -> ModalityConfiguration:
        """The text config (a ``TextParams`` or a ``ModalityConfiguration``); ``ConfigError`` otherwise."""
        try:
            return resolve_config(config)[0]
        except ConfigError as exc:
            raise ConfigError(f"{cls.__name__}.{exc}") from exc

    @classmethod
    def config_from_index(cls, index: PackedIndex) -> ModalityConfiguration | None:
        return None if index.config is None else text_config(**index.config)

    def check_fields(self, index: PackedIndex) -> None:
        if "texts" not in index.fields and self._retokenize:
            raise DataError(f"{str(self.root / 'index.json')!r}: no 'texts' field to tokenize with the tokenizer given")
        if not self._retokenize:
            hint = "max_length; pass tokenizer= to tokenize the texts again"
            self.expect_array(index, "text_tokens", (self.params.max_length,), None, hint)

    def get_records(self, indices: Any) -> dict[str, Any]:
        batch = super().get_records(indices)
        if self._retokenize:
            batch["text_tokens"] = self.tokenizer.tokenize(batch["texts"])
        return batch

    @classmethod
    def pack_metadata(cls, data: Any, out_dir: Path) -> dict[str, Any] | None:
        if not isinstance(data, TextDataset):
            return None
        _, params = resolve_config(data.config)
        tokenizer = data.tokenizer
        if isinstance(tokenizer, Tokenizer) and tokenizer.vocabulary is not None:
            tokenizer.save(out_dir / TOKENIZER_FILE)
        return {"config": params.to_dict()}
