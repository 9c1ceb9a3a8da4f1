"""Explicit, process-independent keys for datasets and loaders.

Everything random in modalax is a pure function of an integer seed and stable integers
(split id, epoch, record index), so every process sees the same sample ``i``.
"""

from __future__ import annotations

import sys
import zlib
from typing import TYPE_CHECKING, Any

from modalax._src.errors import ConfigError

if TYPE_CHECKING:
    import jax
    from flax import nnx

__all__ = ["check_seed", "dataset_key", "record_keys", "resolve_rngs", "seed_from", "seed_key", "split_id"]

_SEED_LIMIT = 2**64

_SPLITS = {"train": 0, "val": 1, "validation": 1, "test": 2}


def split_id(split: str) -> int:
    """A stable integer for a split name (train 0, val 1, test 2, others by CRC32)."""
    if not isinstance(split, str) or not split:
        raise ConfigError(f"split: got {split!r}, expected a non-empty string such as 'train', 'val', 'test'")
    return _SPLITS.get(split, 3 + zlib.crc32(split.encode()) % (2**30))


def _is_numpy_integer(value: Any) -> bool:
    np = sys.modules.get("numpy")  # a numpy scalar implies numpy is imported already
    return np is not None and isinstance(value, np.integer)


def check_seed(owner: str, value: Any) -> int:
    """``value`` as a Python int seed in ``[0, 2**64)``; ``ConfigError`` naming ``owner`` otherwise.

    numpy integers are accepted; bools, floats and strings are not (``True`` is no seed).
    """
    if isinstance(value, bool) or not (isinstance(value, int) or _is_numpy_integer(value)):
        raise ConfigError(f"{owner}: got {value!r} ({type(value).__name__}), expected an integer seed in [0, 2**64)")
    seed = int(value)
    if not 0 <= seed < _SEED_LIMIT:
        raise ConfigError(f"{owner}: got {seed}, expected an integer seed in [0, 2**64)")
    return seed


def resolve_rngs(owner: str, rngs: Any = None, seed: Any = None) -> nnx.Rngs:
    """The ``nnx.Rngs`` of a dataset or loader from ``rngs`` (an ``nnx.Rngs`` or an int seed) or ``seed``.

    Neither gives seed 0; both is a ``ConfigError`` (which one was meant cannot be told). Anything
    else is a ``ConfigError`` naming ``owner`` (``"MyDataset.rngs"``), the value and what was expected.
    """
    from flax import nnx

    if rngs is not None and seed is not None:
        raise ConfigError(f"{owner}: got both rngs and seed={seed!r}; expected at most one of them")
    if isinstance(rngs, nnx.Rngs):
        return rngs
    if rngs is not None:
        if isinstance(rngs, bool) or not (isinstance(rngs, int) or _is_numpy_integer(rngs)):
            raise ConfigError(
                f"{owner}: got {rngs!r} ({type(rngs).__name__}), expected nnx.Rngs, an integer seed or None"
            )
        return nnx.Rngs(seed_key(check_seed(owner, rngs)))
    return nnx.Rngs(seed_key(check_seed(owner, 0 if seed is None else seed)))


def seed_key(seed: int) -> jax.Array:
    """The PRNG key of a seed in ``[0, 2**64)``, all 64 bits significant.

    ``jax.random.key`` keeps only the low 32 bits unless x64 is enabled (seed ``2**32`` would
    equal seed 0).  Seeds below ``2**32`` get exactly ``jax.random.key(seed)``; larger ones
    fold the high 32 bits into the key of the low ones (the loader's definition, kept as is).
    """
    import jax
    import numpy as np

    seed = check_seed("seed", seed)
    key = jax.random.key(np.uint32(seed & 0xFFFFFFFF))
    return key if seed < 2**32 else jax.random.fold_in(key, np.uint32(seed >> 32))


def seed_from(rngs_or_seed: Any, stream: str = "default") -> jax.Array:
    """A base key from an int seed, a key, or an ``nnx.Rngs`` (read without advancing it).

    Reading the stream's root key instead of drawing from it keeps datasets built from one
    shared ``Rngs`` independent of construction order.
    """
    import jax

    if isinstance(rngs_or_seed, bool):
        raise ConfigError(f"seed: got {rngs_or_seed!r}, expected an int, a PRNG key or nnx.Rngs")
    if isinstance(rngs_or_seed, int) or _is_numpy_integer(rngs_or_seed):
        return seed_key(rngs_or_seed)
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
