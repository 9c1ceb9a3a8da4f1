"""Aligned image + text + audio generation: modalax against per-sample Python loops of the same math.

10,000 samples of a 32x32x3 image, 50 tokens and 1 s of audio at 16 kHz, alignment 0.8.
``modalax`` streams batches of 250 through ``modalax.DataLoader`` (each rendered in one jitted
call, used, then dropped, as in training); a second row keeps all 10,000 in memory.  The reference implementation
the seeds come from builds one sample at a time, adding one sinusoid at a time to the waveform
and choosing one token at a time; ``modalax_multimodal.reference`` is that approach applied to
the same maps (numpy, float64).  A second loop renders one sample at a time but with the
precomputed full-resolution bases (one matrix-vector product per modality), the fastest
per-sample form.  The loops are timed on a slice and reported per sample. modalax's rows are
built once (first call timed apart) and timed round-robin; the loops are timed after them.

Rerun: ``python benchmarks/bench_multimodal.py [--runs N] [--quick]``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchResult, Contender, block, drain, main, race, rates_of

N, BATCH, STRENGTH = 10_000, 250, 0.8


def _basis_loop(dataset: Any, count: int) -> None:
    """One sample at a time, each modality one matrix-vector product with the precomputed bases."""
    image_basis = np.asarray(dataset.maps.image, np.float32).reshape(32, -1)
    audio_basis = np.asarray(dataset.maps.audio, np.float32)
    envelope = np.asarray(dataset.maps.envelope, np.float32)
    repeats = envelope.shape[0] // audio_basis.shape[1]
    directions, edges, table = (np.asarray(x) for x in dataset.maps.text)
    positions = np.arange(table.shape[0])
    a = STRENGTH
    for i in range(count):
        rng = np.random.default_rng((0, i))
        z = rng.standard_normal(32).astype(np.float32)
        n = rng.standard_normal((3, 32)).astype(np.float32)
        u = np.sqrt(a) * z + np.sqrt(1 - a) * n
        image = (1.0 / (1.0 + np.exp(-(u[0] @ image_basis)))).reshape(32, 32, 3)
        text = table[positions, np.searchsorted(edges, directions @ u[1])]
        audio = np.clip(np.tile(u[2] @ audio_basis, repeats) * envelope, -1.0, 1.0)
        del image, text, audio  # streamed, like the loader's batches


def run(quick: bool = False, runs: int | None = None) -> list[BenchResult]:
    """The aligned-generation case; a missing plugin gives a note instead of rows."""
    try:
        from modalax_multimodal.datasets import create_synthetic_multi_modal_dataset
        from modalax_multimodal.reference import generate_sample_reference, numpy_params
    except ImportError as exc:
        return [BenchResult("aligned image+text+audio generation", "samples/s", notes=f"skipped: {exc}")]
    n = 2_000 if quick else N
    runs = runs or (3 if quick else 7)
    loop_n = 30 if quick else 200
    import modalax

    ds = create_synthetic_multi_modal_dataset(["image", "text", "audio"], n, STRENGTH, rngs=0)
    loader = modalax.DataLoader(ds, BATCH, shuffle=False, drop_last=True)  # defaults otherwise
    chunks = [np.arange(s, s + 1000, dtype=np.int32) for s in range(0, n, 1000)]
    subject = "modalax (DataLoader defaults, streamed)"
    contenders = {
        subject: Contender(run=lambda: drain(loader), first=lambda: next(iter(loader))),
        f"modalax, keeping all {n:,} ({n // 1000} calls of 1,000)": Contender(
            run=lambda: block([ds.get_records(c) for c in chunks]), first=lambda: ds.get_records(chunks[0])
        ),
    }
    res = BenchResult(
        f"aligned image+text+audio generation ({n:,} x [32x32x3, 50 tokens, 1 s at 16 kHz])",
        "samples/s",
        subject=subject,
        target=">= 100x per-sample loop, reference approach",
        notes=f"modalax: DataLoader batches of {BATCH}, generated in its jitted step, each used then dropped; "
        f"the loops are timed on {loop_n} (reference) and {loop_n * 5} (bases) samples, after modalax's rows",
        case="python benchmarks/bench_multimodal.py",
    )
    res.add(race(contenders, n, runs))
    params = numpy_params(ds.render_params)
    loop_runs = 1 if quick else 3
    res.add(
        {
            "per-sample loop, reference approach (numpy)": rates_of(
                lambda: [generate_sample_reference(i, 0, STRENGTH, params) for i in range(loop_n)], loop_n, loop_runs
            ),
            "per-sample loop, precomputed bases (numpy)": rates_of(
                lambda: _basis_loop(ds, loop_n * 5), loop_n * 5, loop_runs
            ),
        }
    )
    return [res]


if __name__ == "__main__":
    main(run)
