"""Training in the pipeline: a whole epoch, data and train step, in one jitted ``lax.scan``.

``scan_epoch(loader, step, carry)`` (also ``loader.scan_epoch(step, carry)``) runs the
remaining batches of the loader's epoch and ``step(carry, batch) -> (carry, output)`` inside one
compiled program, for sources in device memory; the batches are bitwise those iterating the
loader yields. See docs/training-in-the-pipeline.md.
"""

from __future__ import annotations

from modalax._src.loader.scan import scan_epoch

__all__ = ["scan_epoch"]
