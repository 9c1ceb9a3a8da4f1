"""Pictures and sounds a person opens to check data: PNG grids, spectrogram images, WAV files, plots.

The Pillow and ``wave`` writers live in ``modalax._src.pictures`` and are re-exported here;
Pillow is imported only when a PNG is written (it is not a core dependency). The ``plot_*``
helpers draw figures with labelled axes using matplotlib, core's optional ``viz`` extra
(``have_matplotlib()`` says whether it is installed; without it they raise ``ConfigError``
and the Pillow helpers remain). Plugins call these helpers and never draw their own axes, so
every figure reads the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.install_hints import extra_hint, pip_install
from modalax._src.pictures import colormap, image_grid, save_png, save_text, save_wav, to_uint8

__all__ = [
    "colormap",
    "draw_spectrogram",
    "have_matplotlib",
    "image_grid",
    "plot_aligned_samples",
    "plot_curves",
    "plot_image_grid",
    "plot_retrieval",
    "plot_spectrogram",
    "save_line_plot",
    "save_png",
    "save_spectrogram_png",
    "save_text",
    "save_wav",
    "to_uint8",
    "token_preview",
]


def save_spectrogram_png(
    spec_db: Any,
    path: str | Path,
    *,
    scale: int = 2,
    sample_rate: float | None = None,
    hop_length: int | None = None,
    title: str = "",
) -> Path:
    """A ``(freq, time)`` linear-frequency spectrogram in dB as a coloured PNG, low frequencies at the bottom.

    With ``sample_rate`` and ``hop_length`` and matplotlib installed, the PNG is a figure with
    time (s) and frequency (Hz) axes and a dB colour bar (``plot_spectrogram``); otherwise the
    bare picture, ``scale`` times enlarged.
    """
    s = np.asarray(spec_db, np.float64)
    if s.ndim != 2:
        raise DataError(f"save_spectrogram_png: got shape {s.shape}, expected (freq, time)")
    if sample_rate is not None and hop_length is not None and have_matplotlib():
        return plot_spectrogram(s, path, sample_rate=sample_rate, hop_length=hop_length, title=title)
    lo, hi = float(np.max(s)) - 80.0, float(np.max(s))
    rgb = colormap((s - lo) / max(hi - lo, 1e-9))[::-1]
    return save_png(rgb, path, scale=scale)


def save_line_plot(
    values: Sequence[float],
    path: str | Path,
    *,
    title: str = "",
    size: tuple[int, int] = (480, 280),
    xlabel: str = "step",
    ylabel: str = "value",
) -> Path:
    """A line plot of ``values`` as PNG: labelled axes with matplotlib (``plot_curves``), else a Pillow sketch."""
    if have_matplotlib():
        return plot_curves({ylabel: values}, path, title=title, xlabel=xlabel, ylabel=ylabel, legend=False)
    try:
        from PIL import Image, ImageDraw
    except ImportError as exc:
        raise ConfigError(f"save_line_plot needs Pillow, which is not installed: {pip_install('pillow>=10')}") from exc
    y = np.asarray(values, np.float64).reshape(-1)
    if y.size < 2 or not np.all(np.isfinite(y)):
        raise DataError(
            f"save_line_plot: got {y.size} value(s) (finite: {bool(np.all(np.isfinite(y)))}), "
            "expected at least 2 finite values"
        )
    w, h = size
    left, right, top, bottom = 56, 12, 28, 28
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle([left, top, w - right, h - bottom], outline=(0, 0, 0))
    lo, hi = float(y.min()), float(y.max())
    span = hi - lo if hi > lo else 1.0
    xs = left + (w - left - right) * np.arange(y.size) / (y.size - 1)
    ys = (h - bottom) - (h - top - bottom) * (y - lo) / span
    draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=(200, 40, 40), width=2)
    draw.text((4, top - 4), f"{hi:.3g}", fill=(0, 0, 0))
    draw.text((4, h - bottom - 8), f"{lo:.3g}", fill=(0, 0, 0))
    draw.text((left, h - bottom + 6), "0", fill=(0, 0, 0))
    draw.text((w - right - 40, h - bottom + 6), f"{y.size - 1}", fill=(0, 0, 0))
    draw.text((left, 6), title, fill=(0, 0, 0))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


# ---------------------------------------------------------------- matplotlib figures (the viz extra)
def have_matplotlib() -> bool:
    """Whether core's optional ``viz`` extra (matplotlib) is installed."""
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def _figure(width: float, height: float) -> Any:
    if not have_matplotlib():
        raise ConfigError(f"figures with axes need matplotlib, which is not installed: {extra_hint('viz')}")
    from matplotlib.figure import Figure  # no pyplot: no global state, safe in threads and without a display

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _save_figure(fig: Any, path: str | Path) -> Path:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, facecolor="white")
    return Path(path)


def _finite(name: str, values: Any, ndim: int) -> np.ndarray:
    x = np.asarray(values, np.float64)
    if x.ndim != ndim or x.size == 0 or not np.all(np.isfinite(x)):
        raise DataError(
            f"{name}: got shape {x.shape} (all finite: {bool(np.all(np.isfinite(x)))}), "
            f"expected a non-empty finite {ndim}-d array"
        )
    return x


def draw_spectrogram(ax: Any, spec_db: Any, *, sample_rate: float, hop_length: int, top_db: float = 80.0) -> Any:
    """Draw a ``(freq, time)`` dB spectrogram on ``ax``: time (s) and frequency (Hz) axes; returns the image."""
    s = _finite("draw_spectrogram.spec_db", spec_db, 2)
    if not sample_rate or sample_rate <= 0 or not hop_length or hop_length <= 0:
        raise ConfigError(
            f"draw_spectrogram: got sample_rate={sample_rate!r}, hop_length={hop_length!r}; expected both > 0"
        )
    extent = (0.0, s.shape[1] * hop_length / sample_rate, 0.0, sample_rate / 2.0)
    style = {"origin": "lower", "aspect": "auto", "cmap": "magma", "interpolation": "nearest"}
    im = ax.imshow(s, vmin=float(s.max()) - top_db, vmax=float(s.max()), extent=extent, **style)
    ax.set(xlabel="time (s)", ylabel="frequency (Hz)")
    return im


def plot_spectrogram(spec_db: Any, path: str | Path, *, sample_rate: float, hop_length: int, title: str = "") -> Path:
    """One spectrogram figure with time (s) and frequency (Hz) axes and a dB colour bar."""
    fig = _figure(5.0, 3.0)
    ax = fig.add_subplot()
    im = draw_spectrogram(ax, spec_db, sample_rate=sample_rate, hop_length=hop_length)
    fig.colorbar(im, ax=ax, label="power (dB)")
    ax.set_title(title)
    return _save_figure(fig, path)


def plot_curves(
    curves: dict[str, Sequence[float]],
    path: str | Path,
    *,
    title: str = "",
    xlabel: str = "training step",
    ylabel: str = "loss",
    legend: bool = True,
) -> Path:
    """Line plot of named curves (e.g. losses per step), labelled axes and a legend."""
    if not curves:
        raise DataError("plot_curves.curves: got no curves, expected a dict of name -> values")
    fig = _figure(6.0, 3.4)
    ax = fig.add_subplot()
    for name, values in curves.items():
        y = _finite(f"plot_curves.curves[{name!r}]", values, 1)
        ax.plot(np.arange(y.size), y, label=name, linewidth=1.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if legend:
        ax.legend()
    return _save_figure(fig, path)


def _show(ax: Any, image: np.ndarray, label: str = "", *, fontsize: float = 8) -> None:
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(label, fontsize=fontsize, wrap=True)


def _rgb_images(images: Any, value_range: tuple[float, float] | None) -> np.ndarray:
    x = to_uint8(images, value_range)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim not in (3, 4):
        raise DataError(f"plot_image_grid.images: got shape {x.shape}, expected (N, H, W) or (N, H, W, C)")
    return x[..., :3] if x.ndim == 4 else x


def plot_image_grid(
    images: Any,
    path: str | Path,
    *,
    labels: Sequence[str] | None = None,
    ncols: int | None = None,
    row_labels: Sequence[str] | None = None,
    title: str = "",
    value_range: tuple[float, float] | None = (0.0, 1.0),
) -> Path:
    """A grid of images, each with its label (class, caption, score) above it, rows optionally named."""
    x = _rgb_images(images, value_range)
    n = len(x)
    if labels is not None and len(labels) != n:
        raise DataError(f"plot_image_grid.labels: got {len(labels)} labels for {n} images, expected one each")
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    fig = _figure(1.7 * ncols + (0.6 if row_labels else 0.0), 1.9 * nrows + (0.3 if title else 0.0))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.reshape(-1)):
        if i < n:
            _show(ax, x[i], labels[i] if labels is not None else "")
        else:
            ax.axis("off")
    for r, name in enumerate(row_labels or []):
        if r < nrows:
            axes[r, 0].set_ylabel(name, fontsize=10)
    if title:
        fig.suptitle(title)
    return _save_figure(fig, path)


def plot_retrieval(
    queries: Sequence[str],
    retrieved: Any,
    path: str | Path,
    *,
    correct: Any,
    scores: Any = None,
    title: str = "",
    value_range: tuple[float, float] | None = (0.0, 1.0),
) -> Path:
    """Retrieval examples: each query (e.g. a caption) beside its top-k images, the true ones boxed in green.

    ``retrieved`` is ``(Q, k, H, W[, C])``; ``correct`` ``(Q, k)`` bool marks the true match.
    """
    imgs = np.asarray(retrieved)
    ok = np.asarray(correct, bool)
    if imgs.ndim not in (4, 5) or ok.shape != imgs.shape[:2] or len(queries) != imgs.shape[0]:
        raise DataError(
            f"plot_retrieval: got {len(queries)} queries, images {imgs.shape}, correct {ok.shape}; "
            "expected (Q, k, H, W[, C]) images and (Q, k) marks for Q queries"
        )
    q, k = ok.shape
    fig = _figure(2.6 + 1.5 * k, 1.6 * q + (0.3 if title else 0.0))
    axes = fig.subplots(q, k + 1, squeeze=False, width_ratios=[2.2] + [1.0] * k)
    for i in range(q):
        axes[i, 0].axis("off")
        axes[i, 0].text(0.0, 0.5, f'"{queries[i]}"', fontsize=9, va="center", ha="left", wrap=True)
        pics = _rgb_images(imgs[i], value_range)
        for j in range(k):
            ax = axes[i, j + 1]
            label = f"#{j + 1}" + (f"  {float(np.asarray(scores)[i, j]):.2f}" if scores is not None else "")
            _show(ax, pics[j], label + ("  true" if ok[i, j] else ""))
            for side in ax.spines.values():
                side.set_edgecolor("#1a9850" if ok[i, j] else "#bbbbbb")
                side.set_linewidth(4 if ok[i, j] else 1)
    if title:
        fig.suptitle(title)
    return _save_figure(fig, path)


def plot_aligned_samples(
    images: Any,
    texts: Sequence[str],
    specs_db: Sequence[Any],
    path: str | Path,
    *,
    sample_rate: float,
    hop_length: int,
    title: str = "",
    value_range: tuple[float, float] | None = (0.0, 1.0),
) -> Path:
    """One row per sample: its image, its text, and its sound's spectrogram (time/frequency axes, dB bar)."""
    x = _rgb_images(images, value_range)
    n = len(x)
    if len(texts) != n or len(specs_db) != n:
        raise DataError(
            f"plot_aligned_samples: got {n} images, {len(texts)} texts and {len(specs_db)} "
            "spectrograms; expected one of each per sample"
        )
    fig = _figure(9.0, 1.7 * n + (0.3 if title else 0.0))
    axes = fig.subplots(n, 3, squeeze=False, width_ratios=[1.0, 2.4, 3.0])
    im = None
    for i in range(n):
        _show(axes[i, 0], x[i])
        axes[i, 1].axis("off")
        axes[i, 1].text(0.0, 0.5, texts[i], fontsize=8, va="center", ha="left", wrap=True, family="monospace")
        im = draw_spectrogram(axes[i, 2], specs_db[i], sample_rate=sample_rate, hop_length=hop_length)
        if i < n - 1:
            axes[i, 2].set_xlabel("")
    if im is not None:
        fig.colorbar(im, ax=axes[:, 2].tolist(), label="power (dB)")
    if title:
        fig.suptitle(title)
    return _save_figure(fig, path)


def token_preview(ids: Any, tokens: Sequence[str] | None = None) -> str:
    """``"word(id) word(id) ..."`` (or just ids without words), padding dropped, for text previews."""
    arr = np.asarray(ids).reshape(-1)
    if tokens is not None and len(tokens) != arr.size:
        raise DataError(f"token_preview: got {len(tokens)} tokens for {arr.size} ids, expected one each")
    return " ".join(str(int(i)) if tokens is None else f"{tokens[k]}({int(i)})" for k, i in enumerate(arr))
