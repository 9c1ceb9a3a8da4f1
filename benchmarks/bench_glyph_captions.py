"""Readable glyph/caption/sound data (``multimodal/glyphs``) beside the latent-aligned data, through the loader.

Both datasets produce the same array sizes per sample: a 32x32x3 image, a 4,000-sample clip
(0.5 s at 8 kHz for glyphs, 0.25 s at 16 kHz for the aligned data) and a short token row
(12 caption tokens; 16 aligned tokens).  Each is streamed through ``modalax.DataLoader`` in
batches of 256, generated on demand in the loader's jitted step (each batch used, then
dropped).  Reported: samples/s as min / median / max over repeated epochs, and, separately,
the one-off compile time of each dataset's batch kernel (``jit(...).lower(...).compile()``).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BenchResult, block, main

N, BATCH = 8_192, 256


def _datasets(n: int) -> dict[str, Any]:
    from modalax_multimodal.datasets import create_synthetic_multi_modal_dataset
    from modalax_multimodal.datasets.glyphs import create_glyph_caption_dataset

    aligned = create_synthetic_multi_modal_dataset(
        ["image", "text", "audio"], n, 1.0, rngs=0, image_shape=(32, 32, 3), text_sequence_length=16,
        text_vocab_size=64, audio_duration=0.25,
    )  # fmt: skip
    return {"glyphs (multimodal/glyphs)": create_glyph_caption_dataset(n, 1.0, seed=0), "latent-aligned": aligned}


def compile_seconds(dataset: Any) -> float:
    """Seconds to compile the dataset's batch kernel for ``BATCH`` indices (fresh jit, nothing cached)."""
    import jax

    fn, args = dataset.pure_gather()
    idx = np.arange(BATCH, dtype=np.int32)
    t0 = time.perf_counter()
    jax.jit(lambda a, i: fn(a, i)).lower(args, idx).compile()
    return time.perf_counter() - t0


def epoch_runner(dataset: Any) -> Callable[[], float]:
    """A function timing one full epoch through ``DataLoader`` (samples/s); one warm-up epoch is run here."""
    import modalax

    loader = modalax.DataLoader(dataset, BATCH, shuffle=True, seed=0, drop_last=True)

    def epoch() -> float:
        t0 = time.perf_counter()
        for batch in loader:
            block(batch)
        return len(dataset) // BATCH * BATCH / (time.perf_counter() - t0)

    epoch()
    return epoch


def _spread(rates: list[float]) -> str:
    return f"min {min(rates):,.0f} / median {statistics.median(rates):,.0f} / max {max(rates):,.0f}"


def run(quick: bool = False) -> list[BenchResult]:
    """Both datasets through the loader; a missing plugin gives a note instead of rows."""
    try:
        datasets = _datasets(2_048 if quick else N)
    except ImportError as exc:
        return [BenchResult("glyph captions vs latent-aligned generation", "samples/s", notes=f"skipped: {exc}")]
    repeats = 3 if quick else 7
    compiles = {name: compile_seconds(ds) for name, ds in datasets.items()}
    rates: dict[str, list[float]] = {name: [] for name in datasets}
    runs = {name: epoch_runner(ds) for name, ds in datasets.items()}
    for _ in range(repeats):  # round-robin, so a noisy spell of a shared machine falls on both
        for name, epoch in runs.items():
            rates[name].append(epoch())
    notes = "; ".join(f"{name}: {_spread(r)} samples/s, compile {compiles[name]:.2f} s" for name, r in rates.items())
    first = next(iter(datasets))
    return [
        BenchResult(
            f"readable glyph data vs latent-aligned data through the loader ({len(datasets[first]):,} samples, "
            f"batches of {BATCH}, 32x32x3 image + 4,000 audio samples + tokens)",
            "samples/s",
            {name: statistics.median(r) for name, r in rates.items()},
            subject=first,
            target="same order as latent-aligned",
            notes=notes + f"; {repeats} epochs each, medians in the table",
        )
    ]


if __name__ == "__main__":
    main(run)
