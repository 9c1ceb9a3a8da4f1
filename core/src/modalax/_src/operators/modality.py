"""``ModalityOperator``: an ``OperatorModule`` over one field, with auxiliary fields, a target and clipping.

Most operators of the modality plugins are one of these: they implement ``transform`` on the
primary field (and ``transform_auxiliary`` for geometric ones), and ``apply`` extracts, clips
and writes back. ``element_ndim`` lets a batch of the wrong rank fail at trace time with
"add the batch axis" instead of treating rows as elements.
"""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import jax.numpy as jnp
from flax import nnx

from modalax._src.errors import ConfigError, DataError
from modalax._src.operators.base import OperatorModule
from modalax._src.operators.config import ModalityOperatorConfig
from modalax._src.operators.fields import PyTree, get_path, set_path

__all__ = ["ModalityOperator"]


class ModalityOperator(OperatorModule):
    """An operator over one field, with auxiliary fields, target key and clipping.

    Most subclasses only implement ``transform(x, random_params, stats)`` (and, for geometric
    transforms, ``transform_auxiliary``); ``apply`` does extraction, clipping and remapping.
    """

    config: ModalityOperatorConfig
    #: Rank of one element of the operator's field (3 for ``(height, width, channels)`` images),
    #: and how its axes read; None: any rank. A batch of another rank is a ``DataError`` at trace
    #: time saying to add the batch axis, instead of rows read as images.
    element_ndim: ClassVar[int | None] = None
    element_axes: ClassVar[str] = ""

    def __init__(
        self, config: ModalityOperatorConfig, *, rngs: nnx.Rngs | None = None, name: str | None = None
    ) -> None:
        if not isinstance(config, ModalityOperatorConfig):
            raise ConfigError(
                f"{type(self).__name__}.config: got {type(config).__name__}, expected a ModalityOperatorConfig"
            )
        super().__init__(config, rngs=rngs, name=name)

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        """Transform the primary field of one element."""
        raise NotImplementedError(f"{type(self).__name__} must implement transform() or apply()")

    def transform_auxiliary(
        self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None, key: str
    ) -> jax.Array:
        """Transform an auxiliary field coordinately; identity for photometric operators."""
        return x

    def batched(self, batch: PyTree, keys: jax.Array | None, stats: dict[str, Any] | None) -> PyTree:
        self._check_rank(batch)
        return super().batched(batch, keys, stats)

    def _check_rank(self, batch: PyTree) -> None:
        want = self.element_ndim
        if want is None:
            return
        field = self.config.field_key
        got = jnp.ndim(get_path(batch, field))
        if got != want + 1:
            axes = f" {self.element_axes}" if self.element_axes else ""
            shape = tuple(jnp.shape(get_path(batch, field)))
            hint = "; add the batch axis (x[None]) for one element" if got == want else ""
            raise DataError(
                f"{self.name}: field {field!r} has shape {shape}, expected a batch of elements of rank {want}"
                f"{axes}, i.e. rank {want + 1} with the leading batch axis{hint}"
            )

    def _extract_field(self, data: PyTree, key: str) -> Any:
        return get_path(data, key)

    def _remap_field(self, data: PyTree, value: Any) -> PyTree:
        return set_path(data, self.config.target_key or self.config.field_key, value)

    def _apply_clip_range(self, x: jax.Array) -> jax.Array:
        if self.config.clip_range is None:
            return x
        lo, hi = self.config.clip_range
        return jnp.clip(x, lo, hi)

    def apply(
        self,
        data: PyTree,
        state: PyTree,
        metadata: dict[str, Any] | None,
        random_params: Any = None,
        stats: dict[str, Any] | None = None,
    ) -> tuple[PyTree, PyTree, dict[str, Any] | None]:
        x = self._extract_field(data, self.config.field_key)
        y = self._apply_clip_range(self.transform(x, random_params, stats))
        out = self._remap_field(data, y)
        if self.config.auxiliary_fields and self.config.preserve_auxiliary:
            for aux in self.config.auxiliary_fields:
                value = self.transform_auxiliary(get_path(data, aux), random_params, stats, aux)
                out = set_path(out, aux, value)
        return out, state, metadata
