"""What a person opens to check aligned data: images, sounds, spectrograms and tokens side by side.

With matplotlib every picture is a titled figure: ``overview.png`` shows one sample a row (its
image, its alignment score, latent and tokens, its sound's spectrogram with time and frequency
axes), ``images.png`` the images numbered as the rows, ``audio_XX_spec.png`` one sound each.
Without matplotlib the same pictures are plain Pillow grids.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from modalax.plugin import (
    colormap,
    get_kernel,
    have_matplotlib,
    image_grid,
    plot_aligned_samples,
    plot_image_grid,
    save_png,
    save_spectrogram_png,
    save_text,
    save_wav,
    to_uint8,
    token_preview,
)

__all__ = ["HOP_FRACTION", "spectrogram_db", "spectrogram_n_fft", "write_preview"]

#: hop length of ``spectrogram_db`` as a fraction of its ``n_fft``.
HOP_FRACTION = 0.25

_MAX_SAMPLES = 8
_DEFAULT_RATE = 16000
_ROW = 64  # pixel height of one row of the side-by-side overview


def spectrogram_db(audio: Any, n_fft: int = 512) -> np.ndarray:
    """``(n_fft // 2 + 1, frames)`` power spectrogram in dB (Hann window, hop ``n_fft // 4``).

    Linear frequency, unlike the audio plugin's mel pictures: the aligned clips are sums of
    partials, which a linear axis shows as evenly readable lines.
    """
    x = np.asarray(audio, np.float32).reshape(-1)
    n_fft = spectrogram_n_fft(len(x), n_fft)
    hop = int(n_fft * HOP_FRACTION)
    spec = get_kernel("audio.power_spectrogram")(jnp.asarray(x), n_fft=n_fft, hop_length=hop, center=False)
    return np.asarray(get_kernel("audio.power_to_db")(spec, top_db=100.0), np.float64)


def spectrogram_n_fft(num_samples: int, n_fft: int = 512) -> int:
    """The FFT size ``spectrogram_db`` uses for a clip of ``num_samples`` (no longer than the clip)."""
    return int(min(n_fft, 1 << int(np.log2(max(8, num_samples)))))


def _resize(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.NEAREST))


def _overview(images: np.ndarray | None, specs: list[np.ndarray]) -> np.ndarray:
    rows = []
    for i in range(max(len(specs), 0 if images is None else len(images))):
        parts = []
        if images is not None and i < len(images):
            img = to_uint8(images[i], (0.0, 1.0))
            img = np.repeat(img, 3, axis=-1) if img.ndim == 3 and img.shape[-1] == 1 else img[..., :3]
            parts.append(_resize(img, _ROW, _ROW))
        if i < len(specs):
            s = specs[i]
            rgb = colormap((s - (s.max() - 80.0)) / 80.0)[::-1]
            parts.append(_resize(rgb, _ROW, 2 * _ROW))
        rows.append(np.concatenate([p for part in parts for p in (part, np.full((_ROW, 4, 3), 255, np.uint8))], axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return np.concatenate(rows, axis=0)


def write_preview(
    batch: dict[str, Any],
    out_dir: Path,
    *,
    max_samples: int = _MAX_SAMPLES,
    sample_rate: int | None = None,
    dataset: Any = None,
) -> list[Path]:
    """Write ``images.png``, ``audio_XX.wav`` + ``audio_XX_spec.png``, ``tokens.txt`` and ``overview.png``.

    ``overview.png`` puts each sample's image beside its spectrogram; ``tokens.txt`` lists each
    sample's tokens with its alignment score and latent, so the three modalities of one sample
    can be checked together.  WAV files are written at ``sample_rate``, or ``batch["sample_rate"]``
    when the batch carries one, else the rate of the ``dataset``'s audio pairing (16 kHz by default).
    """
    if sample_rate is None:
        sample_rate = _dataset_rate(dataset)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    images = np.asarray(batch.get("image", batch.get("images"))) if ("image" in batch or "images" in batch) else None
    n = min(max_samples, len(next(v for v in batch.values() if hasattr(v, "shape") and np.ndim(v) > 0)))
    batch = {k: v for k, v in batch.items() if k != "pairs"}
    if images is not None:
        images = images[:n]
        if have_matplotlib():
            title = f"images of the {n} previewed samples (numbered as the rows of overview.png)"
            labels = [f"sample {i}" for i in range(n)]
            written.append(plot_image_grid(images, out_dir / "images.png", labels=labels, ncols=min(n, 8), title=title))
        else:
            written.append(save_png(image_grid(images, value_range=(0.0, 1.0)), out_dir / "images.png", scale=4))
    specs: list[np.ndarray] = []
    if "audio" in batch:
        rate = int(np.asarray(batch.get("sample_rate", sample_rate)).reshape(-1)[0])
        audio = np.asarray(batch["audio"])[:n]
        for i, clip in enumerate(audio):
            written.append(save_wav(clip, out_dir / f"audio_{i:02d}.wav", rate))
            specs.append(spectrogram_db(clip))
            hop = int(spectrogram_n_fft(len(clip)) * HOP_FRACTION)
            written.append(
                save_spectrogram_png(
                    specs[-1],
                    out_dir / f"audio_{i:02d}_spec.png",
                    sample_rate=rate,
                    hop_length=hop,
                    title=f"sample {i}: its sound ({len(clip) / rate:.2f} s at {rate} Hz)",
                )
            )
    text_key = "text" if "text" in batch else "text_tokens" if "text_tokens" in batch else None
    words = _words(dataset, np.asarray(batch[text_key])[:n]) if text_key is not None else None
    lines = []
    for i in range(n):
        parts = []
        if "alignment_score" in batch:
            parts.append(f"alignment={float(np.asarray(batch['alignment_score'])[i]):.2f}")
        if "latent" in batch:
            z = np.asarray(batch["latent"])[i]
            parts.append("latent[:4]=[" + ", ".join(f"{v:+.2f}" for v in z[:4]) + "]")
        if text_key is not None:
            ids = np.asarray(batch[text_key])[i]
            parts.append("tokens: " + token_preview(ids, None if words is None else words[i]))
        lines.append("  ".join(parts))
    if any(lines):
        written.append(save_text(lines, out_dir / "tokens.txt"))
    if images is not None and specs and len(specs) == len(images) and have_matplotlib():
        texts = ["\n".join(textwrap.fill(part, 40) for part in line.split("  ")) for line in lines]
        texts = texts if texts else [""] * len(specs)
        hop = int(spectrogram_n_fft(audio.shape[-1]) * HOP_FRACTION)
        path = out_dir / "overview.png"
        title = (
            f"{n} aligned samples, one a row: image | alignment score, latent and tokens | sound\n"
            "each row's three parts come from one record (audio_XX.wav is row XX's sound)"
        )
        written.append(plot_aligned_samples(images, texts, specs, path, sample_rate=rate, hop_length=hop, title=title))
    elif images is not None or specs:
        written.append(save_png(_overview(images, specs), out_dir / "overview.png"))
    return written


def _dataset_rate(dataset: Any) -> int:
    """The sample rate of ``dataset``'s audio (its pairing's ``sample_rate`` option), else 16 kHz."""
    pairings = getattr(dataset, "pairings", None)
    config: Any = getattr(dataset, "config", None)
    if isinstance(pairings, dict):
        audio = pairings.get("audio")
    elif hasattr(config, "pairing") and "audio" in getattr(config, "modalities", ()):
        audio = config.pairing("audio")
    else:
        audio = None
    return int(audio.options().get("sample_rate", _DEFAULT_RATE)) if audio is not None else _DEFAULT_RATE


def _words(dataset: Any, ids: np.ndarray) -> list[list[str]] | None:
    """Each id's word when ``dataset`` has a word-level tokenizer (``id_to_token``), else None."""
    vocab = getattr(getattr(dataset, "tokenizer", None), "vocabulary", None)
    table = getattr(vocab, "id_to_token", None)
    if table is None:
        return None
    return [[str(table[t]) if 0 <= t < len(table) else "?" for t in row] for row in ids.tolist()]
