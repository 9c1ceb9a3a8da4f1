"""Explicit, process-independent keys for datasets and loaders.

Everything random in modalax is a pure function of an integer seed and stable integers
(split id, epoch, record index), so every process sees the same sample ``i``.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from modalax.errors import ConfigError

if TYPE_CHECKING:
    import jax

_SPLITS = {"train": 0, "val": 1, "validation": 1, "test": 2}


def split_id(split: str) -> int:
    """A stable integer for a split name (train 0, val 1, test 2, others by CRC32)."""
    if not isinstance(split, str) or not split:
        raise ConfigError(f"split: got {split!r}, expected a non-empty string such as 'train', 'val', 'test'")
    return _SPLITS.get(split, 3 + zlib.crc32(split.encode()) % (2**30))


def seed_from(rngs_or_seed: Any, stream: str = "default") -> jax.Array:
    """A base key from an int seed, a key, or an ``nnx.Rngs`` (read without advancing it).

    Reading the stream's root key instead of drawing from it keeps datasets built from one
    shared ``Rngs`` independent of construction order.
    """
    import jax

    if isinstance(rngs_or_seed, bool):
        raise ConfigError(f"seed: got {rngs_or_seed!r}, expected an int, a PRNG key or nnx.Rngs")
    if isinstance(rngs_or_seed, int):
        return jax.random.key(rngs_or_seed)
    if isinstance(rngs_or_seed, jax.Array):
        if jax.dtypes.issubdtype(rngs_or_seed.dtype, jax.dtypes.prng_key):
            return rngs_or_seed
        return jax.random.wrap_key_data(rngs_or_seed)
    from flax import nnx

    if isinstance(rngs_or_seed, nnx.Rngs):
        name = stream if stream in rngs_or_seed else "default"
        if name not in rngs_or_seed:
            raise ConfigError(f"rngs: has no stream {stream!r} nor 'default'")
        return getattr(rngs_or_seed, name).key[...]
    raise ConfigError(f"seed: got {type(rngs_or_seed).__name__}, expected an int, a PRNG key or nnx.Rngs")


def dataset_key(rngs_or_seed: Any, split: str, salt: str = "") -> jax.Array:
    """The key of a dataset: base seed folded with the split id (and an optional salt)."""
    import jax

    key = jax.random.fold_in(seed_from(rngs_or_seed), split_id(split))
    if salt:
        key = jax.random.fold_in(key, zlib.crc32(salt.encode()) % (2**31))
    return key


def record_keys(base_key: jax.Array, indices: jax.Array) -> jax.Array:
    """One key per record index: ``fold_in(base_key, i)``, vectorised."""
    import jax

    return jax.vmap(lambda i: jax.random.fold_in(base_key, i))(indices)
