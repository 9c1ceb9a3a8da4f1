"""Host-side checks of token-id arrays (numpy only, no jax).

Inside jit an id outside ``[0, vocab_size)`` cannot raise; wherever ids are concrete (the
tokenizers, ``detokenize``, operators called on a host batch, metrics) they are checked here
so that a bad id is a ``DataError`` naming where it was found, the id and the valid range.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modalax.plugin import DataError

__all__ = ["check_token_ids"]


def check_token_ids(ids: Any, vocab_size: int | None, where: str) -> np.ndarray:
    """``ids`` as a numpy integer array; ``DataError`` naming ``where``, the first bad id and the range.

    ``vocab_size=None`` checks only that no id is negative.
    """
    arr = np.asarray(ids)
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise DataError(f"{where}: got {arr.dtype} values, expected integer token ids")
    bad = arr < 0 if vocab_size is None else (arr < 0) | (arr >= vocab_size)
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        expected = "non-negative ids" if vocab_size is None else f"ids in [0, vocab_size={vocab_size})"
        raise DataError(
            f"{where}: token id {int(arr[pos])} at position {pos if len(pos) > 1 else pos[0]} "
            f"({int(bad.sum())} bad id(s) in all), expected {expected}"
        )
    return arr
