"""``MultiModalPairedDataset``: explicitly paired arrays of several modalities."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from modalax.plugin import BaseDataset, Batch, ConfigError, DataError, list_modalities, unknown_name_message
from modalax_multimodal.checks import check_finite

__all__ = ["MultiModalPairedDataset"]


def _check_pairs(pairs: Any, names: Sequence[str]) -> tuple[tuple[str, str], ...]:
    if isinstance(pairs, str) or not isinstance(pairs, Sequence) or not pairs:
        raise ConfigError(f"MultiModalPairedDataset.pairs: got {pairs!r}, expected a non-empty list of (a, b) names")
    out = []
    for pair in pairs:
        if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ConfigError(
                f"MultiModalPairedDataset.pairs: got entry {pair!r}, expected a (modality, modality) pair"
            )
        a, b = pair
        for name in (a, b):
            if name not in names:
                raise ConfigError(
                    "MultiModalPairedDataset.pairs: "
                    + unknown_name_message("modality", name, names)
                    + " (the pair names a modality that is not in data)"
                )
        if a == b:
            raise ConfigError(f"MultiModalPairedDataset.pairs: got ({a!r}, {b!r}), expected two different modalities")
        out.append((str(a), str(b)))
    return tuple(out)


class MultiModalPairedDataset(BaseDataset):
    """Rows ``i`` of every array in ``data`` belong together; ``pairs`` says which modalities are paired.

    ``data`` maps registered modality names (``image``, ``text``, ``audio``, or any other a
    plugin registers) to arrays with one equal leading length.  ``alignments`` (default ones)
    holds an alignment score in [0, 1] per sample, shape ``(N,)``, or per sample and pair,
    shape ``(N, len(pairs))``.  Samples carry the modality arrays, ``alignment_scores`` and
    ``pairs`` (a list of name tuples, the same for all).
    """

    traceable = True

    def __init__(
        self,
        pairs: Sequence[tuple[str, str]] | None = None,
        data: Mapping[str, Any] | None = None,
        alignments: Any = None,
        *,
        split: str = "train",
        rngs: nnx.Rngs | int | None = None,
    ) -> None:
        super().__init__(None, split, rngs=rngs)
        if pairs is None or data is None:
            raise ConfigError(
                "MultiModalPairedDataset: expected pairs=[('image', 'text'), ...] and data={'image': array, ...} "
                "(paired data comes from your arrays; use the 'synthetic' dataset type to generate some)"
            )
        if not isinstance(data, Mapping) or not data:
            raise ConfigError(f"MultiModalPairedDataset.data: got {type(data).__name__}, expected a non-empty dict")
        known = [m for m in list_modalities() if m != "multimodal"]
        for name in data:
            if name not in known:
                raise ConfigError("MultiModalPairedDataset.data: " + unknown_name_message("modality", name, known))
        arrays = {}
        for name, value in data.items():
            if not hasattr(value, "shape") or len(np.shape(value)) == 0:
                raise DataError(
                    f"MultiModalPairedDataset.data[{name!r}]: got {type(value).__name__}, "
                    "expected an array with a leading sample axis"
                )
            arrays[name] = jnp.asarray(value)
            check_finite(f"MultiModalPairedDataset.data[{name!r}]", arrays[name])
        lengths = {name: int(a.shape[0]) for name, a in arrays.items()}
        if len(set(lengths.values())) != 1:
            raise DataError(f"MultiModalPairedDataset.data: lengths differ: {lengths}; expected one length for all")
        n = next(iter(lengths.values()))
        if n == 0:
            raise DataError("MultiModalPairedDataset.data: arrays are empty; expected at least one sample")
        self.pairs = _check_pairs(pairs, list(arrays))
        scores = jnp.ones((n,), jnp.float32) if alignments is None else jnp.asarray(alignments, jnp.float32)
        if scores.shape not in ((n,), (n, len(self.pairs))):
            raise DataError(
                f"MultiModalPairedDataset.alignments: got shape {tuple(scores.shape)}, "
                f"expected ({n},) or ({n}, {len(self.pairs)}) (per sample, or per sample and pair)"
            )
        if not bool(jnp.all(jnp.isfinite(scores) & (scores >= 0) & (scores <= 1))):
            raise DataError("MultiModalPairedDataset.alignments: expected finite scores in [0, 1]")
        arrays["alignment_scores"] = scores
        self.modalities = tuple(data)
        self.arrays = nnx.data(arrays)
        self._n = n

    def __len__(self) -> int:
        return self._n

    @staticmethod
    def _take(arrays: Mapping[str, jax.Array], indices: Any) -> Batch:
        return {k: jnp.take(v, indices, axis=0) for k, v in arrays.items()}

    def get_records(self, indices: Any) -> Batch:
        return self._take(self.arrays, jnp.asarray(indices, jnp.int32))

    def pure_gather(self) -> tuple[Callable[[Any, Any], Batch], Any]:
        return self._take, dict(self.arrays)

    def host_records(self, indices: Any) -> dict[str, Any]:
        """``{"pairs": [...]}`` per record: samples and batches (through the loader) carry the pairs."""
        return {"pairs": [list(self.pairs) for _ in range(len(np.atleast_1d(indices)))]}

    def pair_arrays(self, pair: tuple[str, str]) -> tuple[jax.Array, jax.Array]:
        """The two full arrays of ``pair`` (for contrastive training on one pair)."""
        if tuple(pair) not in self.pairs:
            raise ConfigError(f"pair_arrays: got {pair!r}, expected one of {list(self.pairs)}")
        return self.arrays[pair[0]], self.arrays[pair[1]]
