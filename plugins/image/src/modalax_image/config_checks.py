"""Value checks of the image configs: numbers, ranges and channel statistics; imports no jax.

Every number a config stores is a Python number that survives the cast to float32 (a float
like 1e39 becomes inf there); the bounds of the noise parameters keep the kernels' float32
arithmetic finite. Each check raises ``ConfigError`` naming the owner, the field, the value
received and what was expected.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from modalax.plugin import ConfigError, check_type

__all__ = [
    "FLOAT32_MAX",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MAX_NOISE",
    "MAX_PEAK",
    "check_channel_stats",
    "check_interval",
    "check_number",
    "check_range",
    "plain_fields",
    "plain_number",
    "resolve_range",
]


def plain_number(value: Any) -> Any:
    """numpy integers and floats as Python ``int``/``float``; anything else unchanged.

    Values computed with numpy (``np.int64(32)``) are as good as literals; storing Python
    numbers keeps configs hashable and JSON-friendly.
    """
    if isinstance(value, np.bool_):
        return value
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def plain_fields(config: Any, names: tuple[str, ...]) -> None:
    """Replace numpy numbers in the named fields of a frozen dataclass by Python numbers."""
    for name in names:
        value = getattr(config, name)
        if isinstance(value, list | tuple):
            object.__setattr__(config, name, type(value)(plain_number(v) for v in value))
        else:
            object.__setattr__(config, name, plain_number(value))


#: Largest Poisson ``peak`` (photons at value 1): the rates ``x * peak`` are drawn as int32 counts.
MAX_PEAK = 1e7
#: Largest noise ``std`` and ``|mean|`` (on the [0, 1] scale): keeps the kernels' float32 sums finite.
MAX_NOISE = 1e6
#: Every number a config holds must survive the cast to float32 (1e39 would become inf).
FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_number(
    owner: str, name: str, value: Any, *, minimum: float | None = None, maximum: float | None = None
) -> None:
    check_type(owner, name, value, (int, float), "a finite number")
    top = FLOAT32_MAX if maximum is None else maximum
    low = -FLOAT32_MAX if minimum is None else minimum
    if not math.isfinite(value) or not low <= value <= top:
        if maximum is not None:
            bound = f" in [{low:g}, {top:g}]"
        elif math.isfinite(value) and abs(value) > FLOAT32_MAX:
            bound = " representable in float32 (|x| <= 3.4e38)"
        else:
            bound = f" >= {minimum}" if minimum is not None else ""
        raise ConfigError(f"{owner}.{name}: got {value!r}, expected a finite number{bound}")


def check_range(owner: str, name: str, value: Any) -> tuple[float, float]:
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value)
        or not value[0] < value[1]
    ):
        raise ConfigError(f"{owner}.{name}: got {value!r}, expected a (low, high) pair of finite numbers, low < high")
    return (float(value[0]), float(value[1]))


def check_interval(
    owner: str, name: str, value: Any, *, lower: float | None = None, upper: float | None = None
) -> tuple[float, float]:
    """A ``(lo, hi)`` pair of finite numbers with ``lo <= hi`` inside ``[lower, upper]``, as floats."""
    inside = {
        (False, False): "",
        (True, False): f" >= {lower}",
        (False, True): f" <= {upper}",
        (True, True): f" within [{lower}, {upper}]",
    }[(lower is not None, upper is not None)]
    ok = (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    )
    if ok:
        lo, hi = float(value[0]), float(value[1])
        ok = lo <= hi and (lower is None or lo >= lower) and (upper is None or hi <= upper)
        ok = ok and max(abs(lo), abs(hi)) <= FLOAT32_MAX
    if not ok:
        raise ConfigError(
            f"{owner}.{name}: got {value!r}, expected a (low, high) pair of finite numbers{inside}, low <= high"
        )
    return (float(value[0]), float(value[1]))


def resolve_range(config: Any, owner: str, symmetric: tuple[str, float], range_name: str) -> None:
    """Validate a ``±max`` field against its ``(lo, hi)`` alternative; fill the default when neither is set."""
    name, default = symmetric
    value, bounds = getattr(config, name), getattr(config, range_name)
    if bounds is not None:
        if value is not None:
            raise ConfigError(
                f"{owner}: got {name}={value!r} and {range_name}={bounds!r}; expected one of them "
                f"({name} draws U(-{name}, {name}), {range_name} draws U(low, high))"
            )
        object.__setattr__(config, range_name, check_interval(owner, range_name, bounds))
        if not config.stochastic:
            raise ConfigError(
                f"{owner}.{range_name}: got {bounds!r} with stochastic=False; a fixed transform needs {name}"
            )
        return
    if value is None:
        object.__setattr__(config, name, default)
    check_number(owner, name, getattr(config, name), minimum=0.0)


#: torchvision's ImageNet channel statistics (RGB, on the [0, 1] scale).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def check_channel_stats(owner: str, mean: Any, std: Any) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """``mean`` and ``std`` as equal-length tuples of finite floats with ``std > 0``, else ``ConfigError``."""
    values = {}
    for name, value in (("mean", mean), ("std", std)):
        if isinstance(value, str) or not isinstance(value, list | tuple | np.ndarray) or len(value) == 0:
            raise ConfigError(f"{owner}.{name}: got {value!r}, expected one number per channel, e.g. {IMAGENET_MEAN}")
        numbers = []
        for v in value:
            v = plain_number(v)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ConfigError(f"{owner}.{name}: got {tuple(value)!r}, expected finite numbers (one per channel)")
            numbers.append(float(v))
        values[name] = tuple(numbers)
    if len(values["mean"]) != len(values["std"]):
        raise ConfigError(
            f"{owner}: mean has {len(values['mean'])} values and std {len(values['std'])}; "
            "expected one of each per channel"
        )
    if any(v <= 0 for v in values["std"]):
        raise ConfigError(f"{owner}.std: got {values['std']!r}, expected every value > 0")
    return values["mean"], values["std"]
