"""Resampling decoded audio to 16 kHz at awkward source rates, against the 48 kHz case.

1 s of noise at 48,000 Hz (gcd 16,000: a 3:1 decimation), 44,101 Hz (gcd 1) and 7,919 Hz
(a prime) is brought to 16 kHz the way ``AudioFolderDataset`` does it: soxr HQ on the host
(``modalax_audio.resample_host``), and end to end by ``decode_audio`` from WAV bytes
(libsndfile decode + soxr + pad/trim).  Before soxr, the polyphase kernel needed a filter of
up x down taps: 61 taps for 48 kHz, 7.1e8 (over 8 GiB) for 44,101 Hz and 1.3e8 for 7,919 Hz;
the jitted kernel now refuses those ratios, and the table shows what the host path costs.

Peak memory: tracemalloc's peak over one call (numpy buffers and Python objects; soxr's C
buffers are not traced), and the growth of peak RSS over 20 calls in a fresh process per rate
(what the operating system saw, C buffers included).
Run: ``python benchmarks/bench_resample.py [--quick] [--runs N]``.
"""

from __future__ import annotations

import io
import multiprocessing
import resource
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchResult, Contender, main, race

TARGET = 16000
RATES = (48000, 44101, 7919)


def _clip(rate: int) -> np.ndarray:
    return np.random.default_rng(rate).uniform(-0.5, 0.5, rate).astype(np.float32)


def _wav_bytes(x: np.ndarray, rate: int) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, x, rate, format="WAV", subtype="FLOAT")
    return buf.getvalue()


def _peak_kib(fn: Any) -> float:
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1024


def _rss_growth_kib(rate: int) -> float:
    """In a fresh process: peak RSS after 20 decode+resample calls minus the peak after one."""
    from modalax_audio import AudioModalityConfig, decode_audio

    data = _wav_bytes(_clip(rate), rate)
    config = AudioModalityConfig(sample_rate=TARGET, duration=1.0, normalize=False)
    decode_audio(data, config)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(20):
        decode_audio(data, config)
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)


def run(quick: bool = False, runs: int | None = None) -> list[BenchResult]:
    from modalax_audio import AudioModalityConfig, decode_audio, resample_host
    from modalax_audio.resample import MAX_FILTER_SIZE, filter_size

    runs = runs or (3 if quick else 15)
    config = AudioModalityConfig(sample_rate=TARGET, duration=1.0, normalize=False)
    host: dict[str, Contender] = {}
    decode: dict[str, Contender] = {}
    memory: list[str] = []
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        growth = dict(zip(RATES, pool.map(_rss_growth_kib, RATES), strict=True))
    for rate in RATES:
        x, data = _clip(rate), _wav_bytes(_clip(rate), rate)
        label = f"{rate} Hz -> {TARGET} Hz" + (" (reference)" if rate == 48000 else "")
        host[label] = Contender(lambda x=x, rate=rate: resample_host(x, rate, TARGET))
        decode[label] = Contender(lambda data=data: decode_audio(data, config))
        taps = filter_size(TARGET, rate)
        kernel = "kernel ok" if taps <= MAX_FILTER_SIZE else "kernel refuses (ConfigError)"
        memory.append(
            f"{rate} Hz: peak {_peak_kib(host[label].run):,.0f} KiB host resample, "
            f"{_peak_kib(decode[label].run):,.0f} KiB decode_audio, peak RSS +{growth[rate]:,.0f} KiB over 20 "
            f"decodes; polyphase filter {taps:,} taps, {kernel}"
        )
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    subject = f"48000 Hz -> {TARGET} Hz (reference)"
    results = []
    for title, contenders in (
        ("Host resampling of 1 s of audio to 16 kHz (soxr HQ, resample_host)", host),
        ("decode_audio of a 1 s float WAV to a 16 kHz clip (libsndfile + soxr)", decode),
    ):
        res = BenchResult(title, "clips/s", subject=subject, target="within 5x of 48 kHz, flat memory")
        res.add(race(contenders, 1, runs))
        res.notes = "; ".join(memory) + f". Process peak RSS {rss_mib:,.0f} MiB."
        results.append(res)
    return results


if __name__ == "__main__":
    main(run)
