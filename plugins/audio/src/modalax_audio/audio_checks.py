"""Parameter checks of the audio operators: types, finite numbers and the ranges that cannot overflow.

Each raises ``ConfigError`` naming the config field, the value and the allowed range.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from modalax.plugin import ConfigError, MissingFieldError, check_type

__all__ = [
    "DB_LIMIT",
    "FLOAT32_MAX",
    "INT32_MAX",
    "MAX_MASKS",
    "bounded",
    "count",
    "db",
    "db_range",
    "number",
    "plain",
    "shape_of",
]

#: Largest gain or SNR magnitude (dB) the operators accept: a factor of 10**6 in amplitude, past
#: 24-bit audio's 144 dB range, while ``10 ** (1000 / 20)`` would overflow float32 to inf.
DB_LIMIT = 120.0
#: Most masks per element: each is one pass over the element, unrolled into the compiled kernel.
MAX_MASKS = 100
#: Largest sample count or shift: indices are int32 inside the kernels.
INT32_MAX = 2**31 - 1
#: Largest finite float32, the bound of values written into float32 fields.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def shape_of(data_shapes: Any, key: str) -> tuple[int, ...]:
    """The shape of field ``key`` (dotted path) in a tree of shapes; ``MissingFieldError`` if absent."""
    node = data_shapes
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            have = sorted(node) if isinstance(node, dict) else node
            raise MissingFieldError(f"field {key!r}: missing from the data (has {have}); set field_key")
        node = node[part]
    return tuple(node)


def number(owner: str, name: str, value: Any) -> None:
    """``ConfigError`` unless ``value`` is a finite int or float."""
    check_type(owner, name, value, (int, float), "a finite number")
    if not math.isfinite(value):
        raise ConfigError(f"{owner}.{name}: got {value!r}, expected a finite number")


def plain(config: Any, ints: tuple[str, ...] = (), floats: tuple[str, ...] = ()) -> None:
    """Store numpy scalars in ``config``'s fields as the Python int/float they hold (bools stay bools)."""
    for name in (*ints, *floats):
        value = getattr(config, name)
        if isinstance(value, bool) or type(value) in (int, float):
            continue
        if isinstance(value, numbers.Integral):
            object.__setattr__(config, name, int(value))
        elif name in floats and isinstance(value, numbers.Real):
            object.__setattr__(config, name, float(value))


def bounded(owner: str, name: str, value: Any, lo: float, hi: float, unit: str, why: str) -> None:
    """``ConfigError`` naming the field, the value and the allowed range unless ``lo <= value <= hi``."""
    number(owner, name, value)
    if not lo <= value <= hi:
        raise ConfigError(f"{owner}.{name}: got {value!r}, expected {_fmt(lo)} to {_fmt(hi)}{unit} ({why})")


def _fmt(bound: float) -> str:
    return str(bound) if isinstance(bound, int) else f"{bound:g}"


def db(owner: str, name: str, value: Any) -> None:
    """A gain or SNR in dB within +-``DB_LIMIT``."""
    bounded(owner, name, value, -DB_LIMIT, DB_LIMIT, " dB", "a factor of 10**6 in amplitude at most")


def count(owner: str, name: str, value: Any, lo: int, hi: int = INT32_MAX, why: str = "int32 indices") -> None:
    """An int in ``[lo, hi]``."""
    check_type(owner, name, value, int, "an int")
    bounded(owner, name, value, lo, hi, "", why)


def db_range(owner: str, lo_name: str, lo: float, hi_name: str, hi: float) -> None:
    """Two dB bounds, each within +-``DB_LIMIT``, in order."""
    db(owner, lo_name, lo)
    db(owner, hi_name, hi)
    if lo > hi:
        raise ConfigError(f"{owner}: got {lo_name}={lo!r} > {hi_name}={hi!r}; expected {lo_name} <= {hi_name}")
