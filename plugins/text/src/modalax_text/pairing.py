"""The text side of a multimodal pairing (``TextModality.pairing(**options)``).

Rendering from a shared input ``u`` (``latent_dim``): position ``p`` reads the projection
``w_p . u`` on a fixed unit direction (orthonormal within each block of ``latent_dim``
positions, so a sentence reads independent views of ``u``), quantises it into ``TEXT_LEVELS`` equiprobable levels
(standard-normal quantiles) and looks the token up in a per-position table, so the words
carry the latent and no two sentences share a token pattern by construction.  Ids 0-3 are the
text plugin's pad, unk, bos and eos and are never produced.  The directions and tables are the
"world": drawn once on the host (numpy) from the key's bits and passed to ``render``.

Fixed features: a bag of words (token counts over the vocabulary).  Encoder: a mean of token
embeddings (padding excluded), then an MLP.  Quality: corpus BLEU and perplexity of
``modalax_text.evaluation.TextEvaluationSuite``.
"""

from __future__ import annotations

import functools
import statistics
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from modalax.plugin import ConfigError, DataError, ModalityPairing, check_positive, host_rng

__all__ = [
    "RESERVED_TOKENS",
    "TEXT_LEVELS",
    "TextEncoder",
    "TextPairing",
    "TextWorld",
    "render_text",
    "render_text_reference",
    "text_features",
]

#: Token ids 0..3 are pad, unk, bos and eos; rendered text never uses them.
RESERVED_TOKENS = 4
#: Quantisation levels of each text position.
TEXT_LEVELS = 8

_OWNER = "TextPairing"


class TextWorld(NamedTuple):
    """Fixed maps from ``u`` (``d``) to ``L`` tokens."""

    directions: jax.Array  # (L, d) unit projection per position
    edges: jax.Array  # (TEXT_LEVELS - 1,) standard-normal quantiles
    table: jax.Array  # (L, TEXT_LEVELS) int32 token of each (position, level)


def render_text(u: jax.Array, directions: jax.Array, edges: jax.Array, table: jax.Array) -> jax.Array:
    """Tokens ``(B, L)`` int32: position ``p`` quantises ``directions[p] . u`` and reads ``table[p, level]``."""
    proj = jnp.matmul(u, directions.T, precision=jax.lax.Precision.HIGHEST)  # (B, L)
    levels = jnp.sum(proj[..., None] > edges, axis=-1)
    return table[jnp.arange(table.shape[0])[None, :], levels].astype(jnp.int32)


def render_text_reference(world: TextWorld, u: np.ndarray) -> np.ndarray:
    """One sentence from ``u`` ``(d,)``, one token at a time in numpy (the per-sample reference)."""
    directions, edges = np.asarray(world.directions, np.float64), np.asarray(world.edges, np.float64)
    table = np.asarray(world.table, np.int64)
    tokens = []
    for pos in range(table.shape[0]):
        level = int(np.searchsorted(edges, directions[pos] @ np.asarray(u, np.float64), side="left"))
        tokens.append(int(table[pos, level]))
    return np.asarray(tokens, np.int32)


@functools.partial(jax.jit, static_argnames="vocab_size")
def text_features(tokens: jax.Array, vocab_size: int) -> jax.Array:
    """``(B, L)`` ints -> ``(B, vocab_size)`` token counts (bag of words)."""
    b = tokens.shape[0]
    rows = jnp.broadcast_to(jnp.arange(b)[:, None], tokens.shape)
    return jnp.zeros((b, vocab_size), jnp.float32).at[rows, tokens].add(1.0)


class _MLP(nnx.Module):
    """``Linear -> gelu -> Linear``."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, *, rngs: nnx.Rngs) -> None:
        self.fc1 = nnx.Linear(in_dim, hidden_dim, rngs=rngs)
        self.fc2 = nnx.Linear(hidden_dim, out_dim, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.fc2(jax.nn.gelu(self.fc1(x)))


class TextEncoder(nnx.Module):
    """Tokens ``(B, L)`` -> ``(B, embed_dim)``: mean of token embeddings (padding excluded), then an MLP.

    With ``max_length`` a learnt position embedding is added to each token first.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_dim: int = 128,
        *,
        max_length: int | None = None,
        pad_token_id: int = 0,
        rngs: nnx.Rngs,
    ) -> None:
        self.vocab_size = vocab_size
        self.pad_token_id = pad_token_id
        self.embed = nnx.Embed(vocab_size, hidden_dim, rngs=rngs)
        self.positions = nnx.Embed(max_length, hidden_dim, rngs=rngs) if max_length else None
        self.mlp = _MLP(hidden_dim, hidden_dim, embed_dim, rngs=rngs)

    def __call__(self, tokens: jax.Array) -> jax.Array:
        t = jnp.asarray(tokens)
        if t.ndim == 1:
            return self(t[None])[0]
        if not jnp.issubdtype(t.dtype, jnp.integer):
            raise DataError(f"TextEncoder: got tokens of dtype {t.dtype}, expected integers")
        x = self.embed(t)
        if self.positions is not None:
            x = x + self.positions(jnp.arange(t.shape[1]))
        keep = (t != self.pad_token_id)[..., None].astype(x.dtype)
        pooled = jnp.sum(x * keep, axis=1) / jnp.maximum(jnp.sum(keep, axis=1), 1.0)
        return self.mlp(pooled)


def _check_ids(owner: str, tokens: jax.Array, vocab_size: int) -> None:
    """``DataError`` for non-integer ids, or (concrete arrays only) ids outside ``[0, vocab_size)``."""
    if not jnp.issubdtype(tokens.dtype, jnp.integer):
        raise DataError(f"{owner}: got dtype {tokens.dtype}, expected integer token ids")
    if isinstance(tokens, jax.core.Tracer) or tokens.size == 0:
        return
    ids = np.asarray(tokens).reshape(len(tokens), -1)
    bad = np.flatnonzero(((ids < 0) | (ids >= vocab_size)).any(axis=-1))
    if bad.size:
        row = ids[bad[0]]
        value = int(row[(row < 0) | (row >= vocab_size)][0])
        raise DataError(
            f"{owner}: sample {int(bad[0])} holds token id {value}; expected ids in [0, vocab_size={vocab_size})"
        )


class TextPairing(ModalityPairing):
    """Token sentences ``(L,)`` int32 in ``[4, vocab_size)`` rendered from a shared latent.

    Options: ``vocab_size`` (every id, the 4 special ones included; default 1000),
    ``sequence_length`` (``L``, default 50) and ``evaluation_config`` (the text config whose
    special ids the quality metrics use; default the text plugin's).
    """

    aliases = ("text_tokens",)

    def __init__(
        self, vocab_size: int = 1000, sequence_length: int = 50, evaluation_config: Any = None, **options: Any
    ) -> None:
        super().__init__(**options)
        self.vocab_size = int(check_positive(_OWNER, "vocab_size", vocab_size))
        if self.vocab_size < RESERVED_TOKENS + TEXT_LEVELS:
            raise ConfigError(
                f"{_OWNER}.vocab_size: got {self.vocab_size}, expected >= {RESERVED_TOKENS + TEXT_LEVELS} "
                f"({RESERVED_TOKENS} reserved ids plus {TEXT_LEVELS} levels)"
            )
        self.sequence_length = int(check_positive(_OWNER, "sequence_length", sequence_length))
        if evaluation_config is not None:
            from modalax_text.params import text_params_from

            text_params_from(evaluation_config)  # a ConfigError now rather than at the first quality()
        self.evaluation_config = evaluation_config

    def options(self) -> dict[str, Any]:
        cfg = self.evaluation_config
        out: dict[str, Any] = {"vocab_size": self.vocab_size, "sequence_length": self.sequence_length}
        if cfg is not None:
            out["evaluation_config"] = cfg.to_dict() if hasattr(cfg, "to_dict") else cfg
        return out

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return (self.sequence_length,)

    @property
    def dtype(self) -> str:
        return "int32"

    def make_world(self, key: jax.Array, latent_dim: int) -> TextWorld:
        """Orthonormal directions (per block of ``latent_dim`` positions), level edges and a token table (host)."""
        d = int(check_positive(_OWNER, "latent_dim", latent_dim))
        rng = host_rng(key)
        length = self.sequence_length
        # orthonormal directions in blocks of d positions: each block reads d independent views of u
        blocks = []
        for start in range(0, length, d):
            q, r = np.linalg.qr(rng.standard_normal((d, min(d, length - start))))
            blocks.append((q * np.sign(np.diag(r))).T)
        directions = np.concatenate(blocks)
        edges = np.array([statistics.NormalDist().inv_cdf(j / TEXT_LEVELS) for j in range(1, TEXT_LEVELS)])
        usable = self.vocab_size - RESERVED_TOKENS
        perm = rng.permutation(usable)
        slots = (np.arange(length)[:, None] * TEXT_LEVELS + np.arange(TEXT_LEVELS)[None, :]) % usable
        return TextWorld(
            jnp.asarray(directions, jnp.float32),
            jnp.asarray(edges, jnp.float32),
            jnp.asarray(RESERVED_TOKENS + perm[slots], jnp.int32),
        )

    def render(self, world: TextWorld, u: jax.Array, keys: jax.Array) -> jax.Array:
        """Quantised projections looked up per position: deterministic in ``u``."""
        return render_text(u, world.directions, world.edges, world.table)

    def render_reference(self, world: TextWorld, u: np.ndarray) -> np.ndarray:
        """One sample in numpy (see ``render_text_reference``)."""
        return render_text_reference(world, u)

    def features(self, x: jax.Array) -> jax.Array:
        """Bag of words ``(B, vocab_size)``; non-integer ids or ids outside the vocabulary are a ``DataError``."""
        tokens = x if isinstance(x, jax.core.Tracer) else jnp.asarray(x)
        if tokens.ndim != 2:
            raise DataError(f"{_OWNER}.features: got shape {tuple(tokens.shape)}, expected (B, L) token ids")
        _check_ids(f"{_OWNER}.features", tokens, self.vocab_size)
        return text_features(tokens, self.vocab_size)

    def encoder(self, embed_dim: int, *, rngs: nnx.Rngs, hidden_dim: int | None = None) -> nnx.Module:
        """``TextEncoder`` over this vocabulary (``hidden_dim``: embedding and MLP width)."""
        width = 128 if hidden_dim is None else hidden_dim
        return TextEncoder(self.vocab_size, embed_dim, width, rngs=rngs)

    def quality(
        self, generated: Any, reference: Any, *, log_probs: Any = None, targets: Any = None, **inputs: Any
    ) -> dict[str, float]:
        """``{"bleu": 0-100}`` of generated against reference ids; ``{"perplexity": ...}`` from ``log_probs``.

        ``log_probs`` are the log-probabilities of ``targets`` (default ``reference``), padding ignored.
        """
        from modalax_text.evaluation import TextEvaluationSuite

        suite = TextEvaluationSuite(self.evaluation_config)
        out: dict[str, float] = {}
        if generated is not None and reference is not None:
            out["bleu"] = float(suite.bleu(generated, reference).score)
        if log_probs is not None:
            out["perplexity"] = float(suite.perplexity(log_probs, targets if targets is not None else reference))
        return out
