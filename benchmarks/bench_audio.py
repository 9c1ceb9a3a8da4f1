"""Mel spectrograms: modalax's ``audio.mel_spectrogram`` kernel against librosa, torch and plain jax.

64 clips of 1 s at 16 kHz, n_fft 1024, hop 256, 80 mels (Slaney), power 2, centred frames with
reflect padding. Every implementation gets the same clips already in its own array type and
returns all 64 mel spectrograms; jax results are waited for. Every contender is built once
(its first call, compile included, timed apart) and timed round-robin.

The case's limit is the FFT: every jax mel kernel on this backend runs XLA's rfft over the same
64 x 63 windowed frames, so the rfft of those frames alone (prebuilt, no framing, power or
filterbank; whole batch or in the kernel's own chunks, whichever is faster) bounds it. torch's
rfft of the same frames is timed beside it and quoted in the notes: where the peer's FFT library
is faster than XLA's, no kernel written in jax can lead by much.

Rerun: ``python benchmarks/bench_audio.py [--runs N] [--quick]``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchResult, Contender, main, race

CLIPS, SR, N_FFT, HOP, N_MELS = 64, 16000, 1024, 256, 80
MEL = {"sample_rate": SR, "n_fft": N_FFT, "hop_length": HOP, "n_mels": N_MELS, "pad_mode": "reflect"}


def _modalax_kernel() -> Any:
    try:
        import modalax

        return modalax.get_kernel("audio.mel_spectrogram")
    except Exception:
        import jax

        from modalax_audio.kernels import mel_spectrogram

        return jax.jit(mel_spectrogram, static_argnames=tuple(MEL))


def _hann_and_frame_index() -> tuple[np.ndarray, np.ndarray]:
    """The periodic Hann window and the sample index of every centred frame, as written by hand."""
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    return window, np.arange(1 + SR // HOP)[:, None] * HOP + np.arange(N_FFT)[None, :]


def _jax_reference() -> Any:
    """What one writes with jax alone: pad, gather frames, rfft, |.|^2, dense mel matmul."""
    import jax
    import jax.numpy as jnp

    from modalax_audio.filters import mel_filterbank_np

    fb = np.asarray(mel_filterbank_np(SR, N_FFT, N_MELS), np.float32)
    window, idx = _hann_and_frame_index()

    @jax.jit
    def mel(x: jax.Array) -> jax.Array:
        xp = jnp.pad(x, ((0, 0), (N_FFT // 2, N_FFT // 2)), mode="reflect")
        spec = jnp.fft.rfft(xp[:, idx] * window, axis=-1)
        power = spec.real**2 + spec.imag**2
        return jnp.einsum("mf,btf->bmt", fb, power)

    return mel


def _torch_rows(x: np.ndarray, rows: dict[str, Contender], notes: list[str]) -> None:
    try:
        import torch
    except ImportError:
        notes.append("torch not installed: no torch row")
        return
    from modalax_audio.filters import mel_filterbank_np

    tx = torch.from_numpy(x.copy())
    window = torch.hann_window(N_FFT)
    fb = torch.from_numpy(np.asarray(mel_filterbank_np(SR, N_FFT, N_MELS), np.float32))
    default_threads = torch.get_num_threads()

    def with_threads(threads: int) -> Any:
        def one() -> Any:
            torch.set_num_threads(threads)
            try:
                with torch.inference_mode():
                    spec = torch.stft(
                        tx, N_FFT, HOP, window=window, center=True, pad_mode="reflect", return_complex=True
                    )
                    return torch.matmul(fb, spec.real**2 + spec.imag**2)
            finally:
                torch.set_num_threads(default_threads)

        return one

    for threads in sorted({default_threads, 1}, reverse=True):  # on a busy machine one thread can beat several
        rows[f"torch {torch.__version__} (stft + matmul, {threads} threads)"] = Contender(with_threads(threads))
    try:
        import torchaudio

        transform = torchaudio.transforms.MelSpectrogram(
            SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS, norm="slaney", mel_scale="slaney", pad_mode="reflect"
        )
        rows[f"torchaudio {torchaudio.__version__}"] = Contender(lambda: transform(tx))
    except Exception as exc:
        notes.append(f"torchaudio row skipped ({type(exc).__name__})")


def _fft_limit(x: np.ndarray, runs: int) -> tuple[float, str]:
    """Clips/s of XLA's rfft of the windowed frames alone (the limit) and a note with torch's.

    XLA's rfft is timed both over the whole batch and in the chunks the kernel cuts on this
    backend (``modalax_audio.chunks``); the faster of the two is the limit, so the chunking cannot
    make the kernel look closer to its ceiling than it is. Each contender keeps only the DC bin of
    the spectrum (the whole transform is still computed), as the kernel never writes the complex
    spectrum out: what is timed is the transform, not a 16 MB output.
    """
    import jax
    import jax.numpy as jnp

    from modalax_audio.chunks import by_chunks

    window, idx = _hann_and_frame_index()
    xp = np.pad(x, ((0, 0), (N_FFT // 2, N_FFT // 2)), mode="reflect")
    frames = np.ascontiguousarray(xp[:, idx] * window)
    n_frames = frames.shape[1]
    fj, flat = jnp.asarray(frames), jnp.asarray(frames.reshape(CLIPS, -1))
    whole = jax.jit(lambda f: jnp.fft.rfft(f, axis=-1)[..., 0])
    chunked = jax.jit(
        lambda f: by_chunks(
            lambda c: jnp.fft.rfft(c.reshape(-1, n_frames, N_FFT), axis=-1)[..., 0], f, n_frames * N_FFT
        )
    )
    contenders = {"XLA whole batch": Contender(lambda: whole(fj)), "XLA in chunks": Contender(lambda: chunked(flat))}
    try:
        import torch

        tf = torch.from_numpy(frames)
        contenders[f"torch ({torch.get_num_threads()} threads)"] = Contender(lambda: torch.fft.rfft(tf, dim=-1)[..., 0])
    except ImportError:
        pass
    best = {name: max(t.rates) for name, t in race(contenders, CLIPS, runs).items()}
    rates = ", ".join(f"{name} {rate:,.0f} clips/s" for name, rate in best.items())
    limit = max(best["XLA whole batch"], best["XLA in chunks"])
    return limit, f"the rfft of the same frames alone, best of {runs}: {rates}"


def _librosa_rows(x: np.ndarray, rows: dict[str, Contender], notes: list[str]) -> None:
    try:
        import librosa
    except ImportError:
        notes.append("librosa not installed: no librosa rows")
        return
    kw = {"sr": SR, "n_fft": N_FFT, "hop_length": HOP, "n_mels": N_MELS, "pad_mode": "reflect"}
    rows[f"librosa {librosa.__version__} (loop)"] = Contender(
        lambda: [librosa.feature.melspectrogram(y=clip, **kw) for clip in x]
    )
    rows[f"librosa {librosa.__version__} (batched)"] = Contender(lambda: librosa.feature.melspectrogram(y=x, **kw))


def run(quick: bool = False, runs: int | None = None) -> list[BenchResult]:
    """The mel spectrogram case; peers that are not installed give a note instead of a row."""
    import jax.numpy as jnp

    runs = runs or (3 if quick else 11)
    x = np.random.default_rng(0).uniform(-1, 1, (CLIPS, SR)).astype(np.float32)
    xj = jnp.asarray(x)
    notes: list[str] = []
    kernel = _modalax_kernel()
    reference = _jax_reference()
    contenders = {
        "modalax (audio.mel_spectrogram)": Contender(lambda: kernel(xj, **MEL)),
        "jax.jit reference (gather + rfft + dense matmul)": Contender(lambda: reference(xj)),
    }
    _torch_rows(x, contenders, notes)
    _librosa_rows(x, contenders, notes)
    timings = race(contenders, CLIPS, runs)
    ours, ref = np.asarray(kernel(xj, **MEL)), np.asarray(reference(xj))
    notes.insert(0, f"max |modalax - jax reference| / peak = {np.max(np.abs(ours - ref)) / np.max(np.abs(ref)):.1e}")
    fft_rate, fft_note = _fft_limit(x, runs)
    notes.insert(1, fft_note)
    res = BenchResult(
        title=f"mel spectrogram, {CLIPS} clips x 1 s @ {SR // 1000} kHz (n_fft {N_FFT}, hop {HOP}, {N_MELS} mels)",
        unit="clips/s",
        subject="modalax (audio.mel_spectrogram)",
        target=">= 1.3x torch",
        notes="; ".join(notes),
        case="python benchmarks/bench_audio.py",
        limit=(
            "XLA's rfft of the same windowed frames alone, the faster of whole batch and the kernel's chunks"
            " (framing, power and filterbank left out)",
            fft_rate,
        ),
    )
    res.add(timings)
    return [res]


if __name__ == "__main__":
    main(run)
