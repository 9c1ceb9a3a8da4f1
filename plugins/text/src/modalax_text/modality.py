"""``TextModality``: the text modality of the API reference (tokenize, detokenize, vocabulary, adapter)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from modalax.plugin import ConfigError, DataError, GenerativeModel, ModalityConfiguration
from modalax_text import kernels
from modalax_text.adapter import TextAdapter, cross_entropy_loss
from modalax_text.char import CharTokenizer
from modalax_text.datasets.base import resolve_config
from modalax_text.external import ExternalTokenizer, as_text_tokenizer
from modalax_text.params import TextParams
from modalax_text.tokenizer import Tokenizer
from modalax_text.vocabulary import Vocabulary

__all__ = ["TextModality"]


class TextModality(GenerativeModel):
    """The text modality (seeds 01 and 02), configured by ``metadata["text_params"]``.

    Right after construction it tokenizes with the lossless byte-level vocabulary, so
    ``tokenize("Hello world")`` works at once; ``build_vocabulary(corpus)`` (or
    ``load_vocabulary``) switches to a word vocabulary.
    """

    name = "text"

    @classmethod
    def pairing(cls, **options: Any) -> Any:
        """The multimodal pairing: ``TextPairing(**options)``, options ``vocab_size`` and ``sequence_length``."""
        from modalax_text.pairing import TextPairing

        return TextPairing(**options)

    def __init__(
        self,
        config: ModalityConfiguration | None = None,
        *,
        rngs: nnx.Rngs | None = None,
        tokenizer: Any = None,
    ) -> None:
        self.config, self.params = resolve_config(config)
        self.rngs = rngs if rngs is not None else nnx.Rngs(0)
        self.tokenizer = tokenizer  # the setter wraps foreign tokenizers

    @property
    def tokenizer(self) -> Any:
        """The ``TextTokenizer`` in use (byte-level, word-level, character-level or your own, wrapped)."""
        return self._tokenizer

    @tokenizer.setter
    def tokenizer(self, tokenizer: Any) -> None:
        """Use ``tokenizer``: any encode/decode tokenizer is wrapped; its ids and size become ``params``."""
        wrapped = as_text_tokenizer(tokenizer, self.params)
        if isinstance(wrapped, ExternalTokenizer):
            self.params = wrapped.params
        self._tokenizer = wrapped

    # --------------------------------------------------------------- params
    @property
    def vocab_size(self) -> int:
        """Number of token ids (special tokens included)."""
        return self.params.vocab_size

    @property
    def max_length(self) -> int:
        """Length of every tokenized sequence."""
        return self.params.max_length

    @property
    def pad_token_id(self) -> int:
        """Padding id."""
        return self.params.pad_token_id

    @property
    def unk_token_id(self) -> int:
        """Unknown-word id."""
        return self.params.unk_token_id

    @property
    def bos_token_id(self) -> int:
        """Beginning-of-sequence id."""
        return self.params.bos_token_id

    @property
    def eos_token_id(self) -> int:
        """End-of-sequence id."""
        return self.params.eos_token_id

    @property
    def case_sensitive(self) -> bool:
        """Whether the word vocabulary keeps case."""
        return self.params.case_sensitive

    # ----------------------------------------------------------- vocabulary
    def build_vocabulary(
        self, corpus: Iterable[str], *, min_freq: int = 1, reserved_tokens: Sequence[str] = (), level: str = "word"
    ) -> Vocabulary:
        """Build a ``level="word"`` (or ``"char"``) vocabulary from ``corpus`` and tokenize with it from now on."""
        if level not in ("word", "char"):
            raise ConfigError(f"TextModality.build_vocabulary.level: got {level!r}, expected 'word' or 'char'")
        cls = CharTokenizer if level == "char" else Tokenizer
        self.tokenizer = cls.from_corpus(corpus, self.params, min_freq=min_freq, reserved_tokens=reserved_tokens)
        assert self.tokenizer.vocabulary is not None
        return self.tokenizer.vocabulary

    def load_vocabulary(self, path: str | os.PathLike[str]) -> Vocabulary:
        """Use a vocabulary saved as JSON (its text params must match this modality's)."""
        self.tokenizer = Tokenizer.load(path, self.params)
        assert self.tokenizer.vocabulary is not None
        return self.tokenizer.vocabulary

    def save_vocabulary(self, path: str | os.PathLike[str]) -> Path:
        """Write the current word vocabulary as JSON."""
        return self.tokenizer.save(path)

    # -------------------------------------------------------------- tokens
    def tokenize(self, text: str | Sequence[str]) -> jax.Array:
        """int32 ids ``(max_length,)`` of a string, ``(B, max_length)`` of a list (BOS, ids, EOS, padding)."""
        return jnp.asarray(self.tokenizer.tokenize(text))

    def detokenize(self, tokens: Any) -> str | list[str]:
        """Text of ``(L,)`` ids, or a list of texts of ``(B, L)`` ids."""
        return self.tokenizer.detokenize(np.asarray(tokens))

    def process(self, data: Any, **kwargs: Any) -> jax.Array:
        """Model input from raw data: strings are tokenized, id arrays pass through as int32."""
        if isinstance(data, str) or (isinstance(data, list | tuple) and data and isinstance(data[0], str)):
            return self.tokenize(data)
        return jnp.asarray(data, jnp.int32)

    def validate_data_shape(self, tokens: Any) -> bool:
        """True for int ids of shape ``(max_length,)`` or ``(B, max_length)``; else ``DataError``."""
        shape, dtype = np.shape(tokens), np.asarray(tokens).dtype if not hasattr(tokens, "dtype") else tokens.dtype
        if len(shape) not in (1, 2) or shape[-1] != self.max_length or jnp.dtype(dtype).kind not in "iu":
            raise DataError(f"text tokens: got {dtype} of shape {shape}, expected integer ids (..., {self.max_length})")
        return True

    def create_batch_from_samples(self, samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Stack samples (``text_tokens`` and optional ``text``) into a batch (``texts``)."""
        if not samples:
            raise DataError("create_batch_from_samples: got no samples")
        batch: dict[str, Any] = {"text_tokens": jnp.stack([jnp.asarray(s["text_tokens"]) for s in samples])}
        if all("text" in s for s in samples):
            batch["texts"] = [s["text"] for s in samples]
        return batch

    # ----------------------------------------------------------- modality API
    def get_extensions(self, config: Any = None, *, rngs: nnx.Rngs) -> dict[str, Any]:
        """``token_embedding`` (``nnx.Embed`` of ``embed_dim``, default 64) and the ``tokenizer``."""
        dim = (config or {}).get("embed_dim", 64) if isinstance(config, dict) else getattr(config, "embed_dim", 64)
        return {"token_embedding": nnx.Embed(self.vocab_size, dim, rngs=rngs), "tokenizer": self.tokenizer}

    def get_adapter(self, model_cls: type | None = None) -> TextAdapter:
        """The adapter building ``model_cls`` (default ``TextLanguageModel``) for these text params.

        The same as ``modalax.get_adapter("text")(model_cls, modality.params)``.
        """
        return TextAdapter(model_cls, self.params)

    def generate(self, n_samples: int = 1, *, rngs: nnx.Rngs | None = None, **kwargs: Any) -> jax.Array:
        """Uniformly random token sequences (a null model): BOS, random word ids, EOS, padding."""
        key = (rngs if rngs is not None else self.rngs)()
        return _random_sequences(key, int(n_samples), self.params)

    def loss_fn(self, batch: Any, model_outputs: Any, **kwargs: Any) -> jax.Array:
        """Next-token cross-entropy of logits ``model_outputs`` against ``batch["text_tokens"]``, padding ignored."""
        tokens = batch["text_tokens"] if isinstance(batch, dict) else batch
        return cross_entropy_loss(model_outputs, jnp.asarray(tokens), pad_token_id=self.pad_token_id)


@jax.jit(static_argnums=(1, 2))
def _random_sequences(key: jax.Array, n: int, p: TextParams) -> jax.Array:
    u = kernels.uniforms(key, (n, p.max_length + 1))
    lengths = kernels.uniform_ints(u[:, 0], 0, p.max_length - 1)
    ids = kernels.regular_ids(u[:, 1:], p.vocab_size, tuple(p.special_ids.values()))
    pos = jnp.arange(p.max_length)[None, :]
    tokens = jnp.where(pos <= lengths[:, None], ids, p.pad_token_id)
    tokens = jnp.where(pos == lengths[:, None] + 1, p.eos_token_id, tokens)
    return tokens.at[:, 0].set(p.bos_token_id).astype(jnp.int32)
