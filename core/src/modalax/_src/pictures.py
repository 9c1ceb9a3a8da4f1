"""Pictures and sounds written without matplotlib: PNG images and grids, WAV files, text.

Pillow is imported only when a PNG is written (it is not a core dependency); WAV files use the
standard library's ``wave``. ``modalax._src.viz`` re-exports these beside its figures, so
plugins find every preview helper in one place.
"""

from __future__ import annotations

import warnings
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.install_hints import pip_install

__all__ = ["colormap", "image_grid", "save_png", "save_text", "save_wav", "to_uint8"]


def to_uint8(images: Any, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """Scale float images to uint8; ``value_range`` defaults to the data's min and max."""
    x = np.asarray(images)
    if x.dtype == np.uint8:
        return x
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise DataError("to_uint8: images contain NaN or inf; expected finite values")
    lo, hi = value_range if value_range is not None else (float(x.min()), float(x.max()))
    if hi <= lo:
        hi = lo + 1.0
    return np.clip(np.round((x - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8)


def image_grid(
    images: Any, ncols: int | None = None, pad: int = 2, value_range: tuple[float, float] | None = None
) -> np.ndarray:
    """Tile ``(N, H, W[, C])`` images into one uint8 ``(rows*H, cols*W, C)`` picture."""
    x = to_uint8(images, value_range)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise DataError(f"image_grid: got shape {x.shape}, expected (N, H, W) or (N, H, W, C)")
    n, h, w, c = x.shape
    if c == 4:
        x, c = x[..., :3], 3
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), 255, np.uint8)
    for i in range(n):
        r, col = divmod(i, ncols)
        grid[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + col * (w + pad) : pad + col * (w + pad) + w] = x[i]
    return grid


def save_png(array: Any, path: str | Path, *, scale: int = 1) -> Path:
    """Write a uint8 ``(H, W)``/``(H, W, C)`` array (or floats, min-max scaled) as PNG."""
    try:
        from PIL import Image
    except ImportError as exc:
        raise ConfigError(f"save_png needs Pillow, which is not installed: {pip_install('pillow>=10')}") from exc
    x = to_uint8(array)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    img = Image.fromarray(x)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def colormap(values: Any) -> np.ndarray:
    """Map values in [0, 1] to RGB uint8 with a perceptually ordered dark-to-bright ramp."""
    v = np.clip(np.asarray(values, np.float64), 0.0, 1.0)
    anchors = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], np.float64)
    pos = v * (len(anchors) - 1)
    i = np.minimum(pos.astype(int), len(anchors) - 2)
    t = (pos - i)[..., None]
    return np.round(anchors[i] * (1 - t) + anchors[i + 1] * t).astype(np.uint8)


def save_wav(audio: Any, path: str | Path, sample_rate: int, *, sample_width: int = 2) -> Path:
    """Write mono float audio as PCM WAV (16-bit by default) that never clips.

    Audio peaking above 1.0 (after a gain, say) is scaled down by its peak, with a warning that
    names the file and the peak, instead of being clipped into audible distortion.
    """
    x = np.asarray(audio, np.float64).reshape(-1)
    if not np.all(np.isfinite(x)):
        raise DataError(f"save_wav({str(path)!r}): audio contains NaN or inf")
    if sample_width not in (1, 2, 4):
        raise ConfigError(f"save_wav.sample_width: got {sample_width!r}, expected 1, 2 or 4 bytes")
    top = float(np.max(np.abs(x))) if x.size else 0.0
    if top > 1.0:
        warnings.warn(
            f"save_wav({str(path)!r}): audio peaks at {top:.3f} > 1.0; scaled down by that peak so it does not clip",
            RuntimeWarning,
            stacklevel=2,
        )
        x = x / top
    x = np.clip(x, -1.0, 1.0)
    if sample_width == 1:
        data = np.round((x + 1.0) * 127.5).astype(np.uint8).tobytes()
    else:
        peak = 2 ** (8 * sample_width - 1) - 1
        data = np.round(x * peak).astype(np.int16 if sample_width == 2 else np.int32).tobytes()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(sample_width)
        f.setframerate(int(sample_rate))
        f.writeframes(data)
    return path


def save_text(lines: Sequence[str], path: str | Path) -> Path:
    """Write one sample a line (numbered) to a UTF-8 text file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{i:4d}: {line}\n" for i, line in enumerate(lines)), encoding="utf-8")
    return path
