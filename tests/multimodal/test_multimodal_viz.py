"""``modalax.viz`` figures used by the demo and the previewers: real PNGs, labelled axes, clear errors.

(Core's plotting module is exercised here because the multimodal demo is its main user.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from modalax import ConfigError, DataError
from modalax._src import viz

pytest.importorskip("matplotlib")


def _png(path: Path) -> tuple[int, int]:
    with Image.open(path) as img:
        assert img.format == "PNG"
        return img.size


def test_spectrogram_axes_are_time_and_frequency(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    spec = np.random.default_rng(0).normal(-40, 10, (129, 60))
    ax = Figure().add_subplot()
    viz.draw_spectrogram(ax, spec, sample_rate=8000, hop_length=64)
    assert ax.get_xlabel() == "time (s)" and ax.get_ylabel() == "frequency (Hz)"
    assert ax.get_xlim() == pytest.approx((0.0, 60 * 64 / 8000)) and ax.get_ylim() == pytest.approx((0.0, 4000.0))
    w, h = _png(viz.save_spectrogram_png(spec, tmp_path / "s.png", sample_rate=8000, hop_length=64))
    assert w > 300 and h > 200  # a figure with axes and a colour bar, not the bare 2x picture
    assert _png(viz.save_spectrogram_png(spec, tmp_path / "bare.png")) == (120, 258)


def test_curves_grids_retrieval_and_aligned_rows_write_pngs(tmp_path: Path) -> None:
    images = np.random.default_rng(1).random((6, 8, 8, 3), dtype=np.float32)
    assert _png(viz.plot_curves({"a": [3, 2, 1], "b": [1, 1, 0.5]}, tmp_path / "c.png"))[0] > 300
    assert _png(viz.plot_image_grid(images, tmp_path / "g.png", labels=list("abcdef"), ncols=3))[0] > 200
    top = np.stack([images[:3], images[3:]])
    correct = np.array([[False, True, False], [True, False, False]])
    assert _png(viz.plot_retrieval(["q one", "q two"], top, tmp_path / "r.png", correct=correct))[0] > 300
    specs = [np.zeros((33, 10)) - 20.0] * 2
    path = viz.plot_aligned_samples(images[:2], ["x", "y"], specs, tmp_path / "a.png", sample_rate=8000, hop_length=16)
    assert _png(path)[1] > 100
    assert _png(viz.save_line_plot([1.0, 0.5, 0.2], tmp_path / "l.png", xlabel="step", ylabel="loss"))[0] > 300


def test_token_preview_puts_ids_beside_tokens() -> None:
    assert viz.token_preview(np.array([4, 5, 9]), ["a", "small", "red"]) == "a(4) small(5) red(9)"
    assert viz.token_preview([7, 8]) == "7 8"


@pytest.mark.parametrize(
    ("call", "error", "needle"),
    [
        (lambda p: viz.plot_curves({}, p), DataError, "curves"),
        (lambda p: viz.plot_curves({"loss": [1.0, np.nan]}, p), DataError, "curves['loss']"),
        (lambda p: viz.plot_image_grid(np.zeros((2, 4, 4)), p, labels=["one"]), DataError, "labels"),
        (lambda p: viz.plot_spectrogram(np.zeros((4, 4)), p, sample_rate=0, hop_length=4), ConfigError, "sample_rate"),
        (lambda p: viz.plot_spectrogram(np.zeros(4), p, sample_rate=8000, hop_length=4), DataError, "spec_db"),
        (
            lambda p: viz.plot_retrieval(["q"], np.zeros((1, 3, 4, 4, 3)), p, correct=np.zeros((1, 2))),
            DataError,
            "(Q, k)",
        ),
        (lambda p: viz.token_preview([1, 2], ["a"]), DataError, "2 ids"),
    ],
)
def test_bad_plot_inputs_are_clear_errors(tmp_path: Path, call, error: type[Exception], needle: str) -> None:
    with pytest.raises(error) as info:
        call(tmp_path / "x.png")
    assert needle in str(info.value)
