"""What a person opens to check audio data: WAV files and mel spectrogram pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from modalax.plugin import save_spectrogram_png, save_text, save_wav

__all__ = ["preview"]

_MAX_CLIPS = 8
_DEFAULT_RATE = 16000


def preview(batch: dict[str, Any], out_dir: Path, *, max_clips: int = _MAX_CLIPS) -> list[Path]:
    """Write up to ``max_clips`` clips of ``batch["audio"]`` as WAV plus a mel spectrogram PNG each.

    The sample rate comes from ``batch["sample_rate"]`` (datasets attach it), else 16 kHz.
    Spectral batches ``(batch, freq, time)`` are written as pictures only.
    """
    from modalax_audio.spectral import mel_spectrogram, power_to_db

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
        clip = audio[i] / max(1.0, float(np.max(np.abs(audio[i]))))
        written.append(save_wav(clip, out_dir / f"{label}.wav", rate))
        n_fft = min(1024, 1 << int(np.log2(max(4, clip.shape[-1] // 2))))
        mel = power_to_db(mel_spectrogram(clip, rate, n_fft, n_fft // 4, n_mels=min(80, n_fft // 4)), ref="max")
        written.append(save_spectrogram_png(np.asarray(mel), out_dir / f"{label}_mel.png"))
        lines.append(f"{label}: {clip.shape[-1]} samples at {rate} Hz, peak {float(np.max(np.abs(audio[i]))):.3f}")
    if lines:
        written.append(save_text(lines, out_dir / "clips.txt"))
    return written
