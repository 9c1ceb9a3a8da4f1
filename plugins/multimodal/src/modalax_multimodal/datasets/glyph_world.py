"""The readable world of the glyph-caption data: four latent factors and how each modality shows them.

A sample is a glyph (a digit 0-9 or a shape) with a colour, a size and a position on a 3x3 grid.

- **image**: the glyph's strokes (the image plugin's digit skeletons, kernel
  ``image.digit_segments``, and three shapes drawn here) rendered by the image plugin's glyph
  renderer (kernel ``image.render_glyph``) in the colour, scaled and moved, on black;
- **text**: a caption stating the four factors, "a small red seven at the top left", tokenized
  by the text plugin's word-level tokenizer: every caption is tokenized once, on the host, by a
  ``text/simple`` dataset over all of them (its vocabulary is built from the captions);
- **audio**: a tone whose pitch is the glyph, loudness the size, timbre (harmonics) the colour,
  and rhythm the position: as many notes as the column (1-3), held short/half/long by the row.

Everything in this module that runs per record is pure jax, vectorised by the caller.
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from modalax.plugin import get_kernel, get_modality_record, resolve

__all__ = [
    "COLOURS",
    "FACTOR_NAMES",
    "GLYPHS",
    "POSITIONS",
    "SIZES",
    "caption",
    "caption_tokenizer",
    "caption_table",
    "combo_index",
    "glyph_segments",
    "render_glyph_audio",
    "render_glyph_image",
]

GLYPHS: tuple[str, ...] = (
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    *("ring", "square", "triangle"),
)
#: name -> RGB in [0, 1], bright enough to read on black.
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (1.0, 0.15, 0.1),
    "green": (0.15, 0.85, 0.2),
    "blue": (0.25, 0.45, 1.0),
    "yellow": (1.0, 0.9, 0.1),
    "purple": (0.75, 0.3, 1.0),
    "cyan": (0.1, 0.9, 0.95),
}
SIZES: tuple[str, ...] = ("small", "large")
#: row-major over a 3x3 grid: index = 3 * row + column.
POSITIONS: tuple[str, ...] = (
    *("at the top left", "at the top", "at the top right"),
    *("on the left", "in the middle", "on the right"),
    *("at the bottom left", "at the bottom", "at the bottom right"),
)
FACTOR_NAMES: tuple[str, ...] = ("glyph", "colour", "size", "position")
#: levels of each factor, in ``FACTOR_NAMES`` order.
FACTOR_LEVELS: tuple[int, ...] = (len(GLYPHS), len(COLOURS), len(SIZES), len(POSITIONS))
CAPTION_LENGTH = 12  # BOS + at most 8 words + EOS, padded

# Glyph box as a fraction of the unit box per size, and how far each size may move from the
# centre (unit-box units) without leaving the picture.
_SCALE = (0.55, 0.85)
_SHIFT = (0.3, 0.16)
_JITTER = 0.02  # nuisance shift, unit-box units (about half a pixel at 32x32)
_LOUDNESS = (0.3, 0.9)
_SEMITONES = 2.0  # pitch step between consecutive glyphs, from A3 = 220 Hz
_HARMONICS = np.array(  # amplitude of partials 1..4 per colour: six audibly different timbres
    [[1, 0, 0, 0], [1, 0.5, 0, 0], [1, 0, 0.5, 0], [1, 0.5, 0.35, 0.25], [1, 0, 0.33, 0.0], [0.6, 0.6, 0.6, 0.6]],
    np.float32,
)
_DUTY = (0.3, 0.6, 0.95)  # fraction of each beat a note sounds, by row
_RAMP_S = 0.005


def _polygon(points: list[tuple[float, float]]) -> np.ndarray:
    closed = [*points, points[0]]
    return np.asarray([(*a, *b) for a, b in itertools.pairwise(closed)], np.float32)


@functools.lru_cache(maxsize=1)
def glyph_segments() -> np.ndarray:
    """``(len(GLYPHS), M, 4)`` stroke segments in the unit box: the ten digits, then ring, square, triangle."""
    digits = np.asarray(get_kernel("image.digit_segments")(), np.float32)
    angles = np.linspace(0.0, 2.0 * math.pi, 25)[:-1]
    shapes = [
        _polygon([(0.5 + 0.36 * math.cos(a), 0.5 + 0.36 * math.sin(a)) for a in angles]),
        _polygon([(0.18, 0.18), (0.82, 0.18), (0.82, 0.82), (0.18, 0.82)]),
        _polygon([(0.5, 0.14), (0.86, 0.84), (0.14, 0.84)]),
    ]
    m = digits.shape[1]
    padded = [np.concatenate([s, np.repeat(s[-1:], m - len(s), axis=0)]) for s in shapes]
    return np.concatenate([digits, np.stack(padded)]).astype(np.float32)


def caption(glyph: int, colour: int, size: int, position: int) -> str:
    """The caption of one combination of factor levels."""
    return f"a {SIZES[size]} {list(COLOURS)[colour]} {GLYPHS[glyph]} {POSITIONS[position]}"


def combo_index(factors: jax.Array) -> jax.Array:
    """Row of ``caption_table`` for ``factors (..., 4)`` (glyph, colour, size, position)."""
    index = jnp.zeros(factors.shape[:-1], jnp.int32)
    for f, levels in enumerate(FACTOR_LEVELS):
        index = index * levels + factors[..., f]
    return index


@functools.lru_cache(maxsize=1)
def _captions() -> tuple[Any, np.ndarray]:
    """The text plugin's word-level tokenizer over every caption, and every caption's tokens (combo order)."""
    import modalax

    combos = np.stack(np.meshgrid(*[np.arange(n) for n in FACTOR_LEVELS], indexing="ij"), -1).reshape(-1, 4)
    texts = [caption(*map(int, c)) for c in combos]
    words = {w for t in texts for w in t.split()}
    params = resolve(get_modality_record("text").config_class)(vocab_size=len(words) + 4, max_length=CAPTION_LENGTH)
    dataset = modalax.create_dataset("text", "simple", config=params, texts=texts)
    tokens = np.asarray(dataset.get_records(np.arange(len(texts)))["text_tokens"], np.int32)
    return dataset.tokenizer, tokens


def caption_tokenizer() -> Any:
    """The text plugin's word-level tokenizer of the captions (``tokenize``/``detokenize``, ``vocabulary``)."""
    return _captions()[0]


def caption_table() -> np.ndarray:
    """``(prod(FACTOR_LEVELS), CAPTION_LENGTH)`` int32 tokens of every caption, in ``combo_index`` order."""
    return _captions()[1]


def render_glyph_image(
    segments: jax.Array, colours: jax.Array, factors: jax.Array, nuisance: jax.Array, shape: tuple[int, int, int]
) -> jax.Array:
    """One ``(H, W, 3)`` image: the glyph of ``factors`` in its colour, size and position, on black.

    ``nuisance`` holds three uniforms in [0, 1): stroke width, x and y jitter.
    """
    glyph, colour, size, position = factors[0], factors[1], factors[2], factors[3]
    row, col = position // 3, position % 3
    scale = jnp.asarray(_SCALE)[size]
    shift = jnp.asarray(_SHIFT)[size] * (jnp.stack([col, row]).astype(jnp.float32) - 1.0)
    shift = shift + (nuisance[1:3] * 2.0 - 1.0) * _JITTER
    seg = segments[glyph]
    xy = (seg.reshape(-1, 2, 2) - 0.5) * scale + 0.5 + shift
    # render_glyph's own draws (offset, scale, aspect, rotation) held neutral; stroke width is nuisance
    u = jnp.stack([nuisance[0] * 0.4, 0.5, 0.5, 0.6, 0.6, 0.5])
    ink = get_kernel("image.render_glyph")(xy.reshape(-1, 4), u, (shape[0], shape[1], 1))
    return ink * colours[colour][None, None, : shape[2]]


def render_glyph_audio(factors: jax.Array, nuisance: jax.Array, num_samples: int, sample_rate: int) -> jax.Array:
    """One ``(T,)`` waveform in [-1, 1] of ``factors``; ``nuisance``: two uniforms (detune, phase)."""
    glyph, colour, size, position = factors[0], factors[1], factors[2], factors[3]
    row, col = position // 3, position % 3
    t = jnp.arange(num_samples, dtype=jnp.float32) / sample_rate
    f0 = 220.0 * 2.0 ** (_SEMITONES * glyph.astype(jnp.float32) / 12.0) * (1.0 + 0.01 * (nuisance[0] - 0.5))
    partials = jnp.arange(1, _HARMONICS.shape[1] + 1, dtype=jnp.float32)
    nyquist_ok = (partials * f0 < 0.45 * sample_rate).astype(jnp.float32)
    weights = jnp.asarray(_HARMONICS)[colour] * nyquist_ok
    phase = 2.0 * math.pi * (f0 * partials[:, None] * t[None, :] + nuisance[1])
    tone = jnp.sum(weights[:, None] * jnp.sin(phase), axis=0) / jnp.sum(jnp.asarray(_HARMONICS)[colour])
    beats = (col + 1).astype(jnp.float32)
    beat = t * beats / (num_samples / sample_rate)
    frac = (beat - jnp.floor(beat)) * (num_samples / sample_rate) / beats  # seconds into the beat
    held = jnp.asarray(_DUTY)[row] * (num_samples / sample_rate) / beats
    envelope = jnp.clip(frac / _RAMP_S, 0.0, 1.0) * jnp.clip((held - frac) / _RAMP_S, 0.0, 1.0)
    return jnp.asarray(_LOUDNESS)[size] * envelope * tone
