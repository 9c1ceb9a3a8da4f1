"""Configuration base classes: frozen dataclasses validated in ``__post_init__``.

Every config round-trips through ``to_dict``/``from_dict`` (enums become their values, tuples
become lists), so configs can be stored in JSON next to checkpoints.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import math
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from modalax._src.errors import ConfigError, unknown_name_message

__all__ = [
    "BaseModalityConfig",
    "ConfigMixin",
    "ModalityConfiguration",
    "check_choice",
    "check_positive",
    "check_probability",
    "check_type",
    "coerce_enum",
    "plain_scalar",
]


def plain_scalar(value: Any) -> Any:
    """numpy bool/integer/floating scalars (also inside a tuple or list) as Python scalars.

    Anything else is returned unchanged, so ``np.int64(32)`` validates and is stored like ``32``.
    """
    np = sys.modules.get("numpy")  # a numpy scalar implies numpy is imported already
    if np is None:
        return value
    if isinstance(value, np.bool_ | np.integer | np.floating):
        return value.item()
    if isinstance(value, tuple | list) and any(isinstance(v, np.generic) for v in value):
        return type(value)(plain_scalar(v) for v in value)
    return value


def check_type(owner: str, name: str, value: Any, types_: type | tuple[type, ...], expected: str) -> Any:
    """Raise ``ConfigError`` unless ``value`` is an instance of ``types_`` (bool is not an int).

    numpy scalars count as the Python type they convert to; returns the (converted) value.
    """
    value = plain_scalar(value)
    bad_bool = isinstance(value, bool) and bool not in (types_ if isinstance(types_, tuple) else (types_,))
    if bad_bool or not isinstance(value, types_):
        raise ConfigError(f"{owner}.{name}: got {value!r} ({type(value).__name__}), expected {expected}")
    return value


def check_positive(owner: str, name: str, value: Any, *, integer: bool = True, allow_zero: bool = False) -> Any:
    """Raise ``ConfigError`` unless ``value`` is a positive (or non-negative) number; returns it as Python."""
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    what = "integer" if integer else "number"
    expected = f"a {'non-negative' if allow_zero else 'positive'} {what}"
    value = check_type(owner, name, value, kinds, expected)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{owner}.{name}: got {value!r}, expected {expected}")
    return value


def check_probability(owner: str, name: str, value: Any) -> Any:
    """Raise ``ConfigError`` unless ``0 <= value <= 1``; returns it as a Python number."""
    value = check_type(owner, name, value, (int, float), "a number in [0, 1]")
    if not 0.0 <= float(value) <= 1.0:
        raise ConfigError(f"{owner}.{name}: got {value!r}, expected a number in [0, 1]")
    return value


def check_choice(owner: str, name: str, value: Any, choices: Iterable[str]) -> None:
    """Raise ``ConfigError`` unless ``value`` is one of ``choices``."""
    options = list(choices)
    if value not in options:
        raise ConfigError(f"{owner}.{name}: " + unknown_name_message("value", value, options))


def coerce_enum(owner: str, name: str, value: Any, enum_cls: type[enum.Enum]) -> Any:
    """Accept an enum member, its value or its name (case-insensitive)."""
    if isinstance(value, enum_cls):
        return value
    for member in enum_cls:
        if value == member.value or (isinstance(value, str) and value.upper() == member.name):
            return member
    options = [m.name for m in enum_cls]
    raise ConfigError(f"{owner}.{name}: got {value!r}, expected one of {', '.join(options)}")


def _to_plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_plain(v) for v in value]
    return value


def _from_plain(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is type(None):
                if value is None:
                    return None
                continue
            try:
                return _from_plain(arg, value)
            except (ConfigError, TypeError, ValueError):
                continue
        return value
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return coerce_enum(tp.__name__, "value", value, tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp) and isinstance(value, Mapping):
        return tp.from_dict(value) if hasattr(tp, "from_dict") else tp(**value)
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    return value


def _plain_fields(config: Any) -> None:
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        plain = plain_scalar(value)
        if plain is not value:
            object.__setattr__(config, f.name, plain)


class ConfigMixin:
    """``to_dict``/``from_dict``/``replace`` for config dataclasses.

    Before a subclass's ``__post_init__`` validates, numpy scalar fields become Python
    scalars, so ``Config(height=np.int64(32))`` is accepted, stored as ``32`` and serialises.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        post = cls.__dict__.get("__post_init__")
        if post is None or getattr(post, "_plain_scalars", False):
            return

        @functools.wraps(post)
        def __post_init__(self: Any, *args: Any) -> None:
            _plain_fields(self)
            post(self, *args)

        __post_init__._plain_scalars = True  # type: ignore[attr-defined]
        cls.__post_init__ = __post_init__  # type: ignore[attr-defined]

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready dict of the fields."""
        return _to_plain(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Inverse of ``to_dict``; unknown keys raise ``ConfigError`` naming them."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{cls.__name__}.from_dict: got {type(data).__name__}, expected a mapping")
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ConfigError(
                f"{cls.__name__}: unknown field(s) {', '.join(map(repr, unknown))}; "
                f"expected some of {', '.join(sorted(fields))}"
            )
        kwargs = {k: _from_plain(hints.get(k, Any), v) for k, v in data.items()}
        return cls(**kwargs)

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` applied (and validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


@dataclass(frozen=True)
class BaseModalityConfig(ConfigMixin):
    """Base of every modality's configuration."""

    def __post_init__(self) -> None:
        """Validate fields; subclasses extend."""


@dataclass(frozen=True)
class ModalityConfiguration(BaseModalityConfig):
    """Generic modality configuration: ``name``, ``modality_type`` and free ``metadata``.

    Used by the text modality (``metadata={"text_params": {...}}``) as in the API reference.
    """

    name: str = "modality"
    modality_type: str = "generic"
    metadata: dict[str, Any] = field(default_factory=dict)

    def __hash__(self) -> int:
        # ``metadata`` is a dict; hash its canonical JSON so configs can sit in nnx graph defs.
        return hash(
            (self.name, self.modality_type, json.dumps(self.to_dict()["metadata"], sort_keys=True, default=repr))
        )

    def __post_init__(self) -> None:
        check_type("ModalityConfiguration", "name", self.name, str, "a string")
        check_type("ModalityConfiguration", "modality_type", self.modality_type, str, "a string")
        if not isinstance(self.metadata, Mapping):
            raise ConfigError(f"ModalityConfiguration.metadata: got {type(self.metadata).__name__}, expected a dict")
