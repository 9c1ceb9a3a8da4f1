"""``decode_image``: one encoded image (bytes, path or file) to a record, with Pillow.

Every reader of image files calls this one function (the folder dataset, packed shards, the
previewer), so a file decodes to the same values wherever it is read. The rules:

* the first frame of multi-frame files (GIF, APNG, TIFF pages);
* the EXIF orientation applied (``exif_transpose=True``), so a photo taken upright loads upright;
* 8-bit modes (L, P, RGB, CMYK, YCbCr, 1, ...) through Pillow's ``convert`` to the
  representation's mode, divided by 255;
* transparency (RGBA, LA, PA, a palette or ``tRNS`` transparent colour) kept as alpha for
  the RGBA representation, else composited over ``background`` (white by default), never
  dropped so that hidden pixels show;
* high bit depths scaled by their own range, never clipped to 8 bits: 16-bit (``I;16``,
  ``I;16B``, ...) divided by 65535; 32-bit integer ``I`` read as 16-bit data (values outside
  [0, 65535] are a ``DataError``); 32-bit float ``F`` taken as is and must lie in [0, 1];
* resized with Pillow to the config's size (bilinear with antialiasing, or nearest), fitted
  by ``config.resize_mode``: ``stretch`` (each axis to the size), ``pad`` (letterbox: the
  whole image inside the size, centred, the bars in ``background``, as ``ImageOps.pad``) or
  ``crop`` (the centre cut after scaling the short side, as ``ImageOps.fit``);
* an output that cannot fit in the host's free memory is refused before it is allocated
  (``ConfigError`` naming the size and the bytes; see ``modalax_image.memory``).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from modalax.plugin import ConfigError, DataError, is_url, open_path
from modalax_image.config import ImageModalityConfig, ResizeMethod
from modalax_image.geometry import Placement, placement
from modalax_image.memory import check_fits

__all__ = ["DEFAULT_BACKGROUND", "background_pixel", "check_background", "decode_image", "pillow_extensions"]

#: Colour that transparent pixels are composited over when the representation has no alpha.
DEFAULT_BACKGROUND = (255, 255, 255)

ImageSource = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO

# Pillow registers these formats but cannot decode their pixels by itself: metadata-only
# readers (MPEG) and stubs that need a handler registered by another package.
_NO_PIXELS = frozenset({"MPEG", "BUFR", "GRIB", "HDF5", "WMF"})
_SIXTEEN_BIT = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})


@cache
def pillow_extensions() -> tuple[str, ...]:
    """Every file extension whose format Pillow can open and decode here (sorted, with dots)."""
    from PIL import EpsImagePlugin, Image

    Image.init()
    skip = set(_NO_PIXELS)
    if not EpsImagePlugin.has_ghostscript():  # EPS pixels need Ghostscript
        skip.add("EPS")
    found = (ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN and fmt not in skip)
    return tuple(sorted(found))


def check_background(owner: str, background: Any) -> tuple[int, int, int]:
    """``background`` as an ``(r, g, b)`` tuple of ints in [0, 255], else ``ConfigError``."""
    ok = (
        isinstance(background, Sequence | np.ndarray)
        and not isinstance(background, str)
        and len(background) == 3
        and all(isinstance(v, int | np.integer) and not isinstance(v, bool) and 0 <= v <= 255 for v in background)
    )
    if not ok:
        raise ConfigError(f"{owner}.background: got {background!r}, expected an (r, g, b) tuple of ints in [0, 255]")
    return (int(background[0]), int(background[1]), int(background[2]))


def _describe(src: Any) -> str:
    if isinstance(src, bytes | bytearray | memoryview):
        return f"<{len(src)} bytes>"
    if isinstance(src, str | os.PathLike) or is_url(src):
        return repr(str(src))
    name = getattr(src, "name", None)
    return repr(str(name)) if isinstance(name, str) else f"<{type(src).__name__}>"


def _open_arg(src: Any) -> Any:
    if isinstance(src, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(src))
    if is_url(src):  # a URL (s3://, https://, ...): read whole through modalax's path helper
        with open_path(src, "rb") as fh:
            return io.BytesIO(fh.read())
    if isinstance(src, str | os.PathLike):
        return Path(src)
    if callable(getattr(src, "read", None)):
        return src
    raise DataError(f"decode_image.src: got {type(src).__name__}, expected bytes, a path or a binary file object")


def _resample(config: ImageModalityConfig) -> Any:
    from PIL import Image

    return Image.Resampling.BILINEAR if config.resize_method == ResizeMethod.BILINEAR else Image.Resampling.NEAREST


def _has_alpha(img: Any) -> bool:
    return img.mode in _ALPHA_MODES or "transparency" in img.info


def _fit(img: Any, config: ImageModalityConfig) -> tuple[Any, Placement]:
    """``img`` resized as ``config.resize_mode`` says, and where it goes on the output."""
    height, width, _ = config.image_shape
    place = placement(img.height, img.width, height, width, str(config.resize_mode))
    full = place.box == (0.0, 0.0, float(img.width), float(img.height))
    (h, w), box = place.size, None if full else place.box
    if img.size != (w, h) or box is not None:
        # Pillow resizes RGBA premultiplied; bilinear here equals the image.resize kernel.
        img = img.resize((w, h), _resample(config), box=box)
    return img, place


def background_pixel(config: ImageModalityConfig, background: tuple[int, int, int]) -> np.ndarray:
    """The background colour in the representation, float32 in [0, 1] (alpha 1 for RGBA)."""
    return np.asarray(_background_values(config.representation.pil_mode, background), np.float32) / np.float32(255.0)


@cache
def _background_values(mode: str, background: tuple[int, int, int]) -> tuple[int, ...]:
    """Pillow's conversion of an RGB colour to ``mode`` (luma for L, alpha 255 for RGBA)."""
    from PIL import Image

    pixel = Image.new("RGB", (1, 1), background).convert(mode).getpixel((0, 0))
    return tuple(pixel) if isinstance(pixel, tuple) else (int(pixel),)  # type: ignore[arg-type]


def _place(array: np.ndarray, place: Placement, config: ImageModalityConfig, bg: np.ndarray) -> np.ndarray:
    """``array`` (the fitted image) on an output of the config's size filled with ``bg``."""
    height, width, channels = config.image_shape
    if array.shape[:2] == (height, width):
        return array
    out = np.empty((height, width, channels), np.float32)
    out[...] = bg
    (top, left), (h, w) = place.offset, place.size
    out[top : top + h, left : left + w] = array
    return out


def _eight_bit(img: Any, config: ImageModalityConfig, background: tuple[int, int, int]) -> np.ndarray:
    from PIL import Image

    target = config.representation.pil_mode
    if target != "RGBA" and _has_alpha(img):
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (*background, 255)), rgba).convert(target)
    else:
        img = img.convert(target)
    img, place = _fit(img, config)
    array = np.array(img, dtype=np.float32)
    array /= np.float32(255.0)  # in place: the same values as a division, one buffer less
    if array.ndim == 2:
        array = array[..., None]
    return _place(array, place, config, background_pixel(config, background))


def _high_bit_plane(img: Any, where: str) -> np.ndarray:
    """A 16-bit, 32-bit integer or float image as one float32 plane in [0, 1]."""
    if img.mode in _SIXTEEN_BIT:
        return np.asarray(img).astype(np.float32) / np.float32(65535.0)
    values = np.asarray(img)
    if img.mode == "F":
        lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo >= 0.0 and hi <= 1.0):
            raise DataError(
                f"cannot decode {where}: a 32-bit float image with values in [{lo}, {hi}], expected values in [0, 1]"
            )
        return values.astype(np.float32)
    lo, hi = (int(values.min()), int(values.max())) if values.size else (0, 0)
    if lo < 0 or hi > 65535:
        raise DataError(
            f"cannot decode {where}: a 32-bit integer image with values in [{lo}, {hi}], "
            "expected 16-bit data in [0, 65535]"
        )
    return values.astype(np.float32) / np.float32(65535.0)


def _high_bit(img: Any, config: ImageModalityConfig, where: str, background: tuple[int, int, int]) -> np.ndarray:
    from PIL import Image

    fitted, place = _fit(Image.fromarray(_high_bit_plane(img, where), "F"), config)
    gray = np.asarray(fitted, np.float32)[..., None]
    channels = config.representation.pil_mode
    if channels == "RGB":
        gray = np.repeat(gray, 3, axis=-1)
    elif channels == "RGBA":
        gray = np.concatenate([np.repeat(gray, 3, axis=-1), np.ones_like(gray)], axis=-1)
    return _place(gray, place, config, background_pixel(config, background))


def _check_memory(config: ImageModalityConfig, where: str) -> None:
    """Refuse an output size whose buffers (Pillow's 8-bit image and two float32 arrays) cannot fit."""
    height, width, channels = config.image_shape
    need = height * width * channels * (1 + 4 + 4)
    check_fits("decode_image", f"decoding {where} to {height}x{width}x{channels} float32", need, device=False)


def decode_image(
    src: ImageSource,
    config: ImageModalityConfig | None = None,
    *,
    exif_transpose: bool = True,
    background: Sequence[int] = DEFAULT_BACKGROUND,
) -> dict[str, np.ndarray]:
    """Decode one image to ``{"images": float32 (height, width, channels) in [0, 1]}``.

    ``src`` is the encoded bytes, a path or a binary file object. ``config`` gives the size and
    representation (default ``ImageModalityConfig()``). See the module docstring for how modes,
    bit depths, transparency (over ``background``) and EXIF orientation are handled. Anything
    Pillow cannot read raises ``DataError`` naming the file.
    """
    if config is None:
        config = ImageModalityConfig()
    if not isinstance(config, ImageModalityConfig):
        raise ConfigError(f"decode_image.config: got {type(config).__name__}, expected an ImageModalityConfig")
    if not isinstance(exif_transpose, bool):
        raise ConfigError(f"decode_image.exif_transpose: got {exif_transpose!r}, expected a bool")
    bg = check_background("decode_image", background)
    where = _describe(src)
    _check_memory(config, where)
    from PIL import Image, ImageOps

    try:
        with Image.open(_open_arg(src)) as opened:
            img: Any = opened
            if exif_transpose and opened.getexif().get(0x0112, 1) != 1:  # 0x0112: Orientation
                img = ImageOps.exif_transpose(opened)
            if img.mode in _SIXTEEN_BIT or img.mode in ("I", "F"):
                array = _high_bit(img, config, where, bg)
            else:
                array = _eight_bit(img, config, bg)
    except (DataError, ConfigError):
        raise
    except Exception as exc:  # Pillow raises OSError, ValueError, SyntaxError, struct.error, ...
        raise DataError(f"cannot decode {where}: {type(exc).__name__}: {exc}") from exc
    return {"images": np.ascontiguousarray(array, dtype=np.float32)}
