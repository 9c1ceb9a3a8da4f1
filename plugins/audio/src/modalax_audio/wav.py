"""``write_wav`` (exact, symmetric quantisation) and ``read_wav``, the WAV-named reader.

Reading goes through ``modalax_audio.decode.read_audio`` (soundfile); writing PCM uses the
standard library's ``wave`` and IEEE float is written here, so a round trip is exact to half
a quantisation step (libsndfile scales float to PCM by ``2**(bits-1) - 1``, not ``2**(bits-1)``).
"""

from __future__ import annotations

import os
import struct
import wave
from pathlib import Path

import numpy as np

from modalax.plugin import ConfigError, DataError
from modalax_audio.decode import read_audio

__all__ = ["read_wav", "write_wav", "BIT_DEPTHS"]

BIT_DEPTHS = ("pcm8", "pcm16", "pcm24", "pcm32", "float32", "float64")
_FLOAT = 0x0003


def read_wav(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """``(audio, sample_rate)``: mono float32 samples in [-1, 1] and the file's rate in Hz.

    Kept for compatibility: it is ``modalax_audio.read_audio`` (soundfile), so it reads every
    WAV variant (RF64, RIFX, extensible, mu-law/A-law, ...) and every other format libsndfile
    reads.  Raises ``DataError`` naming the file when it is missing, corrupt, truncated,
    empty, holds NaN/inf or declares an implausible sample rate.
    """
    return read_audio(path)


def write_wav(path: str | os.PathLike[str], audio: np.ndarray, sample_rate: int, fmt: str = "pcm16") -> Path:
    """Write ``audio`` (``(n,)`` or ``(n, channels)``, floats in [-1, 1]) as WAV of format ``fmt``.

    ``fmt`` is one of ``pcm8``, ``pcm16``, ``pcm24``, ``pcm32`` (through ``wave``) or
    ``float32``, ``float64`` (IEEE float, tag 3, written here).
    """
    if fmt not in BIT_DEPTHS:
        raise ConfigError(f"write_wav.fmt: got {fmt!r}, expected one of {BIT_DEPTHS}")
    x = np.asarray(audio, np.float64)
    x = x[:, None] if x.ndim == 1 else x
    if x.ndim != 2 or x.shape[0] == 0:
        raise DataError(f"write_wav: got shape {np.shape(audio)}, expected (n,) or (n, channels) with n > 0")
    if not np.all(np.isfinite(x)):
        raise DataError(f"write_wav({str(path)!r}): audio holds NaN or inf")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    channels = x.shape[1]
    if fmt.startswith("float"):
        bits = 32 if fmt == "float32" else 64
        data = x.astype("<f4" if bits == 32 else "<f8").tobytes()
        block = channels * bits // 8
        header = struct.pack("<HHIIHH", _FLOAT, channels, int(sample_rate), int(sample_rate) * block, block, bits)
        body = b"WAVE" + b"fmt " + struct.pack("<I", len(header)) + header
        body += b"data" + struct.pack("<I", len(data)) + data + (b"\0" if len(data) & 1 else b"")
        p.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
        return p
    width = int(fmt[3:]) // 8
    x = np.clip(x, -1.0, 1.0)
    if width == 1:
        raw = np.clip(np.round(x * 128.0 + 128.0), 0, 255).astype(np.uint8).tobytes()
    else:
        full = float(1 << (8 * width - 1))
        v = np.clip(np.round(x * full), -full, full - 1).astype(np.int64)
        if width == 3:
            raw = ((v.reshape(-1, 1) >> np.array([0, 8, 16])) & 0xFF).astype(np.uint8).tobytes()
        else:
            raw = v.astype("<i2" if width == 2 else "<i4").tobytes()
    with wave.open(str(p), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(width)
        f.setframerate(int(sample_rate))
        f.writeframes(raw)
    return p
