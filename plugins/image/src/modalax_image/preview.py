"""The previewer of ``modalax preview image ...``: the images as a grid, each tile named by its class.

With matplotlib (``have_matplotlib()``) ``images.png`` is a figure: a title saying how many
images of how many were drawn, at what size and how they were resized, and each tile titled
with its class name; without it, a plain Pillow grid. ``labels.txt`` lists each tile's label
and class name either way. Which records are drawn is the caller's choice (``modalax preview``
spreads a seeded draw over the classes of a folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from modalax.plugin import have_matplotlib, image_grid, plot_image_grid, save_png, save_text

__all__ = ["preview"]


def preview(batch: dict[str, Any], out_dir: Path, dataset: Any = None) -> list[Path]:
    """Write ``images.png`` (small images enlarged) and, for labelled records, ``labels.txt``."""
    out_dir = Path(out_dir)
    images = np.asarray(batch["images"])
    if images.ndim == 3:
        images = images[None]
    value_range = None
    if images.dtype != np.uint8:
        value_range = (-1.0, 1.0) if float(np.min(images)) < 0.0 else (0.0, 1.0)
    labels = np.asarray(batch["labels"]).reshape(-1) if "labels" in batch else None
    names = list(getattr(dataset, "class_names", None) or [])
    tiles = None if labels is None else [_class_name(int(v), names) for v in labels]
    if have_matplotlib():
        ncols = min(len(images), 8)
        path = out_dir / "images.png"
        written = [
            plot_image_grid(
                images, path, labels=tiles, ncols=ncols, title=_title(images, dataset), value_range=value_range
            )
        ]
    else:
        grid = image_grid(images, value_range=value_range)
        scale = max(1, 128 // max(images.shape[1], images.shape[2]))
        written = [save_png(grid, out_dir / "images.png", scale=scale)]
    if labels is not None and tiles is not None:
        rows = [
            f"{int(v)} {name}" if name != str(int(v)) else str(int(v)) for v, name in zip(labels, tiles, strict=True)
        ]
        written.append(save_text(rows, out_dir / "labels.txt"))
    return written


def _class_name(label: int, names: list[str]) -> str:
    return names[label] if 0 <= label < len(names) else str(label)


def _title(images: np.ndarray, dataset: Any) -> str:
    """What the grid shows: how many images of how many, their size and, for files, how they were resized."""
    total = len(dataset) if dataset is not None and hasattr(dataset, "__len__") else len(images)
    h, w = images.shape[1:3]
    names = getattr(dataset, "class_names", None) or []
    line = f"{len(images)} of {total:,} images" + (f", {len(names)} classes" if names else "") + f", {h}x{w} pixels"
    config = getattr(dataset, "config", None)
    mode = getattr(config, "resize_mode", None)
    if getattr(dataset, "paths", None) is not None and mode is not None:
        mode_name = getattr(mode, "value", mode)
        keeps = "aspect ratio kept" if mode_name in ("pad", "crop") else "aspect ratio NOT kept: --set resize_mode=pad"
        line += f"\nresized with resize_mode={mode_name!r} ({keeps})"
    return line
