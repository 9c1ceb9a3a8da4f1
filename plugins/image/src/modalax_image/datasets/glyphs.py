"""Stroke skeletons of the digits 0-9 in a unit box (x right, y down), as line segments.

Each digit is a few polylines; arcs are sampled finely enough that the rendered strokes look
round at 28x28 and above.  ``segment_table()`` pads every digit to the same number of
segments (repeating its last one, which changes no distance) so rendering is one gather.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

_ARC_STEPS = 12


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float) -> list[tuple[float, float]]:
    """Points of an elliptical arc; angles in degrees, 0 = right, 90 = down."""
    n = max(2, int(abs(stop - start) / 360 * 2 * _ARC_STEPS) + 1)
    angles = np.deg2rad(np.linspace(start, stop, n))
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


_DIGITS: dict[int, list[list[tuple[float, float]]]] = {
    0: [_arc(0.5, 0.5, 0.26, 0.38, 0, 360)],
    1: [[(0.36, 0.26), (0.54, 0.1), (0.54, 0.9)], [(0.38, 0.9), (0.7, 0.9)]],
    2: [_arc(0.5, 0.32, 0.24, 0.2, 190, 370) + [(0.22, 0.9), (0.8, 0.9)]],
    3: [_arc(0.48, 0.3, 0.22, 0.19, 200, 450), _arc(0.48, 0.68, 0.26, 0.21, 270, 520)],
    4: [[(0.64, 0.9), (0.64, 0.1), (0.2, 0.64), (0.82, 0.64)]],
    5: [[(0.76, 0.1), (0.32, 0.1), (0.29, 0.46)] + _arc(0.5, 0.64, 0.26, 0.25, 235, 505)],
    6: [[(0.7, 0.12), (0.5, 0.26), (0.3, 0.55)], _arc(0.5, 0.66, 0.22, 0.22, 0, 360)],
    7: [[(0.2, 0.1), (0.8, 0.1), (0.42, 0.9)], [(0.38, 0.5), (0.7, 0.5)]],
    8: [_arc(0.5, 0.29, 0.19, 0.18, 0, 360), _arc(0.5, 0.69, 0.24, 0.21, 0, 360)],
    9: [_arc(0.5, 0.34, 0.22, 0.22, 0, 360), [(0.72, 0.36), (0.66, 0.6), (0.5, 0.9)]],
}


def _segments(polylines: list[list[tuple[float, float]]]) -> np.ndarray:
    segs = [(*a, *b) for line in polylines for a, b in itertools.pairwise(line)]
    return np.asarray(segs, np.float32)


@functools.lru_cache(maxsize=1)
def segment_table() -> np.ndarray:
    """``(10, M, 4)`` float32 segments ``(x0, y0, x1, y1)`` per digit, padded to ``M``."""
    per_digit = [_segments(_DIGITS[d]) for d in range(10)]
    m = max(len(s) for s in per_digit)
    table = np.stack([np.concatenate([s, np.repeat(s[-1:], m - len(s), axis=0)]) for s in per_digit])
    return table.astype(np.float32)
