"""Glyph-caption data (``multimodal/glyphs``): captions state the picture, sounds encode it, alignment is controlled."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import modalax
from modalax import ConfigError, DataLoader
from modalax_multimodal.caption_to_image import CaptionToImageGenerator, per_image_correlation
from modalax_multimodal.datasets.glyph_world import (
    COLOURS,
    GLYPHS,
    POSITIONS,
    SIZES,
    caption,
    glyph_segments,
    render_glyph_audio,
    render_glyph_image,
)
from modalax_multimodal.datasets.glyphs import GlyphCaptionDataset, create_glyph_caption_dataset

N = 64


@pytest.fixture(scope="module")
def aligned() -> GlyphCaptionDataset:
    return create_glyph_caption_dataset(N, 1.0, seed=3)


def test_registered_shapes_and_ranges(aligned: GlyphCaptionDataset) -> None:
    ds = modalax.create_dataset("multimodal", "glyphs", dataset_size=8, seed=3)
    b = ds.get_records(np.arange(8))
    assert b["image"].shape == (8, 32, 32, 3) and b["image"].dtype == np.float32
    assert b["text"].shape == (8, 12) and b["text"].dtype == np.int32
    assert b["audio"].shape == (8, 4000) and b["factors"].shape == (8, 4)
    assert float(b["image"].min()) >= 0.0 and float(b["image"].max()) <= 1.0
    assert float(np.abs(b["audio"]).max()) <= 1.0
    # same seed through the registry and directly: same records
    np.testing.assert_array_equal(b["text"], aligned.get_records(np.arange(8))["text"])


def test_caption_states_the_factors_in_words(aligned: GlyphCaptionDataset) -> None:
    b = aligned.get_records(np.arange(N))
    words = aligned.captions(b["text"])
    for text, (g, c, s, p) in zip(words, np.asarray(b["factors"]), strict=True):
        assert text == f"a {SIZES[s]} {list(COLOURS)[c]} {GLYPHS[g]} {POSITIONS[p]}"
    assert caption(7, 0, 0, 0) == "a small red seven at the top left"
    assert aligned.describe(b["factors"]) == words


def _ink_box(img: np.ndarray) -> tuple[float, float, float]:
    ys, xs = np.nonzero(img.max(-1) > 0.5)
    return (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2, ys.max() - ys.min()


def test_image_shows_colour_position_and_size(aligned: GlyphCaptionDataset) -> None:
    b = aligned.get_records(np.arange(N))
    colours = np.asarray(list(COLOURS.values()))
    for img, c in zip(np.asarray(b["image"]), np.asarray(b["factors"])[:, 1], strict=True):
        ink = img.max(-1) > 0.5
        mean_rgb = img[ink].mean(0)
        assert np.argmin(np.abs(colours / colours.max(1, keepdims=True) - mean_rgb / mean_rgb.max()).sum(1)) == c
    segments, table = jax.numpy.asarray(glyph_segments()), jax.numpy.asarray(colours, jax.numpy.float32)
    still = jax.numpy.asarray([0.5, 0.5, 0.5])

    draw = jax.jit(lambda f: render_glyph_image(segments, table, f, still, (32, 32, 3)))

    def render(*factors: int) -> np.ndarray:
        return np.asarray(draw(jax.numpy.asarray(factors)))

    box = 0.85 * 32  # pixels of the unit box
    for glyph in (1, 7, 8, 12):
        for size, shift in ((0, 0.3), (1, 0.16)):
            (x0, y0, _), (x2, y2, _) = _ink_box(render(glyph, 2, size, 0)), _ink_box(render(glyph, 2, size, 8))
            assert x2 - x0 == pytest.approx(2 * shift * box, abs=1.0) and y2 - y0 == pytest.approx(
                2 * shift * box, abs=1
            )
            assert _ink_box(render(glyph, 2, size, 4))[:2] == pytest.approx(((x0 + x2) / 2, (y0 + y2) / 2), abs=1.0)
        small, large = _ink_box(render(glyph, 2, 0, 4))[2], _ink_box(render(glyph, 2, 1, 4))[2]
        assert large / small == pytest.approx(0.85 / 0.55, rel=0.15)


def test_sound_encodes_pitch_loudness_and_rhythm() -> None:
    rate, n = 8000, 4000

    def clip(glyph: int, colour: int, size: int, position: int) -> np.ndarray:
        f = jax.numpy.asarray([glyph, colour, size, position])
        return np.asarray(render_glyph_audio(f, jax.numpy.asarray([0.5, 0.0]), n, rate))

    spectrum = np.abs(np.fft.rfft(clip(0, 0, 1, 4)))
    assert np.fft.rfftfreq(n, 1 / rate)[spectrum.argmax()] == pytest.approx(220.0, abs=2.0)  # zero = A3, pure sine
    spectrum = np.abs(np.fft.rfft(clip(6, 0, 1, 4)))
    assert np.fft.rfftfreq(n, 1 / rate)[spectrum.argmax()] == pytest.approx(440.0, abs=3.0)  # six = 6 whole tones up
    assert np.abs(clip(3, 0, 1, 4)).max() == pytest.approx(3 * np.abs(clip(3, 0, 0, 4)).max(), rel=1e-3)  # loudness
    for col in range(3):  # notes per clip = column + 1 (count rising edges of the envelope)
        on = np.abs(clip(3, 0, 1, col)) > 0.05
        onsets = np.flatnonzero(np.convolve(on, np.ones(40), "same") > 0)
        assert 1 + int(np.sum(np.diff(onsets) > 1)) == col + 1


@pytest.mark.parametrize(("strength", "low", "high"), [(1.0, 1.0, 1.0), (0.0, 0.0, 0.35)])
def test_alignment_strength_controls_agreement(strength: float, low: float, high: float) -> None:
    ds = GlyphCaptionDataset(256, strength, rngs=1)
    f = np.asarray(ds.get_records(np.arange(256))["modality_factors"])
    agree = (f[:, 0] == f[:, 1]).all(-1).mean(), (f[:, 0] == f[:, 2]).all(-1).mean()
    assert all(low <= a <= high for a in agree), agree
    text_glyph = (f[:, 1, 0] == f[:, 0, 0]).mean()
    assert (text_glyph == 1.0) if strength == 1.0 else text_glyph < 0.25


def test_pure_function_of_seed_split_index_and_loader_agrees() -> None:
    ds = GlyphCaptionDataset(40, 0.5, rngs=9)
    a = ds.get_records(np.array([5, 17, 3]))
    b = ds.get_records(np.array([3, 5]))
    np.testing.assert_array_equal(a["image"][0], b["image"][1])
    np.testing.assert_array_equal(a["audio"][2], b["audio"][0])
    other = GlyphCaptionDataset(40, 0.5, rngs=9, split="val").get_records(np.array([5]))
    assert not np.array_equal(other["text"], a["text"][:1]) or not np.array_equal(other["image"], a["image"][:1])
    batches = list(DataLoader(ds, 16, shuffle=False, drop_last=True))
    np.testing.assert_allclose(batches[1]["image"], ds.get_records(np.arange(16, 32))["image"], atol=1e-6)
    np.testing.assert_array_equal(batches[0]["text"], ds.get_records(np.arange(16))["text"])


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"alignment_strength": 1.5}, "alignment_strength"),
        ({"alignment_strength": float("nan")}, "alignment_strength"),
        ({"image_size": 8}, "image_size"),
        ({"num_samples": 0}, "dataset_size"),
        ({"seed": 1, "rngs": 2}, "seed"),
    ],
)
def test_bad_config_is_a_config_error(kwargs: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        create_glyph_caption_dataset(**kwargs)


def test_generator_shapes_and_correlation_metric() -> None:
    from flax import nnx

    gen = CaptionToImageGenerator(40, 12, (8, 8, 3), embed_dim=4, hidden_dim=8, rngs=nnx.Rngs(0))
    tokens = np.full((3, 12), 5, np.int32)
    assert gen(tokens).shape == (3, 8, 8, 3) and gen(tokens[0]).shape == (8, 8, 3)
    rng = np.random.default_rng(0)
    x = rng.random((4, 8, 8, 3)).astype(np.float32)
    r = np.asarray(per_image_correlation(x, 2.0 * x + 1.0))
    np.testing.assert_allclose(r, 1.0, atol=1e-5)
    y = rng.random((4, 8, 8, 3)).astype(np.float32)
    expected = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(x, y, strict=True)]
    np.testing.assert_allclose(per_image_correlation(x, y), expected, atol=1e-5)
