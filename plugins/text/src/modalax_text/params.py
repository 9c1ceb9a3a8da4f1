"""``TextParams``: the validated form of ``ModalityConfiguration.metadata["text_params"]``.

Imports no jax, so the hook module and the CLI can show the fields cheaply.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from modalax.plugin import BaseModalityConfig, ConfigError, ModalityConfiguration, check_positive, check_type

__all__ = [
    "NORMALIZATIONS",
    "SPECIAL_FIELDS",
    "SPECIAL_TOKENS",
    "TextParams",
    "plain_numbers",
    "text_config",
    "text_params_from",
]

#: Special-token fields and the strings that stand for them in a vocabulary.
SPECIAL_FIELDS = ("pad_token_id", "unk_token_id", "bos_token_id", "eos_token_id")
SPECIAL_TOKENS = {"pad_token_id": "<pad>", "unk_token_id": "<unk>", "bos_token_id": "<bos>", "eos_token_id": "<eos>"}
#: Unicode normalisation forms of ``TextParams.normalization`` (``"none"`` leaves text as given).
NORMALIZATIONS = ("NFC", "NFD", "NFKC", "NFKD", "none")


def plain_numbers(obj: Any) -> None:
    """Turn numpy scalars in the fields of frozen dataclass ``obj`` into Python ``int``/``float``/``bool``.

    Configs are often filled from numpy (``np.int64(32)`` from an array's shape); they are
    validated, hashed and written to JSON as plain Python numbers.
    """
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, np.bool_):
            object.__setattr__(obj, f.name, bool(value))
        elif isinstance(value, np.integer):
            object.__setattr__(obj, f.name, int(value))
        elif isinstance(value, np.floating):
            object.__setattr__(obj, f.name, float(value))


@dataclass(frozen=True)
class TextParams(BaseModalityConfig):
    """Text parameters of the API reference (``metadata["text_params"]``), validated.

    ``vocab_size`` counts every id, the special tokens included; the special ids must be
    distinct and smaller than ``vocab_size``.  ``normalization`` is the Unicode normal form
    every tokenizer puts text in before splitting it (``"NFC"``, ``"NFD"``, ``"NFKC"``,
    ``"NFKD"`` or ``"none"``; case-insensitive, None means ``"none"``).
    """

    vocab_size: int = 10000
    max_length: int = 512
    pad_token_id: int = 0
    unk_token_id: int = 1
    bos_token_id: int = 2
    eos_token_id: int = 3
    case_sensitive: bool = False
    normalization: str = "NFC"

    def __post_init__(self) -> None:
        owner = "TextParams"
        plain_numbers(self)
        check_positive(owner, "vocab_size", self.vocab_size)
        check_positive(owner, "max_length", self.max_length)
        if self.max_length < 2:
            raise ConfigError(f"{owner}.max_length: got {self.max_length}, expected at least 2 (room for BOS and EOS)")
        seen: dict[int, str] = {}
        for name in SPECIAL_FIELDS:
            value = getattr(self, name)
            check_positive(owner, name, value, allow_zero=True)
            if value in seen:
                raise ConfigError(
                    f"{owner}.{name}: got {value}, which collides with {seen[value]}={value}; "
                    "expected distinct special token ids"
                )
            seen[value] = name
        top = max(seen)
        if self.vocab_size <= top:
            raise ConfigError(
                f"{owner}.vocab_size: got {self.vocab_size}, expected more than the largest special token id "
                f"({seen[top]}={top}); vocab_size counts the {len(SPECIAL_FIELDS)} special tokens too"
            )
        if self.vocab_size <= len(SPECIAL_FIELDS):
            raise ConfigError(
                f"{owner}.vocab_size: got {self.vocab_size}, expected more than the {len(SPECIAL_FIELDS)} "
                "special tokens (room for at least one word)"
            )
        check_type(owner, "case_sensitive", self.case_sensitive, bool, "a bool")
        form = "none" if self.normalization is None else self.normalization
        if isinstance(form, str):
            form = next((f for f in NORMALIZATIONS if f.lower() == form.lower()), form)
        if form not in NORMALIZATIONS:
            raise ConfigError(
                f"{owner}.normalization: got {self.normalization!r}, expected one of {', '.join(NORMALIZATIONS)} "
                "(a Unicode normal form, or 'none' to leave text as given)"
            )
        object.__setattr__(self, "normalization", form)

    @property
    def special_ids(self) -> dict[str, int]:
        """``{"pad_token_id": 0, ...}``."""
        return {name: getattr(self, name) for name in SPECIAL_FIELDS}

    @property
    def num_regular(self) -> int:
        """How many ids are left for words (``vocab_size`` minus the special tokens)."""
        return self.vocab_size - len(SPECIAL_FIELDS)


def text_params_from(config: Any = None) -> TextParams:
    """``TextParams`` from a ``ModalityConfiguration``, a ``TextParams``, a dict, or None (defaults).

    A ``ModalityConfiguration`` is read from ``metadata["text_params"]`` (absent means
    defaults); unknown keys raise ``ConfigError`` naming them.
    """
    if config is None:
        return TextParams()
    if isinstance(config, TextParams):
        return config
    if isinstance(config, ModalityConfiguration):
        raw = config.metadata.get("text_params", {})
        if raw is None:
            return TextParams()
        if isinstance(raw, TextParams):
            return raw
        if not isinstance(raw, Mapping):
            raise ConfigError(
                f"ModalityConfiguration.metadata['text_params']: got {type(raw).__name__}, expected a dict"
            )
        return TextParams.from_dict(raw)
    if isinstance(config, Mapping):
        return TextParams.from_dict(config)
    raise ConfigError(
        f"config: got {type(config).__name__}, expected a ModalityConfiguration with "
        "metadata={'text_params': {...}}, a TextParams, a dict or None"
    )


def text_config(**text_params: Any) -> ModalityConfiguration:
    """A ``ModalityConfiguration(name="text", modality_type="text")`` with these text params."""
    TextParams.from_dict(text_params)  # validate now, naming the bad field
    return ModalityConfiguration(name="text", modality_type="text", metadata={"text_params": dict(text_params)})
