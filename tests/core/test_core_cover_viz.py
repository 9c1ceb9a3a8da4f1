"""modalax._src.viz: the pixels, samples and figure sizes each helper writes, and its errors."""

from __future__ import annotations

import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from modalax import ConfigError, DataError
from modalax._src import viz

PIL = pytest.importorskip("PIL.Image")


def _png(path: Path) -> np.ndarray:
    with PIL.open(path) as img:
        return np.asarray(img)


def _size(path: Path) -> tuple[int, int]:
    with PIL.open(path) as img:
        return img.size


@pytest.fixture
def mpl() -> None:
    pytest.importorskip("matplotlib")


@pytest.fixture
def no_mpl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(viz, "have_matplotlib", lambda: False)


# ------------------------------------------------------------------ arrays
def test_to_uint8_scales_min_max_or_given_range_and_passes_uint8_through() -> None:
    assert viz.to_uint8([0.0, 0.5, 1.0]).tolist() == [0, 128, 255]
    assert viz.to_uint8([2.0, 4.0]).tolist() == [0, 255]
    assert viz.to_uint8([-1.0, 0.5, 2.0], value_range=(0.0, 1.0)).tolist() == [0, 128, 255]
    assert viz.to_uint8(np.full((2, 2), 7.0)).tolist() == [[0, 0], [0, 0]]  # a flat image is not a division by 0
    u = np.array([1, 200], np.uint8)
    assert viz.to_uint8(u) is u


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_to_uint8_rejects_non_finite(bad: float) -> None:
    with pytest.raises(DataError, match="NaN or inf"):
        viz.to_uint8(np.array([0.0, bad]))


def test_image_grid_places_each_image_on_a_white_canvas() -> None:
    imgs = np.stack([np.full((2, 3), v, np.uint8) for v in (10, 20, 30)])
    grid = viz.image_grid(imgs, pad=1)  # 3 images: 2 columns, 2 rows
    assert grid.shape == (2 * 3 + 1, 2 * 4 + 1, 1) and grid.dtype == np.uint8
    assert (grid[1:3, 1:4, 0] == 10).all() and (grid[1:3, 5:8, 0] == 20).all() and (grid[4:6, 1:4, 0] == 30).all()
    assert (grid[4:6, 5:8] == 255).all()  # the empty cell
    assert (grid[0] == 255).all() and (grid[:, 4] == 255).all()  # padding
    wide = viz.image_grid(imgs, ncols=3, pad=0)
    assert wide.shape == (2, 9, 1) and wide[0, :, 0].tolist() == [10] * 3 + [20] * 3 + [30] * 3


def test_image_grid_drops_alpha_and_rejects_other_ranks() -> None:
    rgba = np.zeros((1, 2, 2, 4), np.uint8)
    rgba[..., 3] = 255
    assert viz.image_grid(rgba, pad=0).shape == (2, 2, 3)
    with pytest.raises(DataError, match=r"got shape \(4, 4\), expected \(N, H, W\)"):
        viz.image_grid(np.zeros((4, 4)))


def test_colormap_hits_its_anchors_and_interpolates() -> None:
    out = viz.colormap([0.0, 0.25, 1.0, -3.0, 9.0, 0.125])
    assert out.dtype == np.uint8
    assert out.tolist() == [[0, 0, 4], [87, 16, 110], [252, 255, 164], [0, 0, 4], [252, 255, 164], [44, 8, 57]]


def test_token_preview_pairs_words_with_ids() -> None:
    assert viz.token_preview(np.array([[3, 1]])) == "3 1"
    assert viz.token_preview([3, 1], ["the", "cat"]) == "the(3) cat(1)"
    with pytest.raises(DataError, match="got 1 tokens for 2 ids"):
        viz.token_preview([3, 1], ["the"])


# ------------------------------------------------------------ Pillow files
def test_save_png_round_trips_and_scales(tmp_path: Path) -> None:
    x = np.array([[0, 255], [128, 7]], np.uint8)
    path = viz.save_png(x[..., None], tmp_path / "deep" / "a.png")  # parent folders are made
    assert path == tmp_path / "deep" / "a.png"
    assert _png(path).tolist() == x.tolist()  # (H, W, 1) is written as grayscale
    big = _png(viz.save_png(x, tmp_path / "b.png", scale=3))
    assert big.shape == (6, 6) and (big[:3, 3:] == 255).all() and (big[3:, 3:] == 7).all()
    rgb = _png(viz.save_png(np.linspace(0, 1, 12).reshape(2, 2, 3), tmp_path / "c.png"))
    assert rgb.shape == (2, 2, 3) and rgb[0, 0, 0] == 0 and rgb[1, 1, 2] == 255


def test_pillow_helpers_without_pillow_raise_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_mpl: None
) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ConfigError, match="save_png needs Pillow"):
        viz.save_png(np.zeros((2, 2), np.uint8), tmp_path / "a.png")
    with pytest.raises(ConfigError, match="save_line_plot needs Pillow"):
        viz.save_line_plot([1.0, 2.0], tmp_path / "b.png")
    assert not list(tmp_path.iterdir())


def test_save_spectrogram_png_without_axes_puts_low_frequencies_at_the_bottom(tmp_path: Path) -> None:
    spec = np.full((4, 3), -200.0)
    spec[0] = 0.0  # the lowest frequency row is loud
    img = _png(viz.save_spectrogram_png(spec, tmp_path / "s.png", scale=2))
    assert img.shape == (8, 6, 3)
    assert (img[-2:] == [252, 255, 164]).all()  # bottom rows: the loud row at the top of the colour ramp
    assert (img[:-2] == [0, 0, 4]).all()  # 200 dB down is clipped to the bottom of the 80 dB range


def test_save_spectrogram_png_rejects_non_2d(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"save_spectrogram_png: got shape \(5,\), expected \(freq, time\)"):
        viz.save_spectrogram_png(np.zeros(5), tmp_path / "s.png")
    assert not (tmp_path / "s.png").exists()


def test_save_spectrogram_png_with_rate_and_hop_is_a_figure(tmp_path: Path, mpl: None) -> None:
    path = viz.save_spectrogram_png(np.zeros((8, 5)), tmp_path / "f.png", sample_rate=16000, hop_length=160, title="t")
    assert _size(path) == (500, 300)  # plot_spectrogram's 5 x 3 inch figure at 100 dpi


@pytest.mark.parametrize(("width", "dtype", "peak"), [(2, np.int16, 32767), (4, np.int32, 2**31 - 1)])
def test_save_wav_writes_signed_pcm(tmp_path: Path, width: int, dtype: type, peak: int) -> None:
    path = viz.save_wav([0.0, 0.5, -1.0, 1.0], tmp_path / "a" / "x.wav", 8000, sample_width=width)
    with wave.open(str(path)) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate(), f.getnframes()) == (1, width, 8000, 4)
        got = np.frombuffer(f.readframes(4), dtype).tolist()
    assert got == [0, round(0.5 * peak), -peak, peak]


def test_save_wav_scales_loud_audio_instead_of_clipping(tmp_path: Path) -> None:
    with pytest.warns(RuntimeWarning, match=r"x.wav'\): audio peaks at 4.000 > 1.0; scaled down"):
        path = viz.save_wav([0.0, 1.0, -2.0, 4.0], tmp_path / "x.wav", 8000)
    with wave.open(str(path)) as f:
        got = np.frombuffer(f.readframes(4), np.int16).tolist()
    assert got == [0, round(0.25 * 32767), round(-0.5 * 32767), 32767]  # the shape kept, nothing clipped


def test_save_wav_8_bit_is_unsigned(tmp_path: Path) -> None:
    path = viz.save_wav(np.array([[-1.0, 0.0, 1.0]]), tmp_path / "x.wav", 100, sample_width=1)
    with wave.open(str(path)) as f:
        assert f.getsampwidth() == 1
        assert np.frombuffer(f.readframes(3), np.uint8).tolist() == [0, 128, 255]


def test_save_wav_rejects_bad_audio_and_widths(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"save_wav\('.*x.wav'\): audio contains NaN"):
        viz.save_wav([0.0, np.nan], tmp_path / "x.wav", 100)
    with pytest.raises(ConfigError, match="sample_width: got 3, expected 1, 2 or 4"):
        viz.save_wav([0.0], tmp_path / "x.wav", 100, sample_width=3)
    assert not (tmp_path / "x.wav").exists()


def test_save_text_numbers_lines(tmp_path: Path) -> None:
    path = viz.save_text(["héllo", "b"], tmp_path / "t" / "x.txt")
    assert path.read_text(encoding="utf-8") == "   0: héllo\n   1: b\n"


def test_save_line_plot_pillow_sketch(tmp_path: Path, no_mpl: None) -> None:
    img = _png(viz.save_line_plot([3.0, 1.0, 2.0], tmp_path / "p" / "l.png", size=(200, 100), title="loss"))
    assert img.shape == (100, 200, 3)
    red = (img[..., 0] > 150) & (img[..., 1] < 100)
    assert red.any()  # the curve is drawn
    flat = _png(viz.save_line_plot([1.0, 1.0], tmp_path / "flat.png"))
    assert flat.shape == (280, 480, 3)


@pytest.mark.parametrize(
    ("values", "fragment"),
    [([1.0], "got 1 value(s) (finite: True)"), ([1.0, np.nan], "got 2 value(s) (finite: False)"), ([], "got 0")],
)
def test_save_line_plot_pillow_sketch_rejects_too_few_or_non_finite(
    tmp_path: Path, no_mpl: None, values: list[float], fragment: str
) -> None:
    with pytest.raises(DataError) as info:
        viz.save_line_plot(values, tmp_path / "l.png")
    assert fragment in str(info.value) and "at least 2 finite values" in str(info.value)


# ------------------------------------------------------------- matplotlib
def test_have_matplotlib_and_figures_need_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert viz.have_matplotlib() is False
    with pytest.raises(
        ConfigError, match=r"need matplotlib, which is not installed: python -m pip install \"matplotlib>=3\.8\""
    ):
        viz.plot_curves({"loss": [1.0, 2.0]}, tmp_path / "c.png")
    # without matplotlib a spectrogram with rate and hop falls back to the bare picture
    path = viz.save_spectrogram_png(np.zeros((3, 2)), tmp_path / "s.png", scale=1, sample_rate=8000, hop_length=80)
    assert _png(path).shape == (3, 2, 3)


def test_save_line_plot_with_matplotlib_is_a_labelled_figure(tmp_path: Path, mpl: None) -> None:
    assert viz.have_matplotlib() is True
    assert _size(viz.save_line_plot([1.0, 0.5, 0.25], tmp_path / "l.png")) == (600, 340)


def test_plot_curves(tmp_path: Path, mpl: None) -> None:
    path = viz.plot_curves({"train": [3.0, 2.0, 1.0], "eval": [3.5, 2.5]}, tmp_path / "x" / "c.png", title="t")
    assert path == tmp_path / "x" / "c.png" and _size(path) == (600, 340)
    with pytest.raises(DataError, match="got no curves"):
        viz.plot_curves({}, tmp_path / "e.png")
    with pytest.raises(DataError, match=r"plot_curves.curves\['eval'\]: got shape \(2,\) \(all finite: False\)"):
        viz.plot_curves({"train": [1.0, 2.0], "eval": [1.0, np.inf]}, tmp_path / "e.png")
    with pytest.raises(DataError, match=r"got shape \(0,\) .*expected a non-empty finite 1-d array"):
        viz.plot_curves({"train": []}, tmp_path / "e.png")
    assert not (tmp_path / "e.png").exists()


def test_draw_spectrogram_axes_extent_and_colour_limits(mpl: None) -> None:
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    spec = np.array([[0.0, -10.0, -20.0, -30.0], [-5.0, -6.0, -7.0, 2.0]])
    im = viz.draw_spectrogram(ax, spec, sample_rate=1000, hop_length=250, top_db=40.0)
    assert tuple(im.get_extent()) == (0.0, 1.0, 0.0, 500.0)  # 4 frames of 0.25 s; Nyquist 500 Hz
    assert im.get_clim() == (-38.0, 2.0)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("time (s)", "frequency (Hz)")


@pytest.mark.parametrize(("rate", "hop"), [(0, 10), (-8000, 10), (8000, 0), (None, 10), (8000, -1)])
def test_draw_spectrogram_rejects_bad_rate_or_hop(mpl: None, rate: float, hop: int) -> None:
    from matplotlib.figure import Figure

    with pytest.raises(ConfigError, match=rf"got sample_rate={rate!r}, hop_length={hop!r}; expected both > 0"):
        viz.draw_spectrogram(Figure().add_subplot(), np.zeros((2, 2)), sample_rate=rate, hop_length=hop)


def test_draw_spectrogram_rejects_non_finite(mpl: None) -> None:
    from matplotlib.figure import Figure

    with pytest.raises(DataError, match=r"draw_spectrogram.spec_db: got shape \(2, 2\) \(all finite: False\)"):
        viz.draw_spectrogram(Figure().add_subplot(), [[0.0, np.nan], [1.0, 2.0]], sample_rate=8000, hop_length=80)


def test_plot_image_grid_size_and_errors(tmp_path: Path, mpl: None) -> None:
    imgs = np.random.default_rng(0).random((3, 4, 4, 1))  # (N, H, W, 1): shown as grayscale
    path = viz.plot_image_grid(
        imgs, tmp_path / "g.png", labels=["a", "b", "c"], ncols=2, row_labels=["r0", "r1", "r2"], title="grid"
    )
    assert _size(path) == (400, 410)  # 2 x 1.7 + 0.6 inches wide, 2 x 1.9 + 0.3 high
    rgba = np.random.default_rng(0).random((2, 4, 4, 4))
    assert _size(viz.plot_image_grid(rgba, tmp_path / "h.png")) == (340, 190)
    with pytest.raises(DataError, match="got 2 labels for 3 images"):
        viz.plot_image_grid(imgs, tmp_path / "e.png", labels=["a", "b"])
    with pytest.raises(DataError, match=r"plot_image_grid.images: got shape \(4, 4\)"):
        viz.plot_image_grid(np.zeros((4, 4)), tmp_path / "e.png")
    assert not (tmp_path / "e.png").exists()


def test_plot_retrieval_size_and_errors(tmp_path: Path, mpl: None) -> None:
    imgs = np.random.default_rng(0).random((2, 3, 4, 4, 3))
    ok = np.array([[True, False, False], [False, False, True]])
    path = viz.plot_retrieval(
        ["a cat", "a dog"], imgs, tmp_path / "r.png", correct=ok, scores=np.ones((2, 3)), title="t"
    )
    assert _size(path) == (710, 350)  # (2.6 + 1.5 k) x (1.6 q + 0.3) inches
    assert _size(viz.plot_retrieval(["a"], imgs[:1, :2, ..., 0], tmp_path / "s.png", correct=ok[:1, :2])) == (560, 160)
    bad = [
        (["a"], imgs, ok),  # 1 query for 2 rows
        (["a", "b"], imgs, ok[:, :2]),  # marks (2, 2) for k = 3
        (["a", "b"], imgs[0, 0], ok),  # not (Q, k, H, W[, C])
    ]
    for queries, pics, marks in bad:
        with pytest.raises(DataError, match=r"plot_retrieval: got \d queries, images .*expected \(Q, k, H, W\[, C\]\)"):
            viz.plot_retrieval(queries, pics, tmp_path / "e.png", correct=marks)
    assert not (tmp_path / "e.png").exists()


def test_plot_aligned_samples_size_and_errors(tmp_path: Path, mpl: None) -> None:
    imgs = np.random.default_rng(0).random((2, 4, 4, 3))
    specs = [np.zeros((6, 5)), np.ones((6, 5))]
    path = viz.plot_aligned_samples(
        imgs, ["one", "two"], specs, tmp_path / "a.png", sample_rate=8000, hop_length=80, title="t"
    )
    assert _size(path) == (900, 370)  # 9 x (1.7 n + 0.3) inches
    with pytest.raises(DataError, match="got 2 images, 1 texts and 2 spectrograms"):
        viz.plot_aligned_samples(imgs, ["one"], specs, tmp_path / "e.png", sample_rate=8000, hop_length=80)
    with pytest.raises(DataError, match="got 2 images, 2 texts and 1 spectrograms"):
        viz.plot_aligned_samples(imgs, ["a", "b"], specs[:1], tmp_path / "e.png", sample_rate=8000, hop_length=80)
    assert not (tmp_path / "e.png").exists()
