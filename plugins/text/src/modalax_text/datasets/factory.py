"""``create_text_dataset``: the API reference's factory over the text dataset types."""

from __future__ import annotations

from typing import Any

from flax import nnx

import modalax
from modalax.plugin import ConfigError, ModalityConfiguration, unknown_name_message
from modalax_text.datasets.base import TextDataset, dataset_rngs
from modalax_text.datasets.files import TextFileDataset
from modalax_text.datasets.simple import SimpleTextDataset
from modalax_text.datasets.synthetic import SyntheticTextDataset

__all__ = ["DATASET_TYPES", "create_text_dataset"]

DATASET_TYPES: dict[str, type[TextDataset]] = {
    "synthetic": SyntheticTextDataset,
    "simple": SimpleTextDataset,
    "file": TextFileDataset,
}


def create_text_dataset(
    config: ModalityConfiguration | None = None,
    dataset_type: str = "synthetic",
    split: str = "train",
    *,
    seed: int | None = None,
    rngs: nnx.Rngs | int | None = None,
    **kwargs: Any,
) -> TextDataset:
    """Build a text dataset: ``"synthetic"``, ``"simple"`` (``texts=``), ``"file"`` (``path=``),
    ``"packed"`` (``root=``), or any dataset type another plugin registered for the ``text`` modality.

    ``kwargs`` go to the dataset class (``pattern_type``, ``dataset_size``, ``tokenizer``, ...).
    ``seed`` (an int) or ``rngs`` (``nnx.Rngs`` or an int; it wins) seed it: the dataset gets
    the resolved ``nnx.Rngs``, so the same seed gives the same records as the class itself.
    Raises ``ConfigError`` (a ``ValueError``) for an unknown ``dataset_type``.
    """
    factory: Any = DATASET_TYPES.get(dataset_type)
    if factory is None:
        try:
            factory = modalax.get_dataset_factory("text", dataset_type)
        except ConfigError:
            known = sorted(set(DATASET_TYPES) | set(modalax.list_datasets("text")))
            raise ConfigError(
                "create_text_dataset.dataset_type: " + unknown_name_message("dataset type", dataset_type, known)
            ) from None
    return factory(config, split=split, rngs=dataset_rngs("create_text_dataset", rngs, seed), **kwargs)
