"""Text models: a small causal transformer sized by ``vocab_size``/``max_length``, the wrapper
that gives any nnx language model a next-token loss and sampling, and that loss.

Sampling is one jitted ``fori_loop`` over positions: each step runs the model on the whole
(padded) row and draws position ``t`` from the logits at ``t - 1``, so it costs ``length``
forward passes and works for any model mapping ``(B, L)`` ids to ``(B, L, vocab_size)`` logits.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from modalax.plugin import ConfigError, DataError, GenerativeModel
from modalax_text import kernels
from modalax_text.params import TextParams

__all__ = ["TextLanguageModel", "TextModel", "cross_entropy_loss"]


def cross_entropy_loss(logits: jax.Array, tokens: jax.Array, *, pad_token_id: int = 0, shift: bool = True) -> jax.Array:
    """Mean cross-entropy of ``logits`` ``(B, L, V)`` against ``tokens`` ``(B, L)``, padding ignored.

    With ``shift`` (next-token prediction) position ``t`` predicts token ``t + 1``.
    """
    if logits.ndim != 3 or tokens.shape != logits.shape[:2]:
        raise DataError(
            f"cross_entropy_loss: got logits {logits.shape} and tokens {tokens.shape}, expected (B, L, V) and (B, L)"
        )
    if shift:
        logits, tokens = logits[:, :-1], tokens[:, 1:]
    logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    nll = -jnp.take_along_axis(logp, tokens[..., None].astype(jnp.int32), axis=-1)[..., 0]
    weight = (tokens != pad_token_id).astype(jnp.float32)
    return jnp.sum(nll * weight) / jnp.maximum(jnp.sum(weight), 1.0)


class _Block(nnx.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: int, *, rngs: nnx.Rngs) -> None:
        self.norm1 = nnx.LayerNorm(dim, rngs=rngs)
        self.attn = nnx.MultiHeadAttention(heads, dim, decode=False, rngs=rngs)
        self.norm2 = nnx.LayerNorm(dim, rngs=rngs)
        self.up = nnx.Linear(dim, dim * mlp_ratio, rngs=rngs)
        self.down = nnx.Linear(dim * mlp_ratio, dim, rngs=rngs)

    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
        x = x + self.attn(self.norm1(x), mask=mask)
        return x + self.down(jax.nn.gelu(self.up(self.norm2(x))))


class TextLanguageModel(GenerativeModel):
    """A causal transformer language model: token embeddings + sinusoidal positions -> logits."""

    def __init__(
        self,
        vocab_size: int,
        max_length: int,
        *,
        embed_dim: int = 64,
        num_layers: int = 2,
        num_heads: int = 4,
        mlp_ratio: int = 4,
        pad_token_id: int = 0,
        bos_token_id: int = 2,
        eos_token_id: int = 3,
        rngs: nnx.Rngs,
    ) -> None:
        for name, value in (
            ("vocab_size", vocab_size),
            ("max_length", max_length),
            ("embed_dim", embed_dim),
            ("num_layers", num_layers),
            ("num_heads", num_heads),
            ("mlp_ratio", mlp_ratio),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"TextLanguageModel.{name}: got {value!r}, expected a positive int")
        if embed_dim % num_heads:
            raise ConfigError(
                f"TextLanguageModel.embed_dim: got {embed_dim}, expected a multiple of num_heads={num_heads}"
            )
        self.vocab_size, self.max_length = vocab_size, max_length
        self.pad_token_id, self.bos_token_id, self.eos_token_id = pad_token_id, bos_token_id, eos_token_id
        self.embed = nnx.Embed(vocab_size, embed_dim, rngs=rngs)
        self.blocks = nnx.List([_Block(embed_dim, num_heads, mlp_ratio, rngs=rngs) for _ in range(num_layers)])
        self.norm = nnx.LayerNorm(embed_dim, rngs=rngs)
        self.embed_dim = embed_dim

    def __call__(self, tokens: jax.Array) -> jax.Array:
        """Logits ``(B, L, vocab_size)`` of ``(B, L)`` tokens; position ``t`` sees tokens ``<= t``."""
        x = self.embed(tokens) + kernels.position_encoding(tokens, dim=self.embed_dim)
        mask = kernels.causal_mask(tokens, pad_token_id=self.pad_token_id)[:, None]
        # a padded query would attend to nothing (NaN softmax): let it see itself
        mask = mask | jnp.eye(tokens.shape[1], dtype=bool)[None, None]
        for block in self.blocks:
            x = block(x, mask)
        return self.embed.attend(self.norm(x))

    def loss_fn(self, batch: Any, model_outputs: Any = None, **kwargs: Any) -> jax.Array:
        """Next-token cross-entropy on ``batch["text_tokens"]`` ignoring padding."""
        tokens = batch["text_tokens"] if isinstance(batch, dict) else batch
        logits = self(tokens) if model_outputs is None else model_outputs
        return cross_entropy_loss(logits, tokens, pad_token_id=self.pad_token_id)

    def generate(
        self,
        n_samples: int = 1,
        *,
        rngs: nnx.Rngs | None = None,
        temperature: float = 1.0,
        length: int | None = None,
        **kwargs: Any,
    ) -> jax.Array:
        """Sample ``(n_samples, length)`` token sequences: BOS, sampled ids until EOS, then padding."""
        ids = (self.pad_token_id, self.bos_token_id, self.eos_token_id)
        return sample(
            self,
            n_samples,
            rngs=rngs,
            temperature=temperature,
            length=self.max_length if length is None else length,
            ids=ids,
        )


class TextModel(GenerativeModel):
    """Any nnx language model (``(B, L)`` ids -> ``(B, L, vocab_size)`` logits) as a text ``GenerativeModel``.

    ``TextAdapter`` wraps models that are not a ``GenerativeModel`` already: calling it checks
    the logits' shape against the text params, ``loss_fn`` is the next-token cross-entropy
    ignoring padding and ``generate`` samples BOS, ids until EOS, then padding.
    """

    def __init__(self, model: nnx.Module, params: TextParams) -> None:
        self.model = model
        self.params = params

    def __call__(self, tokens: jax.Array, *args: Any, **kwargs: Any) -> jax.Array:
        """The wrapped model's logits ``(B, L, vocab_size)`` of ``(B, L)`` tokens."""
        logits = self.model(tokens, *args, **kwargs)
        expected = (*jnp.shape(tokens), self.params.vocab_size)
        if tuple(jnp.shape(logits)) != expected:
            raise DataError(
                f"{type(self.model).__name__} output: got logits of shape {tuple(jnp.shape(logits))}, "
                f"expected {expected} (tokens {tuple(jnp.shape(tokens))} and vocab_size={self.params.vocab_size})"
            )
        return logits

    def loss_fn(self, batch: Any, model_outputs: Any = None, **kwargs: Any) -> jax.Array:
        """Next-token cross-entropy on ``batch["text_tokens"]`` ignoring padding."""
        tokens = batch["text_tokens"] if isinstance(batch, dict) else batch
        logits = self(tokens) if model_outputs is None else model_outputs
        return cross_entropy_loss(logits, jnp.asarray(tokens), pad_token_id=self.params.pad_token_id)

    def generate(
        self,
        n_samples: int = 1,
        *,
        rngs: nnx.Rngs | None = None,
        temperature: float = 1.0,
        length: int | None = None,
        **kwargs: Any,
    ) -> jax.Array:
        """Sample ``(n_samples, length)`` token sequences: BOS, sampled ids until EOS, then padding."""
        p = self.params
        ids = (p.pad_token_id, p.bos_token_id, p.eos_token_id)
        return sample(
            self,
            n_samples,
            rngs=rngs,
            temperature=temperature,
            length=p.max_length if length is None else length,
            ids=ids,
        )


def sample(
    model: nnx.Module,
    n_samples: int,
    *,
    rngs: Any,
    temperature: float,
    length: int,
    ids: tuple[int, int, int],
) -> jax.Array:
    """``(n_samples, length)`` rows sampled from ``model``'s logits; ``ids`` are (pad, bos, eos)."""
    for name, value in (("n_samples", n_samples), ("length", length)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"generate.{name}: got {value!r}, expected a positive int")
    key = rngs if isinstance(rngs, jax.Array) else (rngs if rngs is not None else nnx.Rngs(0))()
    graphdef, state = nnx.split(model)
    return _sample(graphdef, state, key, n_samples, length, float(temperature), ids)


@jax.jit(static_argnums=(0, 3, 4, 5, 6))
def _sample(
    graphdef: Any, state: Any, key: jax.Array, n: int, length: int, temperature: float, ids: tuple[int, int, int]
) -> jax.Array:
    model = nnx.merge(graphdef, state)
    pad, bos, eos = ids
    tokens = jnp.full((n, length), pad, jnp.int32).at[:, 0].set(bos)

    def step(t: jax.Array, carry: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        tokens, done = carry
        logits = jax.lax.dynamic_index_in_dim(model(tokens), t - 1, axis=1, keepdims=False)
        logits = logits.at[:, jnp.array([pad, bos])].set(-jnp.inf)  # never sampled
        nxt = jax.random.categorical(jax.random.fold_in(key, t), logits / max(temperature, 1e-6)).astype(jnp.int32)
        nxt = jnp.where(done, pad, nxt)
        tokens = jax.lax.dynamic_update_index_in_dim(tokens, nxt, t, axis=1)
        return tokens, done | (nxt == eos)

    tokens, _ = jax.lax.fori_loop(1, length, step, (tokens, jnp.zeros(n, bool)))
    return tokens
