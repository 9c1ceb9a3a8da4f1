"""``ModalityDropout``: drop whole modalities of a sample during training, with a presence mask.

A model trained on samples that sometimes lack a modality learns to use the others, and at
test time copes with a missing microphone or caption.  The operator runs per record, from the
key the loader gives each record (folded from seed, epoch and record index), so the drops do
not depend on batch size, sharding or the resume point, and change from epoch to epoch.

Each modality ``m`` is dropped with probability ``p_m``: its fields are replaced by a fill
value (0 by default: black pixels, padding tokens, silence) and its entry of the presence
mask ``modality_mask`` (``bool (n_modalities,)``, in the order of ``modalities``) is False.
With ``min_present=1`` (the default) a sample whose draw drops every modality keeps one,
chosen uniformly among those drawn for dropping; the drop rate of modality ``m`` is then
``p_m - prod(p) / M``.  With ``min_present=0`` each rate is exactly ``p_m``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from modalax.plugin import (
    ConfigError,
    DataError,
    MissingFieldError,
    OperatorConfig,
    OperatorModule,
    PluginError,
    check_positive,
    check_probability,
    check_type,
    get_path,
    set_path,
)
from modalax_multimodal.config import DEFAULT_MODALITIES
from modalax_multimodal.pairings import get_pairing

__all__ = ["ModalityDropout", "ModalityDropoutConfig", "expected_drop_rates"]

_OWNER = "ModalityDropoutConfig"


def _per_modality(name: str, value: Any, modalities: tuple[str, ...], check: Any) -> tuple[Any, ...]:
    """One value per modality from a scalar or a ``{modality: value}`` mapping (every modality named)."""
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(modalities))
        missing = [m for m in modalities if m not in value]
        if unknown or missing:
            raise ConfigError(
                f"{_OWNER}.{name}: got keys {sorted(value)}, expected exactly the modalities {list(modalities)}"
                + (f" (unknown {unknown})" if unknown else "")
                + (f" (missing {missing})" if missing else "")
            )
        return tuple(check(f"{name}[{m!r}]", value[m]) for m in modalities)
    return tuple(check(name, value) for _ in modalities)


@dataclass(frozen=True, eq=False)
class ModalityDropoutConfig(OperatorConfig):
    """Settings of ``ModalityDropout``.

    ``probability``: drop probability, one number for every modality or ``{modality: p}``.
    ``modalities``: any registered modalities (default image, text, audio).
    ``fields``: ``{modality: [field, ...]}`` to blank; by default the modality's batch keys
    (its pairing's ``batch_keys``: ``image``/``images``, ``text``/``text_tokens``, ``audio``)
    that the data has.
    ``fill``: value written into dropped fields (one number or ``{modality: value}``).
    ``min_present``: a sample keeps at least this many of the modalities it has (0 allows none).
    ``mask_key``: where the presence mask goes (None: not written); an existing mask there
    (a sample that already lacks a modality) is respected and narrowed.  ``present_keys``
    also writes one ``<modality>_present`` bool per modality.
    """

    modalities: tuple[str, ...] = DEFAULT_MODALITIES
    probability: float | Mapping[str, float] = 0.1
    fields: Mapping[str, Sequence[str]] | None = None
    fill: float | Mapping[str, float] = 0.0
    min_present: int = 1
    mask_key: str | None = "modality_mask"
    present_keys: bool = False
    stochastic: bool = True
    stream_name: str | None = field(default="augment")

    def __post_init__(self) -> None:
        super().__post_init__()
        mods = self.modalities
        if isinstance(mods, str) or not isinstance(mods, Sequence) or not mods:
            raise ConfigError(f"{_OWNER}.modalities: got {mods!r}, expected a non-empty list of modality names")
        if any(not isinstance(m, str) or not m for m in mods) or len(set(mods)) != len(mods):
            raise ConfigError(f"{_OWNER}.modalities: got {list(mods)}, expected distinct non-empty names")
        mods = tuple(mods)
        object.__setattr__(self, "modalities", mods)
        fields_ = {} if self.fields is None else self.fields
        if not isinstance(fields_, Mapping):
            raise ConfigError(f"{_OWNER}.fields: got {fields_!r}, expected {{modality: [field, ...]}} or None")
        for m, keys in fields_.items():
            if m not in mods:
                raise ConfigError(f"{_OWNER}.fields: got modality {m!r}, expected one of {list(mods)}")
            if isinstance(keys, str) or not isinstance(keys, Sequence) or not keys:
                raise ConfigError(f"{_OWNER}.fields[{m!r}]: got {keys!r}, expected a non-empty list of field keys")
        defaults: dict[str, tuple[str, ...]] = {}
        for m in mods:
            if m in fields_:
                continue
            try:
                defaults[m] = tuple(get_pairing(m, owner=_OWNER).batch_keys)
            except (ConfigError, PluginError) as exc:
                raise ConfigError(
                    f"{_OWNER}.fields: modality {m!r} has no default batch keys ({exc}); "
                    f"expected fields={{{m!r}: [...]}}"
                ) from exc
        object.__setattr__(self, "_default_keys", defaults)
        object.__setattr__(self, "fields", {m: tuple(k) for m, k in fields_.items()} or None)
        probs = _per_modality(
            "probability", self.probability, mods, lambda n, v: float(check_probability(_OWNER, n, v))
        )
        fills = _per_modality(
            "fill", self.fill, mods, lambda n, v: float(check_type(_OWNER, n, v, (int, float), "a number"))
        )
        object.__setattr__(self, "probability", dict(zip(mods, probs, strict=True)))
        object.__setattr__(self, "fill", dict(zip(mods, fills, strict=True)))
        check_positive(_OWNER, "min_present", self.min_present, allow_zero=True)
        if self.min_present > len(mods):
            raise ConfigError(
                f"{_OWNER}.min_present: got {self.min_present}, "
                f"expected at most the {len(mods)} modalities {list(mods)}"
            )
        if self.mask_key is not None and (not isinstance(self.mask_key, str) or not self.mask_key):
            raise ConfigError(f"{_OWNER}.mask_key: got {self.mask_key!r}, expected a field name or None")
        check_type(_OWNER, "present_keys", self.present_keys, bool, "a bool")

    @property
    def default_keys(self) -> dict[str, tuple[str, ...]]:
        """``{modality: batch keys}`` of the modalities without ``fields`` (from their pairings)."""
        return dict(self.__dict__["_default_keys"])

    @property
    def probabilities(self) -> np.ndarray:
        """Drop probabilities in the order of ``modalities``."""
        return np.asarray([self.probability[m] for m in self.modalities], np.float32)  # type: ignore[index]


def expected_drop_rates(config: ModalityDropoutConfig) -> dict[str, float]:
    """The long-run fraction of records (having every modality) in which each modality is dropped.

    ``p_m`` with ``min_present=0``; less with ``min_present >= 1``, because the drops that would
    leave fewer modalities are partly undone (``p_m - prod(p) / M`` for ``min_present=1``).
    """
    p = config.probabilities.astype(np.float64)
    restored = _restore_share(p, config.min_present)
    return {name: float(p[i] - restored[i]) for i, name in enumerate(config.modalities)}


def _restore_share(p: np.ndarray, min_present: int) -> np.ndarray:
    """P(modality i drawn for dropping and then restored), by enumerating the 2^M drop patterns."""
    m = len(p)
    out = np.zeros(m)
    for pattern in range(2**m):
        drop = np.array([(pattern >> i) & 1 for i in range(m)], bool)
        prob = float(np.prod(np.where(drop, p, 1 - p)))
        deficit = min_present - int(np.sum(~drop))
        if deficit > 0:
            # restored ones are a uniform random subset of size ``deficit`` of the dropped
            out += np.where(drop, prob * deficit / int(np.sum(drop)), 0.0)
    return out


class ModalityDropout(OperatorModule):
    """Drop whole modalities per sample and write the presence mask (see the module docstring).

    With ``stochastic=False`` nothing is dropped and the mask is all True (or the existing
    mask): the evaluation path, so the batch has the same structure in training and evaluation.
    """

    config: ModalityDropoutConfig

    def __init__(self, config: ModalityDropoutConfig, *, rngs: nnx.Rngs | None = None, name: str | None = None) -> None:
        if not isinstance(config, ModalityDropoutConfig):
            raise ConfigError(f"ModalityDropout.config: got {type(config).__name__}, expected a ModalityDropoutConfig")
        super().__init__(config, rngs=rngs, name=name)
        self._probs = config.probabilities
        self._fills = tuple(config.fill[m] for m in config.modalities)  # type: ignore[index]

    def fields_of(self, data: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
        """``{modality: fields}`` this operator blanks in ``data`` (a record or a batch)."""
        c = self.config
        out: dict[str, tuple[str, ...]] = {}
        for m in c.modalities:
            if c.fields is not None and m in c.fields:
                for key in c.fields[m]:
                    try:
                        get_path(data, key)
                    except MissingFieldError:
                        raise MissingFieldError(
                            f"{self.name}: the data has no field {key!r} of modality {m!r}; "
                            f"fields present: {sorted(data)}"
                        ) from None
                out[m] = tuple(c.fields[m])
                continue
            keys = c.default_keys[m]
            found = tuple(k for k in keys if k in data)
            if not found:
                raise MissingFieldError(
                    f"{self.name}: the data has no field of modality {m!r} (expected one of {list(keys)}); "
                    f"fields present: {sorted(data)}; set modalities= to the ones the data has"
                )
            out[m] = found
        return out

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> jax.Array:
        """``(B, 2, M)`` uniforms: row 0 decides the drops, row 1 which drops are undone for ``min_present``."""
        n = int(jax.tree.leaves(data_shapes, is_leaf=lambda s: isinstance(s, tuple))[0][0])
        return jax.random.uniform(rng, (n, 2, len(self.config.modalities)))

    def presence(self, random_params: Any, present: jax.Array) -> jax.Array:
        """Which modalities one sample keeps, from its uniforms and the modalities it has."""
        if random_params is None:
            return present
        u, priority = random_params[0], random_params[1]
        drop = present & (u < jnp.asarray(self._probs))
        kept = present & ~drop
        need = jnp.minimum(self.config.min_present, jnp.sum(present)) - jnp.sum(kept)
        # rank of each dropped modality by priority among the dropped: the top ``need`` come back
        rank = jnp.sum(drop[None, :] & (priority[None, :] > priority[:, None]), axis=-1)
        return kept | (drop & (rank < need))

    def apply(
        self,
        data: Any,
        state: Any,
        metadata: dict[str, Any] | None,
        random_params: Any = None,
        stats: dict[str, Any] | None = None,
    ) -> tuple[Any, Any, dict[str, Any] | None]:
        """Blank the dropped modalities of one record and write its presence mask."""
        if not isinstance(data, Mapping):
            raise DataError(f"{self.name}: got {type(data).__name__}, expected a dict record")
        c = self.config
        n = len(c.modalities)
        present = jnp.ones((n,), bool)
        if c.mask_key is not None and c.mask_key in data:
            present = jnp.asarray(data[c.mask_key])
            if present.shape != (n,):
                raise DataError(
                    f"{self.name}: field {c.mask_key!r} has per-record shape {tuple(present.shape)}, "
                    f"expected ({n},) (one flag per modality {list(c.modalities)})"
                )
            present = present.astype(bool)
        keep = self.presence(random_params, present)
        out: Any = dict(data)
        for i, (m, keys) in enumerate(self.fields_of(data).items()):
            for key in keys:
                x = jnp.asarray(get_path(data, key))
                fill = self._fills[i]
                if jnp.issubdtype(x.dtype, jnp.integer) and fill != int(fill):
                    raise DataError(
                        f"{self.name}: fill {fill!r} of modality {m!r} does not fit the integer field {key!r} "
                        f"({x.dtype}); expected an integer fill"
                    )
                out = set_path(out, key, jnp.where(keep[i], x, jnp.asarray(fill, x.dtype)))
        if c.mask_key is not None:
            out[c.mask_key] = keep
        if c.present_keys:
            for i, m in enumerate(c.modalities):
                out[f"{m}_present"] = keep[i]
        return out, state, metadata
