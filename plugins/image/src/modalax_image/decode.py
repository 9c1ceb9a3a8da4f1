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
* resized with Pillow to the config's size (bilinear with antialiasing, or nearest).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from modalax.plugin import ConfigError, DataError
from modalax_image.config import ImageModalityConfig, ResizeMethod

__all__ = ["DEFAULT_BACKGROUND", "check_background", "decode_image", "pillow_extensions"]

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
    if isinstance(src, str | os.PathLike):
        return repr(str(src))
    name = getattr(src, "name", None)
    return repr(str(name)) if isinstance(name, str) else f"<{type(src).__name__}>"


def _open_arg(src: Any) -> Any:
    if isinstance(src, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(src))
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


def _eight_bit(img: Any, config: ImageModalityConfig, background: tuple[int, int, int]) -> np.ndarray:
    from PIL import Image

    target = config.representation.pil_mode
    if target != "RGBA" and _has_alpha(img):
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (*background, 255)), rgba).convert(target)
    else:
        img = img.convert(target)
    height, width, _ = config.image_shape
    if img.size != (width, height):
        # Pillow resizes RGBA premultiplied; bilinear here equals the image.resize kernel.
        img = img.resize((width, height), _resample(config))
    array = np.asarray(img, dtype=np.float32) / np.float32(255.0)
    return array[..., None] if array.ndim == 2 else array


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


def _high_bit(img: Any, config: ImageModalityConfig, where: str) -> np.ndarray:
    from PIL import Image

    plane = _high_bit_plane(img, where)
    height, width, _ = config.image_shape
    if plane.shape != (height, width):
        plane = np.asarray(Image.fromarray(plane, "F").resize((width, height), _resample(config)), np.float32)
    gray = plane[..., None]
    channels = config.representation.pil_mode
    if channels == "L":
        return gray
    rgb = np.repeat(gray, 3, axis=-1)
    return rgb if channels == "RGB" else np.concatenate([rgb, np.ones_like(gray)], axis=-1)


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
    from PIL import Image, ImageOps

    try:
        with Image.open(_open_arg(src)) as opened:
            img: Any = opened
            if exif_transpose and opened.getexif().get(0x0112, 1) != 1:  # 0x0112: Orientation
                img = ImageOps.exif_transpose(opened)
            if img.mode in _SIXTEEN_BIT or img.mode in ("I", "F"):
                array = _high_bit(img, config, where)
            else:
                array = _eight_bit(img, config, bg)
    except DataError:
        raise
    except Exception as exc:  # Pillow raises OSError, ValueError, SyntaxError, struct.error, ...
        raise DataError(f"cannot decode {where}: {type(exc).__name__}: {exc}") from exc
    return {"images": np.ascontiguousarray(array, dtype=np.float32)}
