"""The figures and sounds ``modalax demo`` writes, each announced with what to look for in it.

Every figure has a title, labelled axes (or labelled rows and tiles) and a one-line caption
printed as it is written. The figures are those a person can check by eye: captions beside the
images they retrieve, images generated from captions above the true ones, samples with their
tokens and spectrograms, and the loss curves of the three trainings; the glyph samples' sounds
are written as WAV files beside them. Drawing goes through ``modalax.plugin``'s figure helpers.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["glyph_figures", "glyph_sounds", "loss_figures", "show"]

CAPTIONS = {
    "glyph_retrieval.png": "each held-out caption beside the 3 images the trained encoders rank closest: the true "
    "image (green box) should come first in most rows, and the others should share its colour, glyph or place",
    "caption_to_image.png": "images drawn by the generator from held-out captions (top row) above the true images: "
    "colour, glyph, size and place should match; r is the per-image correlation",
    "glyph_samples.png": "held-out samples as the loader delivers them: picture, caption with its token ids, and the "
    "sound's spectrogram (pitch = glyph, partials = colour, loudness = size, notes = column, note length = row)",
    "sounds": "the sounds of the samples in glyph_samples.png, named by their captions: pitch, timbre, loudness "
    "and rhythm follow the glyph, colour, size and place",
    "loss_contrastive.png": "InfoNCE loss per step on the latent-aligned data: it should fall steeply, then flatten",
    "loss_glyph_contrastive.png": "InfoNCE loss per step on the glyph data: it should fall steeply, then flatten",
    "loss_caption_to_image_mse.png": "mean squared error of the generated images per step: it should fall towards 0",
}


def show(paths: list[Path], key: str, out: Path) -> list[str]:
    """Print one line: the file (or folder) written and what to look for in it; returns the paths."""
    name = key if len(paths) == 1 else f"{key}/ ({len(paths)} WAV files)"
    print(f"  {name:30s} {CAPTIONS[key]}", flush=True)
    return [str(p) for p in paths]


def glyph_figures(
    out: Path, val: Any, batch: Any, top: np.ndarray, sim: np.ndarray, generated: np.ndarray, corr: np.ndarray, n: int
) -> list[str]:
    """Retrieval, generation and sample figures of ``n`` held-out glyph samples."""
    from modalax.plugin import plot_aligned_samples, plot_image_grid, plot_retrieval, token_preview
    from modalax_multimodal.preview import HOP_FRACTION, spectrogram_db

    images = np.asarray(batch["image"])
    captions = val.captions(batch["text"][:n])
    written = show(
        [
            plot_retrieval(
                captions,
                images[top[:n]],
                out / "glyph_retrieval.png",
                correct=top[:n] == np.arange(n)[:, None],
                scores=np.take_along_axis(sim[:n], top[:n], axis=1),
                title="caption -> top-3 held-out images by cosine similarity (true image boxed green)",
            )
        ],
        "glyph_retrieval.png",
        out,
    )
    wrapped = [
        c.replace(" at the ", "\nat the ").replace(" on the ", "\non the ").replace(" in the ", "\nin the ")
        for c in captions
    ]
    written += show(
        [
            plot_image_grid(
                np.concatenate([generated[:n], images[:n]]),
                out / "caption_to_image.png",
                labels=wrapped + [f"r = {c:.2f}" for c in corr[:n]],
                ncols=n,
                row_labels=["generated", "true image"],
                title="images generated from held-out captions (r: per-image correlation with the true image)",
            )
        ],
        "caption_to_image.png",
        out,
    )
    rate = val.config.audio_sample_rate
    audio = np.asarray(batch["audio"][:n])
    specs = [spectrogram_db(a, n_fft=256) for a in audio]
    ids = np.asarray(batch["text"][:n])
    texts = []
    for row, caption in zip(ids, captions, strict=True):
        words = val.tokenizer.detokenize(row).split()
        shown = row[1 : 1 + len(words)]
        texts.append(textwrap.fill(caption, 34) + "\n\n" + textwrap.fill(token_preview(shown, words), 34))
    written += show(
        [
            plot_aligned_samples(
                images[:n],
                texts,
                specs,
                out / "glyph_samples.png",
                sample_rate=rate,
                hop_length=int(256 * HOP_FRACTION),
                title="held-out samples: picture | caption, then its tokens (ids) | sound\n"
                "sound: pitch = glyph, timbre = colour, loudness = size, notes = column, note length = row",
            )
        ],
        "glyph_samples.png",
        out,
    )
    return written


def glyph_sounds(out: Path, val: Any, batch: Any, n: int) -> list[str]:
    """The first ``n`` held-out samples' sounds as ``sounds/sound_<i>_<caption>.wav``."""
    from modalax.plugin import save_wav

    rate = int(val.config.audio_sample_rate)
    captions = val.captions(batch["text"][:n])
    audio = np.asarray(batch["audio"][:n])
    paths = [
        save_wav(clip, out / "sounds" / f"sound_{i}_{re.sub(r'[^a-z0-9]+', '_', caption.lower()).strip('_')}.wav", rate)
        for i, (clip, caption) in enumerate(zip(audio, captions, strict=True))
    ]
    return show(paths, "sounds", out)


def loss_figures(out: Path, curves: dict[str, list[float]]) -> list[str]:
    """One loss curve per training, with its title and axes."""
    from modalax.plugin import save_line_plot

    titles = {
        "contrastive": "contrastive training on latent-aligned image+text+audio data",
        "glyph contrastive": "contrastive training on glyph/caption/sound data",
        "caption-to-image mse": "caption-to-image generator training",
    }
    written: list[str] = []
    for name, values in curves.items():
        key = f"loss_{name.replace(' ', '_').replace('-', '_')}.png"
        ylabel = "mean squared error" if "mse" in name else "InfoNCE loss"
        title = f"{titles.get(name, name)}: loss per step"
        path = save_line_plot(values, out / key, title=title, xlabel="training step", ylabel=ylabel)
        written += show([path], key, out)
    return written
