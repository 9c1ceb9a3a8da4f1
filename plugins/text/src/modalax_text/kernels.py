"""Pure, jittable token kernels (registered as ``text.*``), and their per-record forms.

Each ``*_one`` function works on one record (``tokens`` of shape ``(L,)``, one PRNG key);
the registered kernels ``vmap`` it over a leading batch axis with one key per record.  The
operators call the ``*_one`` functions, so the numerics live here only.

Special tokens (``protected`` ids: padding, BOS, EOS by default) are never masked, dropped
or substituted, and random replacement ids are drawn from the non-special ids only.

Ids outside ``[0, vocab_size)`` cannot raise inside jit.  They are left exactly as they are
(never masked, dropped or substituted, never selected in the MLM mask), so a bad id stays
visible downstream instead of being hidden behind a mask or UNK id; the operators check
concrete host batches and raise ``DataError`` before jitting (see ``check_token_ids``).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

__all__ = [
    "causal_mask",
    "causal_mask_one",
    "mask_tokens",
    "mask_tokens_one",
    "padding_mask",
    "padding_mask_one",
    "position_encoding",
    "position_encoding_one",
    "random_regular_ids",
    "random_substitution",
    "regular_ids",
    "substitute_one",
    "token_dropout",
    "token_dropout_one",
    "uniform_ints",
    "uniforms",
]


def _protected(tokens: jax.Array, protected: Sequence[int], vocab_size: int | None = None) -> jax.Array:
    """True where a token must not change: a protected id, or (with ``vocab_size``) an invalid id."""
    out = jnp.zeros(tokens.shape, bool)
    for i in protected:
        out = out | (tokens == i)
    if vocab_size is not None:
        out = out | (tokens < 0) | (tokens >= vocab_size)
    return out


def uniforms(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """float32 uniforms in [0, 1) with 24 random bits each, from one ``random.bits`` call.

    One threefry call per record (instead of a split plus one call per draw) keeps XLA's
    compile time of the vmapped generators small on CPU.
    """
    bits = jax.random.bits(key, shape, jnp.uint32)
    return (bits >> 8).astype(jnp.float32) * jnp.float32(2.0**-24)


def uniform_ints(u: jax.Array, low: int | jax.Array, high: int | jax.Array) -> jax.Array:
    """Integers in ``[low, high)`` from uniforms ``u`` (bias below 2**-24 per value)."""
    span = high - low
    return low + jnp.minimum((u * span).astype(jnp.int32), span - 1)


def regular_ids(u: jax.Array, vocab_size: int, specials: Sequence[int]) -> jax.Array:
    """Uniform ids in ``[0, vocab_size)`` outside ``specials``, from uniforms ``u``.

    Picks ``r`` among the ``vocab_size - len(specials)`` regular ids and maps it to the
    ``r``-th regular id by stepping over each special id in increasing order.
    """
    skip = sorted({int(s) for s in specials if 0 <= int(s) < vocab_size})
    ids = uniform_ints(u, 0, vocab_size - len(skip))
    for s in skip:
        ids = ids + (ids >= s)
    return ids


def random_regular_ids(key: jax.Array, shape: tuple[int, ...], vocab_size: int, specials: Sequence[int]) -> jax.Array:
    """``regular_ids`` drawn from ``key``."""
    return regular_ids(uniforms(key, shape), vocab_size, specials)


def mask_tokens_one(
    tokens: jax.Array,
    key: jax.Array,
    *,
    mask_prob: float,
    mask_token_id: int,
    vocab_size: int,
    protected: Sequence[int],
    specials: Sequence[int],
    random_prob: float = 0.1,
    keep_prob: float = 0.1,
) -> tuple[jax.Array, jax.Array]:
    """BERT-style masking of one record: ``(masked tokens, selected positions)``.

    Each non-protected position is selected with probability ``mask_prob``; a selected token
    becomes ``mask_token_id`` with probability ``1 - random_prob - keep_prob``, a random
    regular id with probability ``random_prob``, and stays itself otherwise.
    """
    u_select, action, u_random = uniforms(key, (3, *tokens.shape))
    selected = (u_select < mask_prob) & ~_protected(tokens, protected, vocab_size)
    replacement = regular_ids(u_random, vocab_size, specials)
    masked = jnp.where(
        action < 1.0 - random_prob - keep_prob, mask_token_id, jnp.where(action < 1.0 - keep_prob, replacement, tokens)
    )
    return jnp.where(selected, masked, tokens).astype(tokens.dtype), selected


def token_dropout_one(
    tokens: jax.Array,
    key: jax.Array,
    *,
    rate: float,
    unk_token_id: int,
    protected: Sequence[int],
    vocab_size: int | None = None,
) -> jax.Array:
    """Replace each non-protected token of one record by UNK with probability ``rate``.

    With ``vocab_size``, ids outside ``[0, vocab_size)`` are kept as they are.
    """
    drop = (uniforms(key, tokens.shape) < rate) & ~_protected(tokens, protected, vocab_size)
    return jnp.where(drop, unk_token_id, tokens).astype(tokens.dtype)


def substitute_one(
    tokens: jax.Array,
    key: jax.Array,
    *,
    rate: float,
    vocab_size: int,
    protected: Sequence[int],
    specials: Sequence[int],
) -> jax.Array:
    """Replace each non-protected token of one record by a random regular id with probability ``rate``."""
    u_pick, u_id = uniforms(key, (2, *tokens.shape))
    pick = (u_pick < rate) & ~_protected(tokens, protected, vocab_size)
    return jnp.where(pick, regular_ids(u_id, vocab_size, specials), tokens).astype(tokens.dtype)


def padding_mask_one(tokens: jax.Array, *, pad_token_id: int) -> jax.Array:
    """True where a token is not padding: ``(L,)`` bool."""
    return tokens != pad_token_id


def causal_mask_one(tokens: jax.Array, *, pad_token_id: int | None = None) -> jax.Array:
    """``(L, L)`` bool: query ``i`` may attend to key ``j <= i`` (and, with ``pad_token_id``, not to padding)."""
    n = tokens.shape[-1]
    mask = jnp.tril(jnp.ones((n, n), bool))
    if pad_token_id is not None:
        mask = mask & (tokens != pad_token_id)[None, :]
    return mask


def position_encoding_one(tokens: jax.Array, *, dim: int, max_timescale: float = 10000.0) -> jax.Array:
    """Sinusoidal encodings ``(L, dim)`` float32 of positions ``0..L-1`` (Vaswani et al. 2017).

    Column ``2i`` is ``sin(p / max_timescale**(2i / dim))`` and column ``2i + 1`` the cosine.
    """
    pos = jnp.arange(tokens.shape[-1], dtype=jnp.float32)[:, None]
    col = jnp.arange(dim)
    inv = jnp.power(jnp.float32(max_timescale), -(2 * (col // 2)).astype(jnp.float32) / dim)
    angle = pos * inv[None, :]
    return jnp.where(col % 2 == 0, jnp.sin(angle), jnp.cos(angle)).astype(jnp.float32)


# ------------------------------------------------------------------ batch kernels
def mask_tokens(
    tokens: jax.Array,
    keys: jax.Array,
    *,
    mask_prob: float = 0.15,
    mask_token_id: int = 1,
    vocab_size: int = 10000,
    protected: tuple[int, ...] = (0, 2, 3),
    specials: tuple[int, ...] = (0, 1, 2, 3),
    random_prob: float = 0.1,
    keep_prob: float = 0.1,
) -> tuple[jax.Array, jax.Array]:
    """``mask_tokens_one`` over a batch ``(B, L)`` with one key per record."""

    def one(t: jax.Array, k: jax.Array) -> tuple[jax.Array, jax.Array]:
        return mask_tokens_one(
            t,
            k,
            mask_prob=mask_prob,
            mask_token_id=mask_token_id,
            vocab_size=vocab_size,
            protected=protected,
            specials=specials,
            random_prob=random_prob,
            keep_prob=keep_prob,
        )

    return jax.vmap(one)(tokens, keys)


def token_dropout(
    tokens: jax.Array,
    keys: jax.Array,
    *,
    rate: float = 0.1,
    unk_token_id: int = 1,
    protected: tuple[int, ...] = (0, 2, 3),
    vocab_size: int | None = None,
) -> jax.Array:
    """``token_dropout_one`` over a batch ``(B, L)`` with one key per record."""
    return jax.vmap(
        lambda t, k: token_dropout_one(
            t, k, rate=rate, unk_token_id=unk_token_id, protected=protected, vocab_size=vocab_size
        )
    )(tokens, keys)


def random_substitution(
    tokens: jax.Array,
    keys: jax.Array,
    *,
    rate: float = 0.1,
    vocab_size: int = 10000,
    protected: tuple[int, ...] = (0, 2, 3),
    specials: tuple[int, ...] = (0, 1, 2, 3),
) -> jax.Array:
    """``substitute_one`` over a batch ``(B, L)`` with one key per record."""
    return jax.vmap(
        lambda t, k: substitute_one(t, k, rate=rate, vocab_size=vocab_size, protected=protected, specials=specials)
    )(tokens, keys)


def padding_mask(tokens: jax.Array, *, pad_token_id: int = 0) -> jax.Array:
    """``(B, L)`` bool, True where not padding."""
    return tokens != pad_token_id


def causal_mask(tokens: jax.Array, *, pad_token_id: int | None = None) -> jax.Array:
    """``(B, L, L)`` bool causal attention masks (optionally hiding padded keys)."""
    return jax.vmap(lambda t: causal_mask_one(t, pad_token_id=pad_token_id))(tokens)


def position_encoding(tokens: jax.Array, *, dim: int = 64, max_timescale: float = 10000.0) -> jax.Array:
    """``(B, L, dim)`` float32 sinusoidal position encodings."""
    return jax.vmap(lambda t: position_encoding_one(t, dim=dim, max_timescale=max_timescale))(tokens)
