"""Per-clip spectral work on the CPU, cut into cache-sized chunks that run side by side.

A mel spectrogram of a batch is a chain of whole-batch steps (frames, FFT, power, filterbank)
whose intermediates are each several times the audio (64 one-second clips at n_fft 1024: 16 MB
of frames, 16 MB of complex spectrum). On XLA:CPU each step then streams from memory and is
split across cores by itself, which kept two cores 1.4x busy, not 2x. Here the clips go through
the same chain in chunks of about ``_CHUNK_FLOATS`` frame samples (1 MB, so a chunk's
intermediates stay in cache), ``_LANES`` independent chunks per step of a ``lax.map``: XLA:CPU
runs independent operations concurrently, so the lanes keep every core busy with cache-resident
work. Measured on a 2-core Intel host (64 one-second clips, n_fft 1024): 13 ms against 18 ms
for the whole batch at once (256 clips: 60 against 118 ms); compile time rises from 0.35 s to
0.6-1 s (the chain is traced once per lane, and once more for a remainder). A batch of fewer
than two steps' worth runs as unrolled chunks, without the ``lax.map``. The chunks do not make
a clip's values independent of its batch: the filterbank product's last bits may change with
the number of frames in a chunk. Accelerators keep the whole-batch chain: one large operation
per step is what they are fast at.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

__all__ = ["by_chunks"]

_CHUNK_FLOATS = 1 << 18  # frame samples per chunk (1 MB of float32)
_LANES = 4  # chunks per step: 2 gave 17 ms, 4 gave 14 ms on 2 cores


def _chunk_clips(frame_floats: int) -> int:
    """Clips per chunk: as many as fit ``_CHUNK_FLOATS`` frame samples, at least one."""
    return max(1, _CHUNK_FLOATS // frame_floats)


def _chained(fn: Callable[[jax.Array], jax.Array], clips: jax.Array, per_chunk: int) -> jax.Array:
    """``fn`` on consecutive chunks of ``clips``, joined: independent chains XLA can run at once."""
    parts = [fn(clips[i : i + per_chunk]) for i in range(0, clips.shape[0], per_chunk)]
    return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=0)


def by_chunks(fn: Callable[[jax.Array], jax.Array], x: jax.Array, frame_floats: int) -> jax.Array:
    """``fn(x)`` for ``fn`` mapping clips ``(batch, n_samples)`` to per-clip results ``(batch, ...)``.

    ``x`` is ``(..., n_samples)``; ``frame_floats`` is the frame samples ``fn`` makes per clip
    (frames x n_fft). On the CPU backend the clips go in chunks (see the module docstring);
    elsewhere ``fn`` takes the whole batch.
    """
    lead, n = x.shape[:-1], x.shape[-1]
    clips = x.reshape(-1, n)
    total = clips.shape[0]
    per_chunk = _chunk_clips(frame_floats)
    if jax.default_backend() != "cpu" or total <= per_chunk:
        out = fn(clips)
    else:
        group = per_chunk * _LANES
        full = total // group
        parts = []
        if full > 1:
            mapped = jax.lax.map(lambda g: _chained(fn, g, per_chunk), clips[: full * group].reshape(full, group, n))
            parts.append(mapped.reshape(full * group, *mapped.shape[2:]))
            clips = clips[full * group :]
        if clips.shape[0]:
            parts.append(_chained(fn, clips, per_chunk))
        out = parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=0)
    return out.reshape(*lead, *out.shape[1:])
