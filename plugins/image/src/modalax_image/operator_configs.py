"""Configurations of the image operators: validated frozen dataclasses with defaults.

Every config defaults ``field_key`` to ``"images"`` (the key of image dataset batches).  The
random operators default to ``stochastic=True`` drawing from the ``"augment"`` rng stream;
with ``stochastic=False`` they apply a fixed transform instead (documented per class).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from modalax.plugin import (
    ConfigError,
    ModalityOperatorConfig,
    check_choice,
    check_positive,
    check_probability,
    check_type,
)

__all__ = [
    "BrightnessConfig",
    "ContrastConfig",
    "CropConfig",
    "FlipConfig",
    "GaussianNoiseConfig",
    "GrayscaleConfig",
    "ImageOperatorConfig",
    "NormalizeConfig",
    "ResizeConfig",
    "RotateConfig",
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


def _check_number(owner: str, name: str, value: Any, *, minimum: float | None = None) -> None:
    check_type(owner, name, value, (int, float), "a finite number")
    if not math.isfinite(value) or (minimum is not None and value < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise ConfigError(f"{owner}.{name}: got {value!r}, expected a finite number{bound}")


def _check_range(owner: str, name: str, value: Any) -> tuple[float, float]:
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
    _check_number(owner, name, getattr(config, name), minimum=0.0)


@dataclass(frozen=True, eq=False)
class ImageOperatorConfig(ModalityOperatorConfig):
    """Base of the image operator configs: ``field_key`` defaults to ``"images"``."""

    field_key: str = field(default="images", kw_only=True)

    def __post_init__(self) -> None:
        plain_fields(self, tuple(f.name for f in fields(self) if f.name != "batch_stats_fn"))
        super().__post_init__()


@dataclass(frozen=True, eq=False)
class _RandomConfig(ImageOperatorConfig):
    stochastic: bool = True
    stream_name: str | None = "augment"


@dataclass(frozen=True, eq=False)
class ResizeConfig(ImageOperatorConfig):
    """Resize to ``height`` x ``width`` (``width=None``: square); masks follow with ``nearest``."""

    height: int = 64
    width: int | None = None
    method: str = "bilinear"
    antialias: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        check_positive(owner, "height", self.height)
        if self.width is None:
            object.__setattr__(self, "width", self.height)
        check_positive(owner, "width", self.width)
        check_choice(owner, "method", self.method, ("bilinear", "nearest"))
        check_type(owner, "antialias", self.antialias, bool, "a bool")


@dataclass(frozen=True, eq=False)
class NormalizeConfig(ImageOperatorConfig):
    """Map ``input_range`` onto ``output_range``.

    ``input_range=None`` (default) reads it from the dtype: uint8 (0, 255), uint16 (0, 65535),
    bool and float (0, 1), so float images already in [0, 1] are left on that scale.  Give it
    explicitly for anything else (float images in [0, 255], int32 data).
    """

    input_range: tuple[float, float] | None = None
    output_range: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        if self.input_range is not None:
            object.__setattr__(self, "input_range", _check_range(owner, "input_range", self.input_range))
        object.__setattr__(self, "output_range", _check_range(owner, "output_range", self.output_range))


@dataclass(frozen=True, eq=False)
class FlipConfig(_RandomConfig):
    """Mirror with ``probability`` (``stochastic=False``: mirror every image)."""

    direction: str = "horizontal"
    probability: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice(type(self).__name__, "direction", self.direction, ("horizontal", "vertical"))
        check_probability(type(self).__name__, "probability", self.probability)


@dataclass(frozen=True, eq=False)
class CropConfig(_RandomConfig):
    """Random ``height`` x ``width`` crop (``stochastic=False``: the centre crop)."""

    height: int = 32
    width: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(type(self).__name__, "height", self.height)
        if self.width is None:
            object.__setattr__(self, "width", self.height)
        check_positive(type(self).__name__, "width", self.width)


@dataclass(frozen=True, eq=False)
class BrightnessConfig(_RandomConfig):
    """Add a per-image offset on the [0, 1] scale.

    ``max_delta`` (default 0.2) draws ``U(-max_delta, max_delta)``; ``delta_range=(lo, hi)``
    draws ``U(lo, hi)`` instead (asymmetric, e.g. ``(0.0, 0.3)`` only brightens).  Give one of
    them.  ``stochastic=False`` adds ``max_delta`` to every image (a range has no fixed value).
    """

    max_delta: float | None = None
    delta_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        resolve_range(self, owner, ("max_delta", 0.2), "delta_range")


@dataclass(frozen=True, eq=False)
class ContrastConfig(_RandomConfig):
    """Contrast factor ``U(lower, upper)`` per image (``stochastic=False``: ``upper``)."""

    lower: float = 0.8
    upper: float = 1.2

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        _check_number(owner, "lower", self.lower, minimum=0.0)
        _check_number(owner, "upper", self.upper, minimum=0.0)
        if self.lower > self.upper:
            raise ConfigError(f"{owner}: got lower={self.lower!r} > upper={self.upper!r}, expected lower <= upper")


@dataclass(frozen=True, eq=False)
class RotateConfig(_RandomConfig):
    """Rotate counter-clockwise by a per-image angle in degrees.

    ``max_angle`` (default 15) draws ``U(-max_angle, max_angle)``; ``angle_range=(lo, hi)``
    draws ``U(lo, hi)`` instead (e.g. ``(0, 90)``).  Give one of them.  ``stochastic=False``
    rotates every image by ``max_angle``.  Pixels from outside the image get ``fill``; masks
    are rotated with ``nearest`` and filled with 0.
    """

    max_angle: float | None = None
    angle_range: tuple[float, float] | None = None
    method: str = "bilinear"
    fill: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        resolve_range(self, owner, ("max_angle", 15.0), "angle_range")
        check_choice(owner, "method", self.method, ("bilinear", "nearest"))
        _check_number(owner, "fill", self.fill)


@dataclass(frozen=True, eq=False)
class GaussianNoiseConfig(_RandomConfig):
    """Add ``mean + std * N(0, 1)`` noise (on the [0, 1] scale); always stochastic."""

    std: float = 0.05
    mean: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        _check_number(owner, "std", self.std, minimum=0.0)
        _check_number(owner, "mean", self.mean)
        if not self.stochastic:
            raise ConfigError(f"{owner}.stochastic: got False, expected True (noise needs randomness)")


@dataclass(frozen=True, eq=False)
class GrayscaleConfig(ImageOperatorConfig):
    """ITU-R 601-2 luma; ``keep_channels`` repeats it over the input channels."""

    keep_channels: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_type(type(self).__name__, "keep_channels", self.keep_channels, bool, "a bool")
