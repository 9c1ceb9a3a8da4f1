"""``Mixture``: several sources mixed by weight, with exact proportions in every epoch.

An epoch of the mixture has ``epoch_size`` positions (by default the most that takes no source
past its own size: ``min_k floor(n_k * W / w_k)`` over the sources of positive weight ``w_k``,
``W`` their sum). Source ``k`` fills exactly ``c_k`` of them, ``c_k`` the largest-remainder
apportionment of ``epoch_size`` by weight (exact rational arithmetic, ties to the earlier
source), so proportions are exact in every epoch, not only in expectation.

Which positions: a binary split of the sources, each split spreading its two groups evenly over
its positions (Bresenham: position ``i`` of ``T`` goes left when ``floor((i+1)C/T)`` steps,
``C`` the left's count), so even an unshuffled loader sees the sources interleaved. Which
records: source ``k`` is read as an endless stream of passes, each pass a permutation of its
records drawn from ``(seed, k, pass)`` (``shuffle=False``: record order); epoch ``e`` takes
stream positions ``[e c_k, (e+1) c_k)``. So a source larger than its share shows *different*
records in consecutive epochs and every one of its records once per ``n_k / c_k`` epochs
before any repeats; an epoch that straddles two passes may show a record of the older pass
again from the newer one. A part that is itself epoch-aware (a mixture) gets its pass number as
its epoch.

The epoch reaches the mixture through the *epoch-aware source* protocol the loader calls:
``epoch_records(epoch, positions)`` maps positions of an epoch to record ids, pure integer
arithmetic on the host (cost: a few numpy ops per batch, one permutation per source and pass,
kept for the passes in use), and ``record_source()`` reads records by id: the parts one after
another, gathered inside the loader's jitted step when every part is traceable (one gather per
part and a select), else on the host. Record ids, not positions, then key the operators'
randomness and the loader's ``index`` field. ``mixture[i]`` and ``get_records`` are epoch 0's
records (so a ``Subset`` or ``Concat`` *of* a mixture sees epoch 0's draw: mix subsets instead).
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.loader.order import EpochOrder
from modalax._src.loader.stream import is_epoch_aware
from modalax._src.random import check_seed
from modalax._src.sources.base import Batch, Fingerprint, IndexedSource, fingerprint_of
from modalax._src.sources.foreign import MAX_RECORDS, as_source
from modalax._src.sources.subsets import Concat

__all__ = ["Mixture", "apportion", "is_epoch_aware"]

_ORDERS_KEPT = 8  # pass permutations cached per source (an epoch touches one or two per source)
_SALT = 0x4D4958  # separates the mixture's pass orders from the loader's epoch orders of the same seed


def apportion(total: int, weights: Sequence[Fraction]) -> list[int]:
    """``total`` split by ``weights``: floors of the exact quotas, then one more to the largest remainders."""
    whole = sum(weights, Fraction(0))
    quotas = [total * w / whole for w in weights]
    counts = [math.floor(q) for q in quotas]
    order = sorted(range(len(weights)), key=lambda k: (-(quotas[k] - counts[k]), k))
    for k in order[: total - sum(counts)]:
        counts[k] += 1
    return counts


def _check_weights(weights: Any, n: int) -> list[Fraction]:
    if isinstance(weights, str) or not isinstance(weights, Sequence | np.ndarray) or len(weights) != n:
        raise ConfigError(f"Mixture.weights: got {weights!r}, expected {n} non-negative numbers (one per source)")
    out = []
    for k, w in enumerate(weights):
        ok = not isinstance(w, bool) and isinstance(w, int | float | np.integer | np.floating)
        if not ok or not math.isfinite(float(w)) or w < 0:
            raise ConfigError(f"Mixture.weights[{k}]: got {w!r}, expected a finite number >= 0")
        out.append(Fraction(int(w)) if isinstance(w, int | np.integer) else Fraction(float(w)))
    if not any(out):
        raise ConfigError(f"Mixture.weights: got {list(weights)!r}, all zero; expected at least one positive weight")
    return out


def _spec_of(k: int, source: Any) -> dict[str, tuple[tuple[int, ...], str]]:
    try:
        spec = source.element_spec()
    except Exception as exc:
        raise DataError(
            f"Mixture.sources[{k}] ({type(source).__name__}): its element spec cannot be read ({exc})"
        ) from exc
    leaves = jax.tree_util.tree_flatten_with_path(spec)[0]
    return {".".join(str(getattr(p, "key", p)) for p in path): (tuple(v.shape), str(v.dtype)) for path, v in leaves}


def _check_specs(sources: list[Any]) -> None:
    first = _spec_of(0, sources[0])
    for k, source in enumerate(sources[1:], 1):
        spec = _spec_of(k, source)
        if spec == first:
            continue
        extra, missing = sorted(spec.keys() - first.keys()), sorted(first.keys() - spec.keys())
        if extra or missing:
            raise DataError(
                f"Mixture.sources[{k}] ({type(source).__name__}) has fields {sorted(spec)}, sources[0] has "
                f"{sorted(first)} (extra {extra}, missing {missing}); expected the same fields in every source"
            )
        name = next(f for f in spec if spec[f] != first[f])
        raise DataError(
            f"Mixture.sources[{k}] ({type(source).__name__}): field {name!r} is {spec[name][0]} {spec[name][1]} per "
            f"record, sources[0]'s is {first[name][0]} {first[name][1]}; expected one shape and dtype per field"
        )


def _select(later: jax.Array, old: jax.Array, new: jax.Array) -> jax.Array:
    """``new``'s rows where ``later``, else ``old``'s."""
    return jnp.where(later.reshape(-1, *(1,) * (new.ndim - 1)), new, old)


class _TracedParts(IndexedSource):
    """Traceable sources one after another: each part gathers its clipped ids, a select keeps the right rows."""

    traceable = True

    def __init__(self, parts: list[Any]) -> None:
        self.parts = parts
        self.offsets = tuple(int(x) for x in np.cumsum([0] + [len(p) for p in parts]))
        gathers, args = zip(*(p.pure_gather() for p in parts), strict=True)
        self._gathers, self._args = tuple(gathers), tuple(args)
        offsets, sizes = self.offsets[:-1], tuple(len(p) for p in parts)
        gathers = self._gathers

        def gather(args: Any, ids: Any) -> Batch:
            out: Any = None
            for g, a, lo, n in zip(gathers, args, offsets, sizes, strict=True):
                rows = g(a, jnp.clip(ids - lo, 0, n - 1))
                if out is None:
                    out = rows
                    continue
                out = jax.tree.map(functools.partial(_select, ids >= lo), out, rows)
            return dict(out)

        self._gather = gather

    def __len__(self) -> int:
        return self.offsets[-1]

    def pure_gather(self) -> tuple[Any, Any]:
        return self._gather, self._args

    def get_records(self, indices: Any) -> Batch:
        return self._gather(self._args, jnp.asarray(self.checked_indices(indices), jnp.int32))

    def host_records(self, indices: Any) -> dict[str, Any]:
        ids = np.asarray(indices, np.int64)
        part = np.searchsorted(self.offsets, ids, side="right") - 1
        out: dict[str, Any] = {}
        for k in np.unique(part):
            rows = np.nonzero(part == k)[0]
            host = getattr(self.parts[k], "host_records", None)
            fields = {} if host is None else host(ids[rows] - self.offsets[k])
            for name, values in fields.items():
                if name not in out:
                    out[name] = np.empty(len(ids), dtype=object)
                out[name][rows] = np.asarray(values, dtype=object)
        return out

    def fingerprint(self) -> Fingerprint:
        return {"kind": "concat", "count": len(self), "parts": [fingerprint_of(p) for p in self.parts]}


class Mixture(IndexedSource):
    """``sources`` mixed by ``weights``: exact proportions per epoch, new records of large sources each epoch.

    ``weights``: one non-negative number per source, not all zero (they are normalised).
    ``epoch_size``: positions per epoch (default: the most that takes no source past its size).
    ``seed`` and ``shuffle`` decide the order in which each source's records are used (passes of
    a seeded permutation, or record order); the loader's own ``shuffle`` then orders the epoch's
    positions. Every source must have the same element spec (fields, shapes, dtypes).
    """

    traceable = False  # the loader gathers through record_source(), which may be traceable

    def __init__(
        self,
        sources: Sequence[Any],
        weights: Sequence[float],
        *,
        epoch_size: int | None = None,
        seed: int = 0,
        shuffle: bool = True,
    ) -> None:
        if isinstance(sources, str) or not isinstance(sources, Sequence) or not sources:
            raise ConfigError(f"Mixture.sources: got {sources!r}, expected a non-empty list of sources")
        self.sources = [as_source(s) for s in sources]
        fractions = _check_weights(weights, len(self.sources))
        #: The weights as given (floats); ``counts`` are what they give per epoch.
        self.weights = [float(w) for w in fractions]
        self.seed = check_seed("Mixture.seed", seed)
        self.shuffle = bool(shuffle)
        sizes = [len(s) for s in self.sources]
        for k, n in enumerate(sizes):
            if n == 0 and fractions[k]:
                raise ConfigError(f"Mixture.sources[{k}]: is empty but has weight {self.weights[k]}; expected records")
        _check_specs(self.sources)
        whole = sum(fractions, Fraction(0))
        if epoch_size is None:
            epoch_size = min(math.floor(n * whole / w) for n, w in zip(sizes, fractions, strict=True) if w)
            if epoch_size > MAX_RECORDS:
                raise ConfigError(
                    f"Mixture.epoch_size: the default would be {epoch_size} positions, more than {MAX_RECORDS}; "
                    "expected an explicit epoch_size"
                )
        elif isinstance(epoch_size, bool) or not isinstance(epoch_size, int | np.integer) or epoch_size <= 0:
            raise ConfigError(f"Mixture.epoch_size: got {epoch_size!r}, expected a positive int or None")
        if not 0 < epoch_size <= MAX_RECORDS:
            raise ConfigError(
                f"Mixture.epoch_size: got {epoch_size}, expected 1 to {MAX_RECORDS} positions (records per epoch)"
            )
        self.epoch_size = int(epoch_size)
        #: Positions of each source in every epoch (exact; they sum to ``epoch_size``).
        self.counts = apportion(self.epoch_size, fractions)
        self._sizes = sizes
        self._spaces = [s.record_source() if is_epoch_aware(s) else s for s in self.sources]
        self._offsets = np.cumsum([0] + [len(s) for s in self._spaces])
        if self._offsets[-1] > MAX_RECORDS:
            raise ConfigError(f"Mixture.sources: {self._offsets[-1]} records in all, expected at most {MAX_RECORDS}")
        seeds = np.random.SeedSequence([self.seed, _SALT]).spawn(len(self.sources))
        self._order_seeds = [int(s.generate_state(1, np.uint64)[0] >> np.uint64(1)) for s in seeds]
        self._orders: OrderedDict[tuple[int, int], EpochOrder] = OrderedDict()
        self._records: IndexedSource | None = None

    def __len__(self) -> int:
        return self.epoch_size

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_orders"], state["_records"] = OrderedDict(), None  # rebuilt on demand
        return state

    # ------------------------------------------------------------- epoch-aware protocol
    def record_source(self) -> IndexedSource:
        """The records by id: every source's records one after another (``len`` is their total)."""
        if self._records is None:
            traced = all(getattr(s, "traceable", False) for s in self._spaces)
            self._records = _TracedParts(self._spaces) if traced else Concat(self._spaces)
        return self._records

    def epoch_records(self, epoch: int, positions: Any) -> np.ndarray:
        """Record ids (into ``record_source()``) of ``positions`` of epoch ``epoch``; int64, same shape."""
        pos = np.asarray(positions, np.int64)
        if pos.size and (pos.min() < 0 or pos.max() >= self.epoch_size):
            raise ConfigError(f"Mixture.epoch_records: positions must lie in [0, {self.epoch_size})")
        flat = pos.reshape(-1)
        part, rank = self._interleave(flat)
        ids = np.empty_like(flat)
        for k in np.unique(part):
            rows = np.nonzero(part == k)[0]
            ids[rows] = self._offsets[k] + self._stream(int(k), int(epoch), rank[rows])
        return ids.reshape(pos.shape)

    def _interleave(self, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(source, rank among that source's positions) of each position (see the module docstring)."""
        part, rank = np.empty_like(pos), np.empty_like(pos)
        active = [k for k, c in enumerate(self.counts) if c]

        def split(rows: np.ndarray, p: np.ndarray, group: list[int]) -> None:
            if len(group) == 1:
                part[rows], rank[rows] = group[0], p
                return
            left, right = group[: len(group) // 2], group[len(group) // 2 :]
            c_left = sum(self.counts[k] for k in left)
            total = c_left + sum(self.counts[k] for k in right)
            before = p * c_left // total  # positions of the left group before p
            here = (p + 1) * c_left // total > before
            split(rows[here], before[here], left)
            split(rows[~here], (p - before)[~here], right)

        split(np.arange(len(pos)), pos, active)
        return part, rank

    def _stream(self, k: int, epoch: int, rank: np.ndarray) -> np.ndarray:
        """Records of source ``k`` at stream positions ``epoch * c_k + rank`` (in its own record space)."""
        n, c = self._sizes[k], self.counts[k]
        first_pass, start = divmod(epoch * c, n)  # Python ints: epochs up to 2^63 do not overflow
        at = start + rank
        passes, offsets = at // n, at % n
        out = np.empty_like(rank)
        source = self.sources[k]
        for extra in np.unique(passes):
            rows = np.nonzero(passes == extra)[0]
            number = first_pass + int(extra)
            records = self._order(k, number)[offsets[rows]]
            out[rows] = source.epoch_records(number, records) if is_epoch_aware(source) else records
        return out

    def _order(self, k: int, number: int) -> EpochOrder:
        key = (k, number)
        order = self._orders.get(key)
        if order is None:
            order = self._orders[key] = EpochOrder(self._sizes[k], self._order_seeds[k], number, self.shuffle)
            while len(self._orders) > _ORDERS_KEPT * len(self.sources):
                self._orders.popitem(last=False)
        self._orders.move_to_end(key)
        return order

    # ------------------------------------------------------------- plain source protocol (epoch 0)
    def get_records(self, indices: Any) -> Batch:
        """Records of positions ``indices`` of epoch 0, every field (host fields included)."""
        if isinstance(indices, jax.core.Tracer):
            raise ConfigError(
                "Mixture.get_records: got traced indices; a mixture maps positions to records on the host, "
                "expected concrete indices (the DataLoader gathers its traceable parts inside its jitted step)"
            )
        ids = self.epoch_records(0, self.checked_indices(indices))
        return self.record_source().fetch(ids)

    def element_spec(self) -> dict[str, jax.ShapeDtypeStruct]:
        """The parts' common element spec."""
        return dict(self.sources[0].element_spec())

    def fingerprint(self) -> Fingerprint:
        """Epoch size, weights, counts, seed, shuffle and the parts' fingerprints."""
        return {
            "kind": "mixture",
            "count": self.epoch_size,
            "weights": self.weights,
            "counts": self.counts,
            "seed": self.seed,
            "shuffle": self.shuffle,
            "parts": [fingerprint_of(s) for s in self.sources],
        }
