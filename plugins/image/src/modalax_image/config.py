"""``ImageRepresentation`` and ``ImageModalityConfig``; imports no jax."""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass
from typing import Any

from modalax.plugin import BaseModalityConfig, ConfigError, check_positive, check_type, coerce_enum

__all__ = ["ImageModalityConfig", "ImageRepresentation", "ResizeMethod", "ResizeMode"]


class ImageRepresentation(enum.Enum):
    """Colour layout of an image; the value is the channel order."""

    RGB = "rgb"
    RGBA = "rgba"
    GRAYSCALE = "grayscale"

    @property
    def channels(self) -> int:
        """Number of channels of this representation."""
        return _CHANNELS[self]

    @property
    def pil_mode(self) -> str:
        """The Pillow mode images are converted to when decoded."""
        return _PIL_MODES[self]


_CHANNELS = {ImageRepresentation.RGB: 3, ImageRepresentation.RGBA: 4, ImageRepresentation.GRAYSCALE: 1}
_PIL_MODES = {ImageRepresentation.RGB: "RGB", ImageRepresentation.RGBA: "RGBA", ImageRepresentation.GRAYSCALE: "L"}


class ResizeMethod(enum.StrEnum):
    """Interpolation of ``resize``; a ``str`` subclass so ``"bilinear"`` compares equal."""

    BILINEAR = "bilinear"
    NEAREST = "nearest"


class ResizeMode(enum.StrEnum):
    """How an image of another aspect ratio is fitted to the configured size.

    ``stretch`` scales each axis to the size (the aspect changes); ``pad`` scales the whole
    image to fit inside the size and fills the rest with the background colour (letterbox, as
    Pillow's ``ImageOps.pad``); ``crop`` scales the short side to the size and cuts the centre
    out of the long side (as Pillow's ``ImageOps.fit``).
    """

    STRETCH = "stretch"
    PAD = "pad"
    CROP = "crop"


def plain_int(value: Any) -> Any:
    """A numpy integer as a Python ``int`` (``np.int64(32)`` is as good as ``32``); else unchanged."""
    np = sys.modules.get("numpy")  # a numpy scalar implies numpy is imported already
    if np is not None and isinstance(value, np.integer):
        return int(value)
    return value


def _choice(owner: str, name: str, raw: Any, choices: type[enum.StrEnum]) -> Any:
    """``raw`` (any case) as a member of ``choices``, else ``ConfigError`` listing them."""
    try:
        return choices(raw.lower() if isinstance(raw, str) else raw)
    except ValueError:
        expected = ", ".join(repr(m.value) for m in choices)
        raise ConfigError(f"{owner}.{name}: got {raw!r}, expected one of {expected}") from None


@dataclass(frozen=True)
class ImageModalityConfig(BaseModalityConfig):
    """Configuration of the image modality.

    ``width=None`` means square (``width = height``); ``channels=None`` takes the
    representation's channel count (RGB 3, RGBA 4, GRAYSCALE 1), and an explicit ``channels``
    must agree with it.  ``normalize`` picks the value range of ``ImageModality.process``:
    ``True`` gives [0, 1], ``False`` gives [-1, 1] (see ``value_range`` and the user guide).
    ``resize_method`` is ``"bilinear"`` or ``"nearest"``; ``resize_mode`` (``"stretch"``,
    ``"pad"`` or ``"crop"``, see ``ResizeMode``) says how images of another aspect ratio are
    fitted.  Sizes may be numpy integers; they are stored as Python ints.
    """

    representation: ImageRepresentation = ImageRepresentation.RGB
    height: int = 64
    width: int | None = None
    channels: int | None = None
    normalize: bool = True
    augmentation: bool = False
    resize_method: str = "bilinear"
    resize_mode: str = "stretch"

    def __post_init__(self) -> None:
        owner = "ImageModalityConfig"
        rep = coerce_enum(owner, "representation", self.representation, ImageRepresentation)
        object.__setattr__(self, "representation", rep)
        for name in ("height", "width", "channels"):
            object.__setattr__(self, name, plain_int(getattr(self, name)))
        check_positive(owner, "height", self.height)
        if self.width is None:
            object.__setattr__(self, "width", self.height)
        check_positive(owner, "width", self.width)
        if self.channels is None:
            object.__setattr__(self, "channels", rep.channels)
        check_positive(owner, "channels", self.channels)
        if self.channels != rep.channels:
            raise ConfigError(
                f"{owner}.channels: got {self.channels!r} with representation {rep.name}, "
                f"expected {rep.channels} (or None to take it from the representation)"
            )
        check_type(owner, "normalize", self.normalize, bool, "a bool")
        check_type(owner, "augmentation", self.augmentation, bool, "a bool")
        method = _choice(owner, "resize_method", self.resize_method, ResizeMethod)
        object.__setattr__(self, "resize_method", method)
        object.__setattr__(self, "resize_mode", _choice(owner, "resize_mode", self.resize_mode, ResizeMode))

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)``."""
        return (int(self.height), int(self.width), int(self.channels))  # type: ignore[arg-type]

    @property
    def value_range(self) -> tuple[float, float]:
        """Range of processed images: (0, 1) when ``normalize`` else (-1, 1)."""
        return (0.0, 1.0) if self.normalize else (-1.0, 1.0)
