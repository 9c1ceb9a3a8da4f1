"""Configurations of the augmentation operators (cutout, dropout, noise, colour jitter).

All of them are always stochastic (they exist to draw randomness; ``stochastic=False`` is a
``ConfigError``) and draw from the ``"augment"`` rng stream by default.  Values such as
``fill`` are fractions of the value range, as everywhere in the image plugin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from modalax.plugin import ConfigError, check_positive, check_probability, check_type
from modalax_image.config_checks import MAX_PEAK, check_interval, check_number
from modalax_image.operator_configs import ImageOperatorConfig

__all__ = [
    "ColorJitterConfig",
    "CutoutConfig",
    "PixelDropoutConfig",
    "PoissonNoiseConfig",
    "SaltAndPepperConfig",
    "jitter_range",
]


@dataclass(frozen=True, eq=False)
class _AlwaysRandomConfig(ImageOperatorConfig):
    stochastic: bool = True
    stream_name: str | None = "augment"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.stochastic:
            raise ConfigError(
                f"{type(self).__name__}.stochastic: got False, expected True (this augmentation needs randomness)"
            )


def _size_pair(owner: str, name: str, value: Any) -> tuple[int, int]:
    """An int ``s`` as ``(s, s)``; a ``(height, width)`` pair of positive ints as it is."""
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    if (
        not isinstance(pair, list | tuple)
        or len(pair) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair)
    ):
        raise ConfigError(f"{owner}.{name}: got {value!r}, expected a positive int or a (height, width) pair of them")
    return (int(pair[0]), int(pair[1]))


@dataclass(frozen=True, eq=False)
class CutoutConfig(_AlwaysRandomConfig):
    """Fill ``num_patches`` rectangles per image with ``fill`` (cutout, datarax's patch dropout).

    ``patch_size`` (an int or ``(height, width)``, default 8) fixes the size; ``size_range=(lo,
    hi)`` instead draws each patch's height and width independently from the integers lo..hi.
    Patches lie inside the image (they may overlap); a patch larger than the image is a
    ``DataError``.  ``auxiliary_fields`` (masks) get ``mask_fill`` in the same rectangles
    (``None``: masks are left unchanged).
    """

    num_patches: int = 1
    patch_size: int | tuple[int, int] | None = None
    size_range: tuple[int, int] | None = None
    fill: float = 0.0
    mask_fill: float | None = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        check_positive(owner, "num_patches", self.num_patches, allow_zero=True)
        if self.size_range is not None:
            if self.patch_size is not None:
                raise ConfigError(
                    f"{owner}: got patch_size={self.patch_size!r} and size_range={self.size_range!r}; "
                    "expected one of them (a fixed size, or a range of sizes)"
                )
            lo, hi = check_interval(owner, "size_range", self.size_range, lower=1)
            if lo != int(lo) or hi != int(hi):
                raise ConfigError(f"{owner}.size_range: got {self.size_range!r}, expected a (low, high) pair of ints")
            object.__setattr__(self, "size_range", (int(lo), int(hi)))
        elif self.patch_size is None:
            object.__setattr__(self, "patch_size", (8, 8))
        else:
            object.__setattr__(self, "patch_size", _size_pair(owner, "patch_size", self.patch_size))
        check_number(owner, "fill", self.fill)
        if self.mask_fill is not None:
            check_number(owner, "mask_fill", self.mask_fill)

    @property
    def max_size(self) -> tuple[int, int]:
        """The largest patch ``(height, width)`` this config can draw."""
        if self.size_range is not None:
            return (self.size_range[1], self.size_range[1])
        return self.patch_size  # type: ignore[return-value]


@dataclass(frozen=True, eq=False)
class PixelDropoutConfig(_AlwaysRandomConfig):
    """Set each pixel to ``fill`` with ``probability``, independently.

    ``per_channel=False`` drops whole pixels (every channel); ``True`` drops single values.
    """

    probability: float = 0.1
    per_channel: bool = False
    fill: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        check_probability(owner, "probability", self.probability)
        check_type(owner, "per_channel", self.per_channel, bool, "a bool")
        check_number(owner, "fill", self.fill)


@dataclass(frozen=True, eq=False)
class SaltAndPepperConfig(_AlwaysRandomConfig):
    """Replace a fraction ``amount`` of the pixels by salt (the top of the range) or pepper (0).

    ``salt_vs_pepper`` is the share of salt among them (``skimage.util.random_noise``'s
    ``s&p`` parameters; datarax's ``salt_prob``/``pepper_prob`` are ``amount * salt_vs_pepper``
    and ``amount * (1 - salt_vs_pepper)``).  ``per_channel`` as for pixel dropout.
    """

    amount: float = 0.05
    salt_vs_pepper: float = 0.5
    per_channel: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        check_probability(owner, "amount", self.amount)
        check_probability(owner, "salt_vs_pepper", self.salt_vs_pepper)
        check_type(owner, "per_channel", self.per_channel, bool, "a bool")


@dataclass(frozen=True, eq=False)
class PoissonNoiseConfig(_AlwaysRandomConfig):
    """Shot noise ``Poisson(x * peak) / peak``: ``peak`` photons at value 1 (fewer: noisier).

    ``peak`` lies in (0, 1e7]: the rates are drawn as int32 counts, and a larger peak would
    overflow them (it used to give silently wrong values).
    """

    peak: float = 255.0

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        check_number(owner, "peak", self.peak)
        if not 0 < self.peak <= MAX_PEAK:
            raise ConfigError(
                f"{owner}.peak: got {self.peak!r}, expected photons at value 1 in (0, {MAX_PEAK:g}] "
                "(the rates are drawn as int32 counts)"
            )


def jitter_range(owner: str, name: str, value: Any) -> tuple[float, float] | None:
    """torchvision's ColorJitter reading of a factor: ``v`` means ``[max(0, 1 - v), 1 + v]``.

    For ``hue``, ``v`` in [0, 0.5] means ``[-v, v]`` and a pair must lie in [-0.5, 0.5].
    Returns None when the component is off (0, or the identity range).
    """
    hue = name == "hue"
    if isinstance(value, int | float) and not isinstance(value, bool):
        limit = 0.5 if hue else math.inf
        if not (math.isfinite(value) and 0 <= value <= limit):
            bound = "in [0, 0.5]" if hue else ">= 0"
            raise ConfigError(f"{owner}.{name}: got {value!r}, expected a number {bound} or a (low, high) pair")
        lo, hi = (-float(value), float(value)) if hue else (max(0.0, 1.0 - value), 1.0 + value)
    elif hue:
        lo, hi = check_interval(owner, name, value, lower=-0.5, upper=0.5)
    else:
        lo, hi = check_interval(owner, name, value, lower=0.0)
    identity = 0.0 if hue else 1.0
    return None if lo == hi == identity else (lo, hi)


@dataclass(frozen=True, eq=False)
class ColorJitterConfig(_AlwaysRandomConfig):
    """Random brightness, contrast, saturation and hue with torchvision's ``ColorJitter`` ranges.

    ``brightness``, ``contrast``, ``saturation``: a number ``v >= 0`` draws a factor from
    ``U(max(0, 1 - v), 1 + v)``, a pair ``(lo, hi)`` from ``U(lo, hi)``.  ``hue``: ``v`` in
    [0, 0.5] draws a shift from ``U(-v, v)`` (fractions of the colour circle), a pair from
    within [-0.5, 0.5].  0 turns a component off.  See ``image.color_jitter`` for the order.
    """

    brightness: float | tuple[float, float] = 0.0
    contrast: float | tuple[float, float] = 0.0
    saturation: float | tuple[float, float] = 0.0
    hue: float | tuple[float, float] = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        self.ranges()  # validates every component

    def ranges(self) -> dict[str, tuple[float, float] | None]:
        """The range each component draws from, None for the components turned off."""
        owner = type(self).__name__
        return {n: jitter_range(owner, n, getattr(self, n)) for n in ("brightness", "contrast", "saturation", "hue")}
