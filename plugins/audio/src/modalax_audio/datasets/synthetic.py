"""``SyntheticAudioDataset``: sine, noise and chirp clips generated on demand."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from modalax.plugin import (
    ConfigError,
    SyntheticDataset,
    UnknownNameError,
    check_type,
    plain_scalar,
    record_keys,
    resolve_rngs,
    unknown_name_message,
)
from modalax_audio.config import AudioModalityConfig
from modalax_audio.datasets.base import AudioDataset, check_config
from modalax_audio.synthesis import AUDIO_TYPES, synthesize

__all__ = ["SyntheticAudioDataset"]

Batch = dict[str, Any]


def _generate(
    keys: jax.Array, indices: jax.Array, n_samples: int, sample_rate: int, normalize: bool, type_ids: tuple[int, ...]
) -> Batch:
    type_id = jnp.asarray(type_ids, jnp.int32)[indices % len(type_ids)]
    out = jax.vmap(lambda k, t: synthesize(k, t, n_samples, sample_rate, normalize))(keys, type_id)
    out["audio_type_id"] = type_id
    return out


@lru_cache(maxsize=32)
def _compiled_generator(n_samples: int, sample_rate: int, normalize: bool, type_ids: tuple[int, ...]) -> Any:
    """(dataset key, indices) -> records, jitted once per signal shape and shared by every dataset."""

    def generate(key: jax.Array, indices: jax.Array) -> Batch:
        return _generate(record_keys(key, indices), indices, n_samples, sample_rate, normalize, type_ids)

    return jax.jit(generate)


def _dataset_size(dataset_size: Any, n_samples: Any) -> int:
    """The size from ``dataset_size`` or its seed spelling ``n_samples`` (1000 when neither)."""
    if dataset_size is not None and n_samples is not None and plain_scalar(dataset_size) != plain_scalar(n_samples):
        raise ConfigError(
            f"SyntheticAudioDataset: got dataset_size={dataset_size!r} and n_samples={n_samples!r}; expected one "
            "of them (n_samples is the API reference's name for dataset_size)"
        )
    value = plain_scalar(dataset_size if dataset_size is not None else n_samples if n_samples is not None else 1000)
    field = "dataset_size" if dataset_size is not None or n_samples is None else "n_samples"
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"SyntheticAudioDataset.{field}: got {value!r}, expected a positive int")
    return value


class SyntheticAudioDataset(AudioDataset, SyntheticDataset):
    """Sine, noise and chirp clips generated on demand (the documented signature).

    ``SyntheticAudioDataset(config=None, dataset_size=1000, audio_types=None, name=...,
    split="train", *, seed= or rngs=)``: the size is ``dataset_size``, the name every generated
    dataset of modalax uses; the API reference's ``n_samples=`` is the same argument (give one of them).
    Record ``i`` has type ``audio_types[i % len(audio_types)]`` (so types are balanced) and
    is a pure function of (seed, split, i): nothing is stored, every process sees the same
    record, and splits never share one.  Records hold ``audio`` (float32,
    ``(n_time_steps,)``), ``audio_type_id`` (index into ``("sine", "noise", "chirp")``),
    ``freq_start`` and ``freq_end`` (Hz); ``host_records`` adds the ``audio_type`` name(s) and
    the ``sample_rate``, which ``self[i]``, ``get_batch``, iteration and loader batches carry.
    """

    def __init__(
        self,
        config: AudioModalityConfig | None = None,
        dataset_size: int | None = None,
        audio_types: Sequence[str] | None = None,
        name: str = "SyntheticAudioDataset",
        split: str = "train",
        *,
        n_samples: int | None = None,
        seed: int | None = None,
        rngs: nnx.Rngs | int | None = None,
    ) -> None:
        config = check_config(config, "SyntheticAudioDataset")
        size = _dataset_size(dataset_size, n_samples)
        types = tuple(AUDIO_TYPES if audio_types is None else audio_types)
        if isinstance(audio_types, str) or not types:
            raise ConfigError(
                f"SyntheticAudioDataset.audio_types: got {audio_types!r}, expected a non-empty list from {AUDIO_TYPES}"
            )
        for t in types:
            if t not in AUDIO_TYPES:
                raise UnknownNameError(
                    "SyntheticAudioDataset.audio_types: " + unknown_name_message("audio type", t, AUDIO_TYPES)
                )
        check_type("SyntheticAudioDataset", "name", name, str, "a str")
        self.audio_types = types
        self._type_ids = tuple(AUDIO_TYPES.index(t) for t in types)
        self.name = name
        SyntheticDataset.__init__(self, config, size, split, rngs=resolve_rngs(f"{name}.rngs", rngs, seed))

    @property
    def n_samples(self) -> int:
        """Number of records (the API reference's name for ``len``)."""
        return self.dataset_size

    def generate_records(self, keys: jax.Array, indices: jax.Array) -> Batch:
        cfg = self.config
        return _generate(keys, indices, cfg.n_time_steps, cfg.sample_rate, cfg.normalize, self._type_ids)

    def get_records(self, indices: Any) -> Batch:
        # One compiled generator per signal shape, shared by every dataset (and split) using it;
        # looked up per call (an lru_cache hit), not stored: a jitted closure does not pickle.
        cfg = self.config
        compiled = _compiled_generator(cfg.n_time_steps, cfg.sample_rate, cfg.normalize, self._type_ids)
        return compiled(self._key, jnp.asarray(self.checked_indices(indices), dtype=jnp.int32))

    def type_names(self, indices: Any) -> list[str]:
        """The ``audio_type`` names of records ``indices`` (host-side, no device work)."""
        idx = np.asarray(indices).reshape(-1) % len(self.audio_types)
        return [self.audio_types[int(i)] for i in idx]

    def host_records(self, indices: Any) -> dict[str, Any]:
        return {"audio_type": self.type_names(indices), "sample_rate": self.sample_rate}
