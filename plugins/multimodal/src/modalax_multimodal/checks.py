"""Checks of concrete input arrays shared by the dataset, the modality and the losses."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from modalax.plugin import DataError

__all__ = ["check_finite", "is_traced"]


def is_traced(x: Any) -> bool:
    """True inside a jax transformation, where values cannot be inspected."""
    return isinstance(x, jax.core.Tracer)


def check_finite(owner: str, x: Any) -> None:
    """``DataError`` naming ``owner`` and the first sample holding NaN or inf (floats only, concrete only)."""
    if is_traced(x):
        return
    arr = np.asarray(x)
    if arr.dtype.kind not in "fc" or arr.size == 0:
        return
    bad = ~np.isfinite(arr.reshape(len(arr), -1) if arr.ndim > 1 else arr.reshape(-1, 1))
    rows = np.flatnonzero(bad.any(axis=1))
    if rows.size:
        first = int(rows[0])
        values = arr[first].reshape(-1)
        value = values[~np.isfinite(values)][0]
        raise DataError(
            f"{owner}: sample {first} holds {value} ({int(bad.sum())} non-finite value(s) in "
            f"{rows.size} sample(s)); expected finite values"
        )
