"""The previewer of ``modalax preview image ...``: a PNG grid of the images (+ their labels)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from modalax.plugin import image_grid, save_png, save_text

__all__ = ["preview"]


def preview(batch: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write ``images.png`` (a grid, small images enlarged) and ``labels.txt`` when labelled."""
    images = np.asarray(batch["images"])
    if images.ndim == 3:
        images = images[None]
    value_range = None
    if images.dtype != np.uint8:
        value_range = (-1.0, 1.0) if float(np.min(images)) < 0.0 else (0.0, 1.0)
    grid = image_grid(images, value_range=value_range)
    scale = max(1, 128 // max(images.shape[1], images.shape[2]))
    written = [save_png(grid, Path(out_dir) / "images.png", scale=scale)]
    if "labels" in batch:
        labels = np.asarray(batch["labels"]).reshape(-1)
        written.append(save_text([str(int(v)) for v in labels], Path(out_dir) / "labels.txt"))
    return written
