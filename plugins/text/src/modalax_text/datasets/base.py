"""``TextDataset``: the base of text datasets and ``get_vocab_stats``.

Batches carry ``text_tokens`` (int32, ``(B, max_length)``) and, where raw text exists,
``texts`` (a list of str).  Single samples (``dataset[i]``, iteration) carry ``text_tokens``
and ``text`` as documented.  Traceable datasets produce raw strings in ``host_records``, which
the loader attaches to each batch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flax import nnx

from modalax.plugin import BaseDataset, ConfigError, ModalityConfiguration, check_seed, resolve_rngs
from modalax_text.ids import check_token_ids
from modalax_text.params import SPECIAL_FIELDS, TextParams, text_config, text_params_from

__all__ = ["TextDataset", "check_min_length", "dataset_rngs", "get_vocab_stats", "resolve_config", "token_lengths"]

_CHUNK = 4096


def resolve_config(config: Any) -> tuple[ModalityConfiguration, TextParams]:
    """The dataset's configuration (the API reference's default text config when None) and its params."""
    if config is None:
        config = text_config()
    if isinstance(config, TextParams):
        config = text_config(**config.to_dict())
    if not isinstance(config, ModalityConfiguration):
        raise ConfigError(
            f"config: got {type(config).__name__}, expected a ModalityConfiguration with "
            "metadata={'text_params': {...}} (or None for the defaults)"
        )
    return config, text_params_from(config)


def dataset_rngs(owner: str, rngs: Any = None, seed: Any = None) -> nnx.Rngs:
    """The ``nnx.Rngs`` of a dataset from ``rngs`` (``nnx.Rngs`` or an int) or ``seed`` (an int); neither: seed 0.

    Both given is a ``ConfigError`` (core's ``resolve_rngs``), as is a bad value,
    naming ``owner.seed`` or ``owner.rngs``.  The datasets read the root key without drawing
    from it, so one ``Rngs`` shared by several datasets gives each the same data as its seed.
    """
    if seed is not None:
        check_seed(f"{owner}.seed", seed)
    return resolve_rngs(f"{owner}.rngs", rngs, seed)


def check_min_length(owner: str, value: Any) -> int:
    """``min_length`` as an int >= 0 (0 keeps every record); ``ConfigError`` otherwise."""
    if isinstance(value, np.integer):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{owner}.min_length: got {value!r}, expected an int >= 0 (tokens, BOS and EOS not counted)")
    return value


def token_lengths(tokens: np.ndarray, params: TextParams) -> np.ndarray:
    """Tokens per row of a packed ``(B, L)`` array (BOS, EOS and padding not counted)."""
    return np.count_nonzero(np.asarray(tokens) != params.pad_token_id, axis=1) - 2


class TextDataset(BaseDataset):
    """Base class of text datasets: ``config`` gives the ``TextParams``; ``tokenizer`` maps text to ids.

    Every text dataset takes ``(config=None, <data: texts, path or root>, split="train", *,
    seed=None, rngs=None, ...)``: the config first, then where the data is, then the split;
    ``seed`` (an int) or ``rngs`` (``nnx.Rngs`` or an int) keyword-only.
    """

    params: TextParams
    tokenizer: Any  # a TextTokenizer: Tokenizer, CharTokenizer or ExternalTokenizer

    def __init__(
        self,
        config: ModalityConfiguration | None = None,
        split: str = "train",
        *,
        seed: int | None = None,
        rngs: nnx.Rngs | int | None = None,
    ) -> None:
        config, params = resolve_config(config)
        super().__init__(config, split, rngs=dataset_rngs(type(self).__name__, rngs, seed))
        self._set_text(params, None)

    def _set_text(self, params: TextParams, tokenizer: Any) -> None:
        """Set the tokenizer (any ``TextTokenizer``, or an encode/decode tokenizer to wrap).

        With a foreign tokenizer the dataset's ``params`` take its vocabulary size and special ids.
        """
        from modalax_text.external import ExternalTokenizer, as_text_tokenizer

        try:
            self.tokenizer = as_text_tokenizer(tokenizer, params)
        except ConfigError as exc:
            raise ConfigError(f"{type(self).__name__}.tokenizer: {exc}") from None
        self.params = self.tokenizer.params if isinstance(self.tokenizer, ExternalTokenizer) else params

    def element_of(self, batch: dict[str, Any], j: int) -> dict[str, Any]:
        """One sample: ``text_tokens`` and, where raw text exists, ``text`` (str) as documented."""
        return {("text" if key == "texts" else key): value[j] for key, value in batch.items()}

    def get_vocab_stats(self, max_samples: int = 10000) -> dict[str, Any]:
        """Token statistics of the first ``max_samples`` records (see ``get_vocab_stats``)."""
        return get_vocab_stats(self, max_samples=max_samples)


def get_vocab_stats(source: Any, params: Any = None, *, max_samples: int = 10000) -> dict[str, Any]:
    """Token statistics of a text dataset (its first ``max_samples`` records) or of a token array.

    Returns ``vocab_size``, ``vocabulary_tokens`` (tokens the tokenizer knows, if any),
    ``num_samples``, ``total_tokens`` and ``unique_tokens`` (non-special tokens),
    ``unk_tokens``, ``mean_length``, ``max_sequence_length`` and ``full_length`` (samples whose
    words fill ``max_length - 2``, so possibly truncated).
    """
    if isinstance(source, TextDataset):
        p = source.params if params is None else text_params_from(params)
        n = min(len(source), max_samples)
        chunks = [
            np.asarray(source.get_records(np.arange(s, min(n, s + _CHUNK), dtype=np.int32))["text_tokens"])
            for s in range(0, n, _CHUNK)
        ]
        tokens = np.concatenate(chunks) if chunks else np.zeros((0, p.max_length), np.int32)
        tokenizer = source.tokenizer
    else:
        p = text_params_from(params)
        tokens = np.asarray(source)
        tokenizer = None
        if tokens.ndim == 1:
            tokens = tokens[None]
        if tokens.ndim != 2 or tokens.dtype.kind not in "iu":
            raise ConfigError(
                f"get_vocab_stats: got {tokens.dtype} array of shape {tokens.shape}, "
                "expected integer tokens (B, L) or a TextDataset"
            )
        check_token_ids(tokens, p.vocab_size, "get_vocab_stats: tokens")
    specials = np.array([getattr(p, f) for f in SPECIAL_FIELDS])
    words = ~np.isin(tokens, specials[[0, 2, 3]])  # UNK counts as a (word) token
    lengths = words.sum(axis=1)
    counts = np.bincount(tokens[words].ravel().astype(np.int64), minlength=p.vocab_size)
    if tokenizer is None:
        vocabulary_tokens = None
    elif getattr(tokenizer, "vocabulary", None) is not None:
        vocabulary_tokens = tokenizer.vocabulary.num_tokens
    else:
        vocabulary_tokens = len(tokenizer)
    return {
        "vocab_size": p.vocab_size,
        "vocabulary_tokens": vocabulary_tokens,
        "num_samples": int(tokens.shape[0]),
        "total_tokens": int(lengths.sum()),
        "unique_tokens": int(np.count_nonzero(counts)),
        "unk_tokens": int(counts[p.unk_token_id]) if p.unk_token_id < len(counts) else 0,
        "mean_length": float(lengths.mean()) if len(lengths) else 0.0,
        "max_sequence_length": int(lengths.max()) if len(lengths) else 0,
        "full_length": int(np.count_nonzero(lengths >= tokens.shape[1] - 2)) if tokens.shape[1] else 0,
    }
