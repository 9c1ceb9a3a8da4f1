"""Every modality of this plugin is reached here: through the registry and the pairing protocol.

``get_pairing(name, options)`` is ``modalax.plugin.pairing_of`` with two additions: pairings
are built once per (name, options) in a process, so equal configs share one object (and
every jitted function that takes it as a static argument compiles once), and a bad option is
a ``ConfigError`` that names the modality and options as well as the pairing's own message.
``world_of`` draws (and caches) a modality's rendering world from the render seed and the
modality's name.  Nothing here knows any modality by name.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

from modalax.plugin import ConfigError, DataError, ModalityPairing, get_modality, pairing_of

__all__ = ["find_key", "get_pairing", "modality_id", "modality_inputs", "world_of"]


def modality_id(name: str) -> int:
    """A stable 31-bit id of a modality name (CRC-32, the same in every process, unlike ``hash``)."""
    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):  # tagged: a mapping never keys the same entry as a list of pairs
        return (Mapping, tuple(sorted((str(k), _freeze(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


#: Pairings built so far, by (name, modality class, frozen options); bounded (a process sees few configs).
_PAIRINGS: dict[tuple[str, type, Any], ModalityPairing] = {}
_MAX_PAIRINGS = 256


def get_pairing(name: str, options: Mapping[str, Any] | None = None, *, owner: str = "multimodal") -> ModalityPairing:
    """The pairing of registered modality ``name`` with ``options`` (one object per name and options).

    ``ConfigError`` naming ``owner``, the modality and the options when the pairing rejects
    them; ``UnknownNameError`` for an unregistered name and ``PluginError`` (both from
    ``pairing_of``) when the modality has no pairing.
    """
    opts = dict(options or {})
    key: tuple[str, type, Any] | None = (name, get_modality(name), _freeze(opts))
    try:
        hash(key)
    except TypeError:  # an option value that does not hash: build a fresh pairing each time
        key = None
    if key is not None and key in _PAIRINGS:
        return _PAIRINGS[key]
    try:
        pairing = pairing_of(name, opts)
    except ConfigError as exc:
        if type(exc) is not ConfigError:  # UnknownNameError keeps its type and text
            raise
        raise ConfigError(f"{owner}: modality {name!r} with options {opts}: {exc}") from exc
    if key is not None and len(_PAIRINGS) < _MAX_PAIRINGS:
        _PAIRINGS[key] = pairing
    return pairing


@functools.lru_cache(maxsize=32)
def _world(name: str, pairing: ModalityPairing, render_seed: int, latent_dim: int) -> Any:
    import jax

    from modalax.plugin import seed_key

    key = jax.random.fold_in(seed_key(render_seed % 2**64), modality_id(name))
    return pairing.make_world(key, latent_dim)


def world_of(
    name: str, pairing: ModalityPairing, render_seed: int, latent_dim: int, *, owner: str = "multimodal"
) -> Any:
    """The rendering world of modality ``name``: ``make_world(fold_in(key(render_seed), id(name)), latent_dim)``.

    The same seed gives the same world for a modality whatever the other modalities are.
    """
    try:
        return _world(name, pairing, int(render_seed), int(latent_dim))
    except ConfigError as exc:
        if type(exc) is not ConfigError:
            raise
        raise ConfigError(
            f"{owner}: modality {name!r} with options {pairing.options()}, latent_dim={latent_dim}: {exc}"
        ) from exc


def find_key(batch: Mapping[str, Any], batch_keys: Sequence[str]) -> str | None:
    """The first of ``batch_keys`` (a pairing's, ``field`` first) that ``batch`` holds, or None."""
    return next((k for k in batch_keys if k in batch), None)


def modality_inputs(
    batch: Mapping[str, Any], batch_keys: Mapping[str, Sequence[str]], *, required: Sequence[str] | None = None
) -> dict[str, Any]:
    """``{modality: batch[key]}`` for each modality of ``batch_keys`` (``{modality: keys}``) found in ``batch``.

    Every modality of ``required`` must be there (``DataError`` naming it and the keys expected).
    """
    out: dict[str, Any] = {}
    for name, keys in batch_keys.items():
        key = find_key(batch, keys)
        if key is None:
            if required is not None and name in required:
                raise DataError(f"batch has no {name!r} data: keys {sorted(batch)}, expected one of {list(keys)}")
            continue
        out[name] = batch[key]
    return out
