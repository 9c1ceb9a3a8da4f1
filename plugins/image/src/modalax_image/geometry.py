"""Where an image of one size lands in another: the geometry of the three resize modes.

One pure-Python function, used by ``decode_image`` (Pillow) and the ``image.resize`` kernel
(jax), so a file decoded with ``resize_mode="pad"`` and an array resized with ``mode="pad"``
have the same layout. The rules are Pillow's ``ImageOps``:

* ``stretch``: the whole source scaled to the whole target (the aspect changes);
* ``pad`` (``ImageOps.pad``, centred): the source scaled to fit inside the target, the scaled
  side ``round(src_side * target_other / src_other)`` (Python's ``round``), at least 1 pixel,
  placed at ``round(free / 2)`` on the padded axis;
* ``crop`` (``ImageOps.fit``, centred, no bleed): the centred source box of the target's aspect
  ratio, in fractional pixels, scaled to the whole target.

Costs nothing: a few float operations per image, no pixels touched.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RESIZE_MODES", "Placement", "placement"]

RESIZE_MODES = ("stretch", "pad", "crop")


@dataclass(frozen=True)
class Placement:
    """The source ``box`` (left, top, right, bottom; fractional pixels) is resized to ``size``
    (height, width) and placed at ``offset`` (top, left) of the target."""

    box: tuple[float, float, float, float]
    size: tuple[int, int]
    offset: tuple[int, int]


def placement(src_height: int, src_width: int, height: int, width: int, mode: str) -> Placement:
    """Where a ``src_height x src_width`` image goes in a ``height x width`` one, for ``mode``."""
    full = (0.0, 0.0, float(src_width), float(src_height))
    if mode == "stretch" or src_width * height == src_height * width:
        return Placement(full, (height, width), (0, 0))
    src_ratio, ratio = src_width / src_height, width / height
    if mode == "pad":
        if src_ratio > ratio:  # wider than the target: bars above and below
            h = max(1, min(height, round(src_height / src_width * width)))
            return Placement(full, (h, width), (round((height - h) * 0.5), 0))
        w = max(1, min(width, round(src_width / src_height * height)))
        return Placement(full, (height, w), (0, round((width - w) * 0.5)))
    if mode == "crop":
        if src_ratio >= ratio:  # wider: cut the sides
            crop_w, crop_h = ratio * src_height, float(src_height)
        else:
            crop_w, crop_h = float(src_width), src_width / ratio
        left, top = (src_width - crop_w) * 0.5, (src_height - crop_h) * 0.5
        return Placement((left, top, left + crop_w, top + crop_h), (height, width), (0, 0))
    raise ValueError(f"resize mode {mode!r}: expected one of {RESIZE_MODES}")  # callers validate first
