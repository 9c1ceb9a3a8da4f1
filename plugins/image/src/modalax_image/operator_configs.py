"""Configurations of the image operators: validated frozen dataclasses with defaults.

Every config defaults ``field_key`` to ``"images"`` (the key of image dataset batches).  The
random operators default to ``stochastic=True`` drawing from the ``"augment"`` rng stream;
with ``stochastic=False`` they apply a fixed transform instead (documented per class).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from modalax.plugin import (
    ConfigError,
    ModalityOperatorConfig,
    check_choice,
    check_positive,
    check_probability,
    check_type,
)
from modalax_image.config_checks import (
    FLOAT32_MAX,
    IMAGENET_MEAN,
    IMAGENET_STD,
    MAX_NOISE,
    MAX_PEAK,
    check_channel_stats,
    check_interval,
    check_number,
    check_range,
    plain_fields,
    plain_number,
    resolve_range,
)
from modalax_image.geometry import RESIZE_MODES

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
    # the value checks, re-exported for the modules that import them from here
    "FLOAT32_MAX",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "MAX_NOISE",
    "MAX_PEAK",
    "check_channel_stats",
    "check_interval",
    "check_number",
    "plain_fields",
    "plain_number",
]


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
    """Resize to ``height`` x ``width`` (``width=None``: square); masks follow with ``nearest``.

    ``mode`` fits another aspect ratio as ``ImageModalityConfig.resize_mode`` does:
    ``"stretch"`` (default), ``"pad"`` (letterbox; the bars get ``fill``, one value or one per
    channel on the [0, 1] scale, and masks get 0) or ``"crop"`` (centre crop after scaling the
    short side).
    """

    height: int = 64
    width: int | None = None
    method: str = "bilinear"
    antialias: bool = True
    mode: str = "stretch"
    fill: float | tuple[float, ...] = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        check_positive(owner, "height", self.height)
        if self.width is None:
            object.__setattr__(self, "width", self.height)
        check_positive(owner, "width", self.width)
        check_choice(owner, "method", self.method, ("bilinear", "nearest"))
        check_type(owner, "antialias", self.antialias, bool, "a bool")
        check_choice(owner, "mode", self.mode, RESIZE_MODES)
        if isinstance(self.fill, list | tuple):
            if not self.fill:
                raise ConfigError(f"{owner}.fill: got {self.fill!r}, expected a number or one number per channel")
            for value in self.fill:
                check_number(owner, "fill", value)
            object.__setattr__(self, "fill", tuple(float(v) for v in self.fill))
        else:
            check_number(owner, "fill", self.fill)


@dataclass(frozen=True, eq=False)
class NormalizeConfig(ImageOperatorConfig):
    """Map ``input_range`` onto ``output_range``, or standardise per channel with ``mean``/``std``.

    ``input_range=None`` (default) reads it from the dtype: uint8 (0, 255), uint16 (0, 65535),
    bool and float (0, 1), so float images already in [0, 1] are left on that scale.  Give it
    explicitly for anything else (float images in [0, 255], int32 data).

    ``mean`` and ``std`` (one finite number per channel, ``std > 0``; both or neither) give
    torchvision's ``Normalize``: the input range is mapped onto [0, 1], then channel ``c``
    becomes ``(x - mean[c]) / std[c]`` (``IMAGENET_MEAN``/``IMAGENET_STD`` for ImageNet
    models); ``output_range`` is then not used and must stay at its default.
    """

    input_range: tuple[float, float] | None = None
    output_range: tuple[float, float] = (0.0, 1.0)
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        if self.input_range is not None:
            object.__setattr__(self, "input_range", check_range(owner, "input_range", self.input_range))
        object.__setattr__(self, "output_range", check_range(owner, "output_range", self.output_range))
        if self.mean is None and self.std is None:
            return
        if self.mean is None or self.std is None:
            missing = "std" if self.std is None else "mean"
            raise ConfigError(f"{owner}.{missing}: got None with the other given; expected mean and std, or neither")
        if self.output_range != (0.0, 1.0):
            raise ConfigError(
                f"{owner}.output_range: got {self.output_range!r} with mean/std; expected the default (0.0, 1.0) "
                "(standardising sets the output scale)"
            )
        mean, std = check_channel_stats(owner, self.mean, self.std)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)


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
        check_number(owner, "lower", self.lower, minimum=0.0)
        check_number(owner, "upper", self.upper, minimum=0.0)
        if self.lower > self.upper:
            raise ConfigError(f"{owner}: got lower={self.lower!r} > upper={self.upper!r}, expected lower <= upper")


@dataclass(frozen=True, eq=False)
class RotateConfig(_RandomConfig):
    """Rotate counter-clockwise by an angle in degrees (negative: clockwise), as Pillow's ``rotate``.

    ``angle=a`` rotates every image by ``a`` (any sign; the operator is then deterministic).
    Otherwise the angle is random per image: ``max_angle`` (default 15) draws
    ``U(-max_angle, max_angle)``, ``angle_range=(lo, hi)`` draws ``U(lo, hi)`` (e.g.
    ``(0, 90)``); give at most one of the three.  ``stochastic`` defaults to "random unless
    ``angle`` is given"; ``stochastic=False`` with ``max_angle`` rotates by ``max_angle`` (the
    0.1 form).  Pixels from outside the image get ``fill``; masks are rotated with ``nearest``
    and filled with 0.
    """

    max_angle: float | None = None
    angle_range: tuple[float, float] | None = None
    method: str = "bilinear"
    fill: float = 0.0
    angle: float | None = None
    stochastic: bool = None  # type: ignore[assignment]  # None until __post_init__: random unless angle is given

    def __post_init__(self) -> None:
        owner = type(self).__name__
        if self.angle is not None:
            check_number(owner, "angle", plain_number(self.angle))
            given = [name for name in ("max_angle", "angle_range") if getattr(self, name) is not None]
            if given:
                raise ConfigError(
                    f"{owner}: got angle={self.angle!r} and {given[0]}={getattr(self, given[0])!r}; expected one "
                    "of them (angle rotates every image by it, max_angle/angle_range draw a random angle)"
                )
            if self.stochastic:
                raise ConfigError(
                    f"{owner}.stochastic: got True with angle={self.angle!r}; a fixed angle is deterministic "
                    "(use max_angle or angle_range for random angles)"
                )
            object.__setattr__(self, "stochastic", False)
        elif self.stochastic is None:
            object.__setattr__(self, "stochastic", True)
        super().__post_init__()
        if self.angle is not None:
            object.__setattr__(self, "angle", float(self.angle))
            check_choice(owner, "method", self.method, ("bilinear", "nearest"))
            check_number(owner, "fill", self.fill)
            return
        resolve_range(self, owner, ("max_angle", 15.0), "angle_range")
        check_choice(owner, "method", self.method, ("bilinear", "nearest"))
        check_number(owner, "fill", self.fill)


@dataclass(frozen=True, eq=False)
class GaussianNoiseConfig(_RandomConfig):
    """Add ``mean + std * N(0, 1)`` noise (on the [0, 1] scale); always stochastic."""

    std: float = 0.05
    mean: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        check_number(owner, "std", self.std, minimum=0.0, maximum=MAX_NOISE)
        check_number(owner, "mean", self.mean, minimum=-MAX_NOISE, maximum=MAX_NOISE)
        if not self.stochastic:
            raise ConfigError(f"{owner}.stochastic: got False, expected True (noise needs randomness)")


@dataclass(frozen=True, eq=False)
class GrayscaleConfig(ImageOperatorConfig):
    """ITU-R 601-2 luma; ``keep_channels`` repeats it over the input channels."""

    keep_channels: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_type(type(self).__name__, "keep_channels", self.keep_channels, bool, "a bool")
