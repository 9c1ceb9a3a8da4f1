"""WAV reading and writing with the standard library, plus IEEE-float WAV.

``wave`` reads PCM (8-bit unsigned, 16/24/32-bit signed); files it rejects for their format
tag (IEEE float, tag 3, and ``WAVE_FORMAT_EXTENSIBLE`` on Python 3.11) are parsed here from
their RIFF chunks.  Samples come back as float32 in [-1, 1]; several channels are averaged
to mono.  Anything unreadable raises ``DataError`` naming the file and what was found.
"""

from __future__ import annotations

import os
import struct
import wave
from pathlib import Path

import numpy as np

from modalax.errors import ConfigError, DataError

__all__ = ["read_wav", "write_wav", "BIT_DEPTHS"]

BIT_DEPTHS = ("pcm8", "pcm16", "pcm24", "pcm32", "float32", "float64")
_PCM, _FLOAT, _EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
_TAG_NAMES = {0x0002: "MS ADPCM", 0x0006: "A-law", 0x0007: "mu-law", 0x0011: "IMA ADPCM", 0x0055: "MPEG layer 3"}


def _pcm_to_float(raw: bytes, width: int, channels: int, name: str) -> np.ndarray:
    usable = len(raw) - len(raw) % (width * channels)
    raw = raw[:usable]
    if width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        x = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        x = v.astype(np.float32) / float(1 << 23)
    elif width == 4:
        x = (np.frombuffer(raw, "<i4").astype(np.float64) / float(1 << 31)).astype(np.float32)
    else:
        raise DataError(f"{name}: unsupported PCM sample width {width} bytes; expected 1, 2, 3 or 4")
    return x.reshape(-1, channels)


def _chunks(data: bytes, name: str) -> dict[bytes, bytes]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise DataError(f"{name}: not a WAV file (starts with {data[:12]!r}); expected a RIFF/WAVE header")
    found: dict[bytes, bytes] = {}
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        found.setdefault(cid, data[pos + 8 : pos + 8 + size])
        pos += 8 + size + (size & 1)
    return found


def _read_riff(path: Path, name: str) -> tuple[np.ndarray, int]:
    """Parse fmt/data chunks ourselves: PCM, IEEE float and extensible PCM/float."""
    chunks = _chunks(path.read_bytes(), name)
    fmt, data = chunks.get(b"fmt "), chunks.get(b"data")
    if fmt is None or len(fmt) < 16:
        found = sorted(c.decode("latin-1") for c in chunks)
        raise DataError(f"{name}: WAV has no valid 'fmt ' chunk (chunks: {found})")
    if data is None:
        raise DataError(f"{name}: WAV has no 'data' chunk (chunks: {sorted(c.decode('latin-1') for c in chunks)})")
    tag, channels, rate, _, block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack("<H", fmt[24:26])[0]  # first two bytes of the sub-format GUID
    if channels == 0 or rate == 0:
        raise DataError(f"{name}: WAV header has {channels} channels at {rate} Hz; expected positive values")
    if tag == _PCM:
        width = bits // 8
        if bits % 8 or block_align != width * channels:
            raise DataError(
                f"{name}: inconsistent PCM header ({bits} bits, block_align {block_align}, {channels} channels)"
            )
        return _pcm_to_float(data, width, channels, name), rate
    if tag == _FLOAT:
        if bits not in (32, 64) or block_align != bits // 8 * channels:
            raise DataError(
                f"{name}: IEEE float WAV with {bits} bits and block_align {block_align}; "
                "expected 32 or 64 bits per sample"
            )
        dtype = "<f4" if bits == 32 else "<f8"
        width = bits // 8
        usable = len(data) - len(data) % (width * channels)
        return np.frombuffer(data[:usable], dtype).astype(np.float32).reshape(-1, channels), rate
    label = _TAG_NAMES.get(tag, "unknown")
    raise DataError(f"{name}: unsupported WAV format tag 0x{tag:04X} ({label}); expected PCM (1) or IEEE float (3)")


def read_wav(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """``(audio, sample_rate)``: mono float32 samples in [-1, 1] and the file's rate in Hz.

    Multi-channel files are averaged to mono.  Raises ``DataError`` naming the file when
    it is missing, corrupt, in an unsupported format, empty, or holds NaN/inf.
    """
    p = Path(path)
    name = repr(str(p))
    if not p.is_file():
        raise DataError(f"{name}: no such file")
    try:
        with wave.open(str(p), "rb") as f:
            channels, width, rate = f.getnchannels(), f.getsampwidth(), f.getframerate()
            raw = f.readframes(f.getnframes())
        frames = _pcm_to_float(raw, width, channels, name)
    except (wave.Error, EOFError):
        # ``wave`` rejects IEEE float and (on 3.11) extensible files, and words its errors tersely:
        # our own RIFF parser reads those formats and names precisely what is wrong otherwise.
        frames, rate = _read_riff(p, name)
    if frames.shape[0] == 0:
        raise DataError(f"{name}: WAV holds no samples; expected at least one")
    audio = frames.mean(axis=1, dtype=np.float32) if frames.shape[1] > 1 else frames[:, 0]
    if not np.all(np.isfinite(audio)):
        raise DataError(f"{name}: WAV holds NaN or inf samples; expected finite values")
    return np.ascontiguousarray(audio, np.float32), int(rate)


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
