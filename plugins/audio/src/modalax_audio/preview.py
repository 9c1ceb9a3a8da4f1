"""What a person opens to check audio data: WAV files and spectrogram pictures.

Each clip's picture is its power spectrogram in dB on a linear frequency axis (Hann window, a
quarter-window hop, frames only where the window fits inside the clip: a centred STFT pads the
edges, which draws bright bars at both ends that read as signal). With matplotlib it is a figure
with time (s) and frequency (Hz) axes, a dB colour bar and a title naming the clip; without it,
the bare picture.

A WAV file never clips: ``modalax.plugin.save_wav`` writes samples in [-1, 1] and cuts off
anything beyond, which sounds as distortion. A clip whose peak exceeds 1 is therefore scaled
down to a peak of exactly 1 before it is written, with a ``RuntimeWarning`` naming the clip and
the factor (``clips.txt`` says so too); a clip holding NaN or inf is not written as sound
(there is nothing to scale), with a warning, and ``clips.txt`` says why.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from modalax.plugin import save_spectrogram_png, save_text, save_wav

__all__ = ["preview"]

_MAX_CLIPS = 8
_DEFAULT_RATE = 16000


def preview(batch: dict[str, Any], out_dir: Path, *, max_clips: int = _MAX_CLIPS) -> list[Path]:
    """Write up to ``max_clips`` clips of ``batch["audio"]`` as WAV plus a spectrogram PNG each (``NN_spec.png``).

    The sample rate comes from ``batch["sample_rate"]`` (datasets attach it), else 16 kHz.
    Spectral batches ``(batch, freq, time)`` are written as pictures only. Clips peaking above
    1 are scaled to a peak of 1 (``RuntimeWarning``), so no written WAV clips; clips holding
    NaN or inf are listed in ``clips.txt`` but not written (``RuntimeWarning``).
    """
    import jax.numpy as jnp

    from modalax_audio.spectral import power_spectrogram, power_to_db

    out_dir = Path(out_dir)
    audio = np.asarray(batch["audio"])
    rate = int(np.asarray(batch.get("sample_rate", _DEFAULT_RATE)).reshape(-1)[0])
    names = batch.get("audio_type")
    written: list[Path] = []
    lines = []
    for i in range(min(max_clips, audio.shape[0])):
        label = f"{i:02d}" + (f"_{names[i]}" if isinstance(names, list) else "")
        if audio.ndim == 3:
            written.append(save_spectrogram_png(audio[i], out_dir / f"{label}.png"))
            continue
        raw = np.asarray(audio[i], np.float64)
        describe = f"{label}: {raw.shape[-1]} samples at {rate} Hz"
        if not np.all(np.isfinite(raw)):
            warnings.warn(f"preview: clip {label} holds NaN or inf; not written as WAV", RuntimeWarning, stacklevel=2)
            lines.append(f"{describe}, holds NaN or inf: not written")
            continue
        peak = float(np.max(np.abs(raw)))
        clip = raw
        if peak > 1.0:
            clip = raw / peak
            warnings.warn(
                f"preview: clip {label} peaks at {peak:.4g} (above 1.0, which a WAV file would clip); "
                f"written scaled by 1/{peak:.4g}",
                RuntimeWarning,
                stacklevel=2,
            )
            describe += f", scaled by 1/{peak:.4g} to fit the WAV range"
        written.append(save_wav(clip, out_dir / f"{label}.wav", rate))
        n_fft = min(512, 1 << int(np.log2(max(8, clip.shape[-1] // 4))))
        hop = n_fft // 4
        spec = power_spectrogram(jnp.asarray(clip, jnp.float32), n_fft, hop, center=False)
        title = f"clip {label}: {clip.shape[-1] / rate:.2f} s at {rate} Hz, peak {min(peak, 1.0):.2f}"
        written.append(
            save_spectrogram_png(
                np.asarray(power_to_db(spec, ref="max")),
                out_dir / f"{label}_spec.png",
                sample_rate=rate,
                hop_length=hop,
                title=title,
            )
        )
        lines.append(f"{describe}, peak {peak:.3f}")
    if lines:
        written.append(save_text(lines, out_dir / "clips.txt"))
    return written
