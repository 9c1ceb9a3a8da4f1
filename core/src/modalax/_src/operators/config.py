"""Operator configurations: validated, frozen dataclasses."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modalax._src.config import ConfigMixin, check_choice, check_type
from modalax._src.errors import ConfigError

BATCH_STRATEGIES = ("vmap", "scan")


class FieldNames(tuple[str, ...]):
    """Field names stored as a tuple (configs are hashable) that equals the list the user passed."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, list):
            return tuple(self) == tuple(other)
        return tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = tuple.__hash__


@dataclass(frozen=True, eq=False)
class OperatorConfig(ConfigMixin):
    """Settings shared by every operator.

    ``batch_stats_fn`` (statistics computed from each batch) and ``precomputed_stats``
    (fixed statistics) are mutually exclusive.  ``stochastic`` operators need a
    ``stream_name`` naming the ``nnx.Rngs`` stream they draw from.
    """

    cacheable: bool = False
    batch_stats_fn: Callable[..., Any] | None = None
    precomputed_stats: dict[str, Any] | None = None
    stochastic: bool = False
    stream_name: str | None = None
    batch_strategy: str = "vmap"

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for flag in ("cacheable", "stochastic"):
            check_type(owner, flag, getattr(self, flag), bool, "a bool")
        if self.batch_stats_fn is not None and not callable(self.batch_stats_fn):
            raise ConfigError(f"{owner}.batch_stats_fn: got {self.batch_stats_fn!r}, expected a callable or None")
        if self.precomputed_stats is not None and not isinstance(self.precomputed_stats, dict):
            raise ConfigError(
                f"{owner}.precomputed_stats: got {type(self.precomputed_stats).__name__}, expected a dict or None"
            )
        if self.batch_stats_fn is not None and self.precomputed_stats is not None:
            raise ConfigError(
                f"{owner}: batch_stats_fn and precomputed_stats are both set; expected at most one of them"
            )
        if self.stochastic and (not isinstance(self.stream_name, str) or not self.stream_name):
            raise ConfigError(
                f"{owner}.stream_name: got {self.stream_name!r} with stochastic=True, "
                "expected the name of an nnx.Rngs stream such as 'augment'"
            )
        if self.stream_name is not None and not isinstance(self.stream_name, str):
            raise ConfigError(f"{owner}.stream_name: got {self.stream_name!r}, expected a string or None")
        if self.cacheable and self.stochastic:
            raise ConfigError(f"{owner}.cacheable: got True with stochastic=True; expected a deterministic operator")
        check_choice(owner, "batch_strategy", self.batch_strategy, BATCH_STRATEGIES)


def _check_key(owner: str, name: str, value: Any) -> None:
    if not isinstance(value, str) or not value or any(not part for part in value.split(".")):
        raise ConfigError(f"{owner}.{name}: got {value!r}, expected a non-empty key (dotted for nested fields)")


@dataclass(frozen=True, eq=False)
class ModalityOperatorConfig(OperatorConfig):
    """Configuration of an operator that transforms one field.

    ``field_key`` and ``target_key`` may be dotted paths into nested dicts.
    ``auxiliary_fields`` are transformed coordinately (a flip of ``image`` flips ``mask``);
    with ``preserve_auxiliary=False`` they are left untouched instead.  ``clip_range`` is
    applied to the primary output.
    """

    field_key: str = field(kw_only=True)
    target_key: str | None = field(default=None, kw_only=True)
    auxiliary_fields: tuple[str, ...] | None = field(default=None, kw_only=True)
    clip_range: tuple[float, float] | None = field(default=None, kw_only=True)
    preserve_auxiliary: bool = field(default=True, kw_only=True)
    validate_domain_constraints: bool = field(default=True, kw_only=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        _check_key(owner, "field_key", self.field_key)
        if self.target_key is not None:
            _check_key(owner, "target_key", self.target_key)
        if self.auxiliary_fields is not None:
            if isinstance(self.auxiliary_fields, str) or not isinstance(self.auxiliary_fields, list | tuple):
                raise ConfigError(
                    f"{owner}.auxiliary_fields: got {self.auxiliary_fields!r}, expected a list of field keys"
                )
            for aux in self.auxiliary_fields:
                _check_key(owner, "auxiliary_fields", aux)
            if self.field_key in self.auxiliary_fields:
                raise ConfigError(
                    f"{owner}.auxiliary_fields: contains the primary field_key {self.field_key!r}; "
                    "expected other fields"
                )
            object.__setattr__(self, "auxiliary_fields", FieldNames(self.auxiliary_fields))
        if self.clip_range is not None:
            cr = self.clip_range
            if (
                not isinstance(cr, list | tuple)
                or len(cr) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in cr)
                or not all(math.isfinite(v) for v in cr)
            ):
                raise ConfigError(f"{owner}.clip_range: got {cr!r}, expected a (min, max) pair of finite numbers")
            if not cr[0] < cr[1]:
                raise ConfigError(f"{owner}.clip_range: got {tuple(cr)!r}, expected min < max")
            object.__setattr__(self, "clip_range", (float(cr[0]), float(cr[1])))
        check_type(owner, "preserve_auxiliary", self.preserve_auxiliary, bool, "a bool")
        check_type(owner, "validate_domain_constraints", self.validate_domain_constraints, bool, "a bool")
