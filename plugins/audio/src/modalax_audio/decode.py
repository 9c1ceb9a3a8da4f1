"""Audio files in, config-shaped clips out: soundfile (libsndfile) reads, soxr resamples.

``decode_audio`` is the one decode function of the audio plugin (DESIGN.md): the folder
dataset calls it, and so can packed shards of encoded bytes and previews, so every path
gives the same values.  It accepts bytes, a path or a binary file object.

Every format the installed libsndfile reads is accepted (WAV in all its variants, RF64,
RIFX, WAVE_EXTENSIBLE, mu-law/A-law, FLAC, OGG/Vorbis, Opus, MP3, AIFF, ...).  What a
library would return silently is refused with a ``DataError`` naming the file: a data chunk
shorter than its header says (a truncated file), a header sample rate outside
[``MIN_SAMPLE_RATE``, ``MAX_SAMPLE_RATE``], no samples, NaN/inf samples.
"""

from __future__ import annotations

import io
import math
import os
import re
import struct
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import numpy as np
import soundfile as sf
import soxr

from modalax.plugin import ConfigError, DataError, is_url, open_path
from modalax_audio.config import check_config

__all__ = [
    "FORMAT_EXTENSIONS",
    "MAX_SAMPLE_RATE",
    "MIN_SAMPLE_RATE",
    "audio_extensions",
    "decode_audio",
    "fit_to_config",
    "host_resampled_length",
    "read_audio",
    "resample_host",
]

#: Lowest header rate accepted (Hz): below this a "rate" is not audio (sensor logs at 1 Hz still pass).
MIN_SAMPLE_RATE = 1
#: Highest header rate accepted (Hz): 768 kHz is the top rate of current converters (DXD x 2);
#: anything above is a corrupt header, and resampling it would cost time for nothing.
MAX_SAMPLE_RATE = 768_000

AudioSource = bytes | bytearray | memoryview | str | os.PathLike[str] | IO[bytes]

# The extensions each libsndfile major format is known by, keyed by soundfile's format name:
# libsndfile's own extension for the format (SF_FORMAT_INFO.extension, e.g. "iff" for SVX, "m1a"
# for MPEG, "mpc" for MPC2K), the names sndfile-convert accepts, and the usual aliases of the
# format's users (".8svx", ".16sv", ".bwf", ".sph", ...).  A format missing here (one a newer
# libsndfile adds) is known by its lower-cased name.  libsndfile reads a file by its header, never
# by its name, so an alias costs nothing but a directory scan.
FORMAT_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "AIFF": (".aiff", ".aif", ".aifc"),
    "AU": (".au", ".snd"),
    "AVR": (".avr",),
    "CAF": (".caf",),
    "FLAC": (".flac",),
    "HTK": (".htk",),
    "SVX": (".iff", ".svx", ".8svx", ".16sv", ".16svx"),
    "MAT4": (".mat", ".mat4"),
    "MAT5": (".mat", ".mat5"),
    "MPC2K": (".mpc", ".mpc2k"),
    "MP3": (".mp3", ".mp2", ".mp1", ".mpa", ".mpga", ".m1a", ".m2a"),
    "OGG": (".ogg", ".oga", ".opus"),
    "PAF": (".paf", ".fap"),
    "PVF": (".pvf",),
    "RAW": (),  # header-less: needs rate, channels and encoding from the caller, so never by extension
    "RF64": (".rf64", ".wav"),
    "SD2": (".sd2",),
    "SDS": (".sds",),
    "IRCAM": (".sf", ".ircam"),
    "VOC": (".voc",),
    "W64": (".w64",),
    "WAV": (".wav", ".wave", ".bwf"),
    "NIST": (".nist", ".sph", ".wav"),
    "WAVEX": (".wav", ".wavex"),
    "WVE": (".wve", ".prc"),
    "XI": (".xi",),
}
# An estimated frame count (MPEG without a Xing header) may exceed what decodes by this much.
_MPEG_SLACK = 2 * 1152
# libsndfile's log line for a chunk longer than the bytes present, e.g. "data : 32000 (should be 15978)".
_SHORT_DATA = re.compile(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_STREAMED_SIZES = {0, 0xFFFFFFFF}  # writers that stream (pipes) leave the size unset: not a truncation
_RESAMPLE_MARGIN = 1024  # output samples of context past the kept clip: soxr HQ is exact with it


@lru_cache(maxsize=1)
def audio_extensions() -> tuple[str, ...]:
    """Every file extension the installed libsndfile reads (lower case, with the dot), sorted.

    Derived from ``soundfile.available_formats()``: each format contributes the extensions it is
    known by (``FORMAT_EXTENSIONS``; its lower-cased name when unlisted). ``.opus`` needs the Opus
    codec in the OGG container; header-less ``RAW`` contributes nothing.
    """
    exts: set[str] = set()
    formats = sf.available_formats()
    for fmt in formats:
        exts.update(FORMAT_EXTENSIONS.get(fmt, ("." + fmt.lower(),)))
    if "OGG" in formats and "OPUS" not in sf.available_subtypes("OGG"):
        exts.discard(".opus")
    return tuple(sorted(exts))


def _label(src: Any, name: str | None) -> str:
    if name is not None:
        return name
    if isinstance(src, str | os.PathLike) or is_url(src):
        return repr(str(src))
    if isinstance(src, bytes | bytearray | memoryview):
        return f"<{len(src)} bytes>"
    return repr(str(getattr(src, "name", "<file object>")))


def _header_rate(head: bytes) -> int | None:
    """The rate field of a RIFF/RIFX/RF64 'fmt ' chunk in the first bytes, to name it in errors."""
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX", b"RF64") or head[8:12] != b"WAVE":
        return None
    pos = head.find(b"fmt ", 12)
    if pos < 0 or pos + 16 > len(head):
        return None
    return struct.unpack((">" if head[:4] == b"RIFX" else "<") + "I", head[pos + 12 : pos + 16])[0]


def _check_rate(rate: int, label: str) -> int:
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise DataError(
            f"{label}: header sample rate {rate} Hz is implausible; expected {MIN_SAMPLE_RATE} to "
            f"{MAX_SAMPLE_RATE} Hz (a corrupt or hand-edited header)"
        )
    return int(rate)


def _read_frames(f: sf.SoundFile) -> np.ndarray:
    if f.seekable():
        return f.read(dtype="float32", always_2d=True)
    # Non-seekable codecs (GSM 6.10, ...) cannot be read "to the end" in one call.
    blocks = []
    while True:
        block = f.read(1 << 16, dtype="float32", always_2d=True)
        if not len(block):
            break
        blocks.append(block)
    return np.concatenate(blocks) if blocks else np.zeros((0, f.channels), np.float32)


def _check_complete(f: sf.SoundFile, got: int, label: str) -> None:
    for declared, present in _SHORT_DATA.findall(f.extra_info):
        if int(declared) > int(present) and int(declared) not in _STREAMED_SIZES:
            raise DataError(
                f"{label}: truncated file: the header declares {declared} bytes of audio but only {present} "
                "are present; expected a complete file (re-export or re-download it)"
            )
    slack = _MPEG_SLACK if f.subtype.startswith("MPEG") else 0
    if f.frames - got > slack:
        raise DataError(
            f"{label}: truncated file: the header declares {f.frames} frames but only {got} decode; "
            "expected a complete file (re-export or re-download it)"
        )


def read_audio(src: AudioSource, *, name: str | None = None) -> tuple[np.ndarray, int]:
    """``(audio, sample_rate)``: the file's samples as mono float32 (channels averaged) and its rate.

    ``src`` is a path, the encoded bytes or a binary file object; ``name`` labels errors
    (default: the path).  Raises ``DataError`` naming the file when it is missing, not audio,
    truncated, empty, holds NaN/inf, or declares an implausible sample rate.
    """
    label = _label(src, name)
    if is_url(src):  # a URL (s3://, https://, ...): read whole through modalax's path helper
        try:
            with open_path(src, "rb") as fh:  # type: ignore[arg-type]  # is_url: a str or a RemotePath
                src = fh.read()
        except FileNotFoundError:
            raise DataError(f"{label}: no such file") from None
    if isinstance(src, str | os.PathLike):
        path = Path(src)
        if not path.is_file():
            raise DataError(f"{label}: no such file")
        with path.open("rb") as fh:
            head = fh.read(512)
        handle: Any = str(path)
    elif isinstance(src, bytes | bytearray | memoryview):
        handle = io.BytesIO(bytes(src))
        head = bytes(src[:512])
    else:
        handle, head = src, b""
    rate = _header_rate(head)
    if rate is not None:
        _check_rate(rate, label)
    try:
        with sf.SoundFile(handle) as f:
            _check_rate(f.samplerate, label)
            frames = _read_frames(f)
            _check_complete(f, frames.shape[0], label)
            rate = f.samplerate
    except DataError:
        raise
    except (sf.SoundFileError, RuntimeError, ValueError, EOFError, OSError) as exc:
        detail = str(exc).split(": ", 1)[-1] if isinstance(exc, sf.LibsndfileError) else str(exc)
        raise DataError(
            f"{label}: cannot decode as audio ({type(exc).__name__}: {detail}); expected a complete file in a "
            "format libsndfile reads (soundfile.available_formats())"
        ) from exc
    if frames.shape[0] == 0:
        raise DataError(f"{label}: holds no samples; expected at least one")
    audio = frames.mean(axis=1, dtype=np.float32) if frames.shape[1] > 1 else frames[:, 0]
    if not np.all(np.isfinite(audio)):
        raise DataError(f"{label}: holds NaN or inf samples; expected finite values")
    return np.ascontiguousarray(audio, np.float32), int(rate)


def host_resampled_length(n_samples: int, orig_sr: int, target_sr: int) -> int:
    """Samples ``resample_host`` returns for ``n_samples`` input samples: librosa's rule.

    ``ceil(n_samples * (target_sr / orig_sr))`` with the ratio in float64, exactly as
    ``librosa.resample`` computes it (``fix=True``).  It equals the exact ``ceil(n * target / orig)``
    except where the float ratio rounds up past an integer: 44,100 samples from 44.1 to 48 kHz
    give 48,001, not 48,000.  soxr alone returns about ``round(n * target / orig)``, one fewer
    whenever the fraction is below one half.
    """
    return int(np.ceil(n_samples * (float(target_sr) / float(orig_sr))))


def _fix_length(y: np.ndarray, n: int) -> np.ndarray:
    """Zero-pad or trim the last axis to ``n`` samples (``librosa.util.fix_length``)."""
    if y.shape[-1] >= n:
        return y[..., :n]
    return np.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, n - y.shape[-1])])


def resample_host(audio: np.ndarray, orig_sr: int, target_sr: int, *, fix: bool = True) -> np.ndarray:
    """Resample the last axis of host audio with soxr (``HQ``), as ``librosa.resample`` does by default.

    The values are soxr's at ``HQ`` quality (librosa's default ``res_type="soxr_hq"``).  The
    length follows librosa's rule (``host_resampled_length``: ``ceil(n * target_sr / orig_sr)``,
    soxr's output zero-padded by the sample soxr rounds away); ``fix=False`` keeps soxr's own
    length (``librosa.resample(..., fix=False)``).  Costs O(samples) for any pair of rates (no
    polyphase filter of ``up x down`` taps).
    """
    for field, value in (("orig_sr", orig_sr), ("target_sr", target_sr)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
            raise ConfigError(f"resample_host.{field}: got {value!r}, expected a positive int (Hz)")
    if not isinstance(fix, bool):
        raise ConfigError(f"resample_host.fix: got {fix!r}, expected a bool")
    x = np.asarray(audio, np.float32)
    if int(orig_sr) == int(target_sr):
        return x
    n_fixed = host_resampled_length(x.shape[-1], int(orig_sr), int(target_sr))
    if x.ndim == 1:
        y = soxr.resample(x, int(orig_sr), int(target_sr), quality="HQ")
        return _fix_length(y, n_fixed) if fix else y
    # soxr takes (frames, channels): move time first, one call for the whole batch.
    flat = x.reshape(-1, x.shape[-1]).T
    if flat.shape[1] == 0:  # an empty batch: soxr needs a channel to say its own output length
        n_out = n_fixed if fix else len(resample_host(np.zeros(x.shape[-1], np.float32), orig_sr, target_sr, fix=False))
        return np.zeros((*x.shape[:-1], n_out), np.float32)
    y = soxr.resample(np.ascontiguousarray(flat), int(orig_sr), int(target_sr), quality="HQ")
    y = np.ascontiguousarray(y.T).reshape(*x.shape[:-1], y.shape[0])
    return _fix_length(y, n_fixed) if fix else y


def fit_to_config(audio: np.ndarray, sample_rate: int, config: Any) -> tuple[np.ndarray, int]:
    """Resample ``audio`` to ``config.sample_rate`` (soxr) and zero-pad or trim it to ``n_time_steps``.

    Returns the clip and how many of its samples are real audio (not padding): the resampled
    length by librosa's rule (``host_resampled_length``), at most ``n_time_steps``.  Only the
    input the kept clip needs (plus ``_RESAMPLE_MARGIN`` output samples of filter context) is
    resampled, so a long file costs as much as a short one and values equal resampling it all.
    """
    n_out, target = config.n_time_steps, config.sample_rate
    if sample_rate != target:
        need = math.ceil(n_out * sample_rate / target) + math.ceil(_RESAMPLE_MARGIN * max(1.0, sample_rate / target))
        cut = len(audio) > need
        audio = resample_host(audio[:need] if cut else audio, sample_rate, target)
        valid = n_out if cut else min(n_out, len(audio))
    else:
        valid = min(n_out, len(audio))
    out = np.zeros(n_out, np.float32)
    out[:valid] = audio[:valid]
    return out, valid


def decode_audio(
    src: AudioSource, config: Any = None, *, resample: bool = True, name: str | None = None
) -> dict[str, np.ndarray]:
    """One record from an encoded file: ``audio``, ``length`` and ``source_sample_rate``.

    The audio modality's one decode path (its ``ModalityRecord.decoder``): the folder and packed
    datasets call it, and so can any source of encoded files.  ``config`` is an
    ``AudioModalityConfig``, a dict of its fields or None (the defaults).  ``audio`` is float32
    ``(config.n_time_steps,)`` at ``config.sample_rate``: mono, resampled with soxr (librosa's
    values and length, see ``resample_host``), zero-padded or trimmed to ``config.duration`` and
    peak-normalised when ``config.normalize``; ``length`` counts its real (not padding) samples.
    With ``resample=False`` a file at another rate is a ``DataError``.
    """
    config = check_config(config, "decode_audio")
    if not isinstance(resample, bool):
        raise ConfigError(f"decode_audio.resample: got {resample!r}, expected a bool")
    label = _label(src, name)
    audio, rate = read_audio(src, name=label)
    if rate != config.sample_rate and not resample:
        raise DataError(
            f"{label}: sample rate {rate} Hz, expected {config.sample_rate} Hz "
            "(resample=False; pass resample=True to convert)"
        )
    clip, valid = fit_to_config(audio, rate, config)
    if config.normalize:
        peak = float(np.max(np.abs(clip)))
        if peak > 0:
            clip = clip / peak
    return {
        "audio": clip.astype(np.float32),
        "length": np.asarray(valid, np.int32),
        "source_sample_rate": np.asarray(rate, np.int32),
    }
