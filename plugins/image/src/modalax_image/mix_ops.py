"""MixUp and CutMix as batch operators: they mix the records of one batch, so they see it whole.

A per-element operator maps ``apply`` over the batch; these override ``batched(batch, keys,
stats)``, the traceable batch transform that ``apply_batch``, ``Compose`` and the loader's
jitted step call, so they run in the same jitted program as the per-element operators around
them. The randomness is per record, as everywhere: record ``i`` draws its ``lam ~ Beta(alpha,
alpha)``, its two partner sort keys and (CutMix) its box centre from its own key, so a batch's
mixing is a pure function of its records' keys (the loader derives them from seed, epoch and
record index). ``mode="batch"`` (default, as in the papers) gives every record the weight (and
CutMix box) of one randomly chosen valid record; ``mode="record"`` gives each its own.

The validity mask: a boolean ``(N,)`` field under ``mask_key`` (default ``"mask"``, the
loader's name) marks the records that may be mixed; the others (the padding of a last batch,
files skipped as bad) are nobody's partner and are left as they are. Without the field every
record is valid. The loader adds its mask only after the operators have run (until core
passes it in, see docs/modalities/image.md), so use ``drop_last=True`` with these operators
when a last partial batch or skipped files are possible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from modalax.plugin import ConfigError, DataError, MissingFieldError, check_choice, get_path, set_path
from modalax_image import mix_kernels as mk
from modalax_image.operator_base import ImageOperator, check_image_rank, lookup
from modalax_image.operator_configs import ImageOperatorConfig

__all__ = ["CutMixConfig", "CutMixOperator", "MixConfig", "MixUpConfig", "MixUpOperator"]

MODES = ("batch", "record")


@dataclass(frozen=True, eq=False)
class MixConfig(ImageOperatorConfig):
    """Settings of MixUp and CutMix (always stochastic, stream ``"augment"``).

    ``alpha > 0``: ``lam ~ Beta(alpha, alpha)`` (1.0: uniform, torchvision's default).
    ``mode``: ``"batch"`` (one weight per batch, the papers') or ``"record"``.  ``label_key``:
    the labels to mix (None: images only); integer labels ``(N,)`` need ``num_classes`` and
    become soft one-hot ``(N, num_classes)`` float32, float labels ``(N, K)`` are mixed as they
    are; the result goes to ``label_target_key`` (default: ``label_key``).  ``mask_key``: the
    boolean validity field (None: every record is valid).
    """

    stochastic: bool = True
    stream_name: str | None = "augment"
    alpha: float = 1.0
    mode: str = "batch"
    label_key: str | None = "labels"
    num_classes: int | None = None
    label_target_key: str | None = None
    mask_key: str | None = "mask"

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        if not self.stochastic:
            raise ConfigError(f"{owner}.stochastic: got False, expected True (mixing needs randomness)")
        a = self.alpha
        if isinstance(a, bool) or not isinstance(a, int | float) or not (math.isfinite(a) and a > 0):
            raise ConfigError(f"{owner}.alpha: got {a!r}, expected a finite number > 0 (lam ~ Beta(alpha, alpha))")
        object.__setattr__(self, "alpha", float(a))
        check_choice(owner, "mode", self.mode, MODES)
        k = self.num_classes
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
            raise ConfigError(f"{owner}.num_classes: got {k!r}, expected a positive int or None")
        for name in ("label_key", "label_target_key", "mask_key"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigError(f"{owner}.{name}: got {value!r}, expected a field name or None")
        if self.label_key is None and (self.num_classes is not None or self.label_target_key is not None):
            raise ConfigError(f"{owner}: got num_classes/label_target_key with label_key=None; expected a label_key")
        if self.mask_key is not None and self.mask_key == self.field_key:
            raise ConfigError(f"{owner}.mask_key: got {self.mask_key!r}, the image field; expected another field")


@dataclass(frozen=True, eq=False)
class MixUpConfig(MixConfig):
    """MixUp: ``x = lam * x_i + (1 - lam) * x_partner``; labels alike (see ``MixConfig``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.auxiliary_fields:
            raise ConfigError(
                f"MixUpConfig.auxiliary_fields: got {list(self.auxiliary_fields)}, expected none "
                "(a blend of two label maps is no label map; CutMix pastes masks with their box)"
            )


@dataclass(frozen=True, eq=False)
class CutMixConfig(MixConfig):
    """CutMix: a box of area ``(1 - lam) H W`` from the partner; ``auxiliary_fields`` (masks) pasted alike."""


class MixOperator(ImageOperator):
    """Base of the batch mixing operators: validity, partners, labels, output structure."""

    config: MixConfig
    #: Reads the batch's validity mask (``config.mask_key``); the loader should pass it in.
    reads_mask: ClassVar[bool] = True

    # ------------------------------------------------------------ to override
    def mix_images(self, x: jax.Array, params: dict[str, jax.Array]) -> jax.Array:
        """The mixed image field."""
        raise NotImplementedError

    def record_draws(self, key: jax.Array) -> dict[str, jax.Array]:
        """One record's draws: ``lam``, the partner sort keys and anything the subclass needs."""
        k_lam, k_a, k_b = jax.random.split(key, 3)
        return {
            "lam": jax.random.beta(k_lam, self.config.alpha, self.config.alpha),
            "bits_a": jax.random.bits(k_a, (), jnp.uint32),
            "bits_b": jax.random.bits(k_b, (), jnp.uint32),
        }

    def finish_params(self, draws: dict[str, jax.Array], height: int, width: int) -> dict[str, jax.Array]:
        """Turn the (mode-resolved) draws into the kernel's parameters; ``lam`` is the label weight."""
        return {"lam": draws["lam"]}

    # ---------------------------------------------------------------- public
    def mix_params(self, keys: jax.Array, valid: Any, height: int, width: int) -> dict[str, jax.Array]:
        """The parameters of a batch: ``partners`` (N,), ``lam`` (N,: the label weight, 1 for invalid
        records), ``drawn`` (N,: the Beta draw each record uses) and, for CutMix, ``centre`` (N, 2:
        the uniforms of the box centre) and ``boxes`` (N, 4)."""
        valid = jnp.asarray(valid, bool)
        draws = jax.vmap(self.record_draws)(keys)
        partners, order = mk.draw_partners(valid, draws["bits_a"], draws["bits_b"])
        del draws["bits_a"], draws["bits_b"]
        if self.config.mode == "batch":  # every record takes the draws of the first in random order
            draws = {k: jnp.broadcast_to(v[order[0]], v.shape) for k, v in draws.items()}
        params = self.finish_params(draws, height, width)
        params["lam"] = jnp.where(valid, params["lam"], 1.0)
        return {**draws, **params, "partners": partners, "drawn": draws["lam"]}

    def apply(
        self,
        data: Any,
        state: Any,
        metadata: dict[str, Any] | None,
        random_params: Any = None,
        stats: dict[str, Any] | None = None,
    ) -> tuple[Any, Any, dict[str, Any] | None]:
        raise ConfigError(
            f"{self.name} mixes the records of a batch and has no per-element apply; call apply_batch, "
            "or put it in a Compose or the loader's operators"
        )

    def batched(self, batch: Any, keys: jax.Array | None, stats: dict[str, Any] | None) -> Any:
        c = self.config
        check_image_rank(self.name, batch, c.field_key)
        if keys is None:
            raise ConfigError(f"{self.name}: mixing needs per-record keys, got keys=None")
        x = lookup(batch, c.field_key, self.name)
        n, h, w, _ = x.shape
        params = self.mix_params(keys, self._valid(batch, n), h, w)
        out = set_path(batch, c.target_key or c.field_key, self._apply_clip_range(self.mix_images(x, params)))
        for aux in c.auxiliary_fields or ():
            out = set_path(out, aux, self._mix_mask(lookup(batch, aux, self.name), aux, params, (h, w)))
        if c.label_key is not None:
            labels = self._labels(batch)
            mixed = mk.mix_labels(labels, params["partners"], params["lam"], c.num_classes)
            out = set_path(out, c.label_target_key or c.label_key, mixed)
        return out

    def _mix_mask(self, m: jax.Array, key: str, params: dict[str, jax.Array], hw: tuple[int, int]) -> jax.Array:
        if m.ndim not in (3, 4) or tuple(m.shape[1:3]) != hw:
            raise DataError(
                f"{self.name}: auxiliary field {key!r} has shape {tuple(m.shape)}, expected (N, {hw[0]}, {hw[1]}) "
                f"or (N, {hw[0]}, {hw[1]}, K) like the images"
            )
        out = mk.cutmix(m if m.ndim == 4 else m[..., None], params["partners"], params["boxes"])
        return out if m.ndim == 4 else out[..., 0]

    def _valid(self, batch: Any, n: int) -> jax.Array:
        key = self.config.mask_key
        if key is None or not _has_path(batch, key):
            return jnp.ones((n,), bool)
        m = get_path(batch, key)
        if tuple(jnp.shape(m)) != (n,):
            raise DataError(
                f"{self.name}: field {key!r} has shape {tuple(jnp.shape(m))}, expected ({n},) booleans marking the "
                "valid records; set mask_key to the validity field's name, or None if the batch has none"
            )
        return jnp.asarray(m).astype(bool)

    def _labels(self, batch: Any) -> jax.Array:
        key = self.config.label_key
        assert key is not None  # checked by the caller
        if not _has_path(batch, key):
            have = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
            raise MissingFieldError(
                f"{self.name}: the batch has no label field {key!r} (fields present: {have}); "
                "pass label_key=None to mix the images only"
            )
        return get_path(batch, key)

    def apply_batch(
        self,
        batch: dict[str, Any],
        stats: dict[str, Any] | None = None,
        *,
        rng: jax.Array | None = None,
        keys: jax.Array | None = None,
    ) -> dict[str, Any]:
        """Mix a batch (see the module); concrete integer labels outside ``[0, num_classes)`` are a ``DataError``."""
        c = self.config
        if isinstance(batch, dict) and c.label_key is not None and _has_path(batch, c.label_key):
            labels = get_path(batch, c.label_key)
            concrete = not isinstance(labels, jax.core.Tracer)
            if concrete and np.ndim(labels) == 1 and np.issubdtype(np.asarray(labels).dtype, np.integer):
                values = np.asarray(labels)
                k = c.num_classes
                if k is not None and values.size and (values.min() < 0 or values.max() >= k):
                    raise DataError(
                        f"{self.name}: field {c.label_key!r} holds labels in [{values.min()}, {values.max()}], "
                        f"expected class indices in [0, {k}) for num_classes={k}"
                    )
        return super().apply_batch(batch, stats, rng=rng, keys=keys)

    # ------------------------------------------------------------ structure
    def output_spec(self, input_spec: Any) -> Any:
        """The output element structure: images (float32 for MixUp), labels ``(num_classes,)`` float32."""
        c = self.config
        image = lookup(input_spec, c.field_key, self.name)
        out = set_path(input_spec, c.target_key or c.field_key, self.image_spec(image))
        if c.label_key is not None:
            label = lookup(input_spec, c.label_key, self.name)
            k = c.num_classes if len(label.shape) == 0 else label.shape[-1]
            if k is None:
                raise ConfigError(f"{self.name}.num_classes: got None for integer labels, expected the class count")
            out = set_path(out, c.label_target_key or c.label_key, jax.ShapeDtypeStruct((k,), jnp.float32))
        return out

    def image_spec(self, image: Any) -> jax.ShapeDtypeStruct:
        """The mixed image element's spec."""
        return jax.ShapeDtypeStruct(tuple(image.shape), image.dtype)

    def get_output_structure(self, sample_data: Any, sample_state: Any) -> tuple[Any, Any]:
        spec = jax.tree.map(lambda a: jax.ShapeDtypeStruct(np.shape(a), jnp.asarray(a).dtype), sample_data)
        return jax.tree.map(lambda _: None, self.output_spec(spec)), sample_state


def _has_path(data: Any, key: str) -> bool:
    node = data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


class MixUpOperator(MixOperator):
    """MixUp (``image.mixup``): images become float32 on the [0, 1] scale."""

    config: MixUpConfig

    def mix_images(self, x: jax.Array, params: dict[str, jax.Array]) -> jax.Array:
        return mk.mixup(x, params["partners"], params["lam"])

    def image_spec(self, image: Any) -> jax.ShapeDtypeStruct:
        return jax.ShapeDtypeStruct(tuple(image.shape), jnp.float32)


class CutMixOperator(MixOperator):
    """CutMix (``image.cutmix``): keeps the dtype; ``lam`` is the weight the pasted box leaves."""

    config: CutMixConfig

    def record_draws(self, key: jax.Array) -> dict[str, jax.Array]:
        k_mix, k_centre = jax.random.split(key)
        return {**super().record_draws(k_mix), "centre": jax.random.uniform(k_centre, (2,))}

    def finish_params(self, draws: dict[str, jax.Array], height: int, width: int) -> dict[str, jax.Array]:
        boxes, lam = mk.cutmix_boxes(draws["lam"], draws["centre"], height, width)
        return {"lam": lam, "boxes": boxes}

    def mix_images(self, x: jax.Array, params: dict[str, jax.Array]) -> jax.Array:
        return mk.cutmix(x, params["partners"], params["boxes"])
