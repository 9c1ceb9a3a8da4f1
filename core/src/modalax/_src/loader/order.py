"""The order of records in an epoch: a true permutation of ``[0, n)`` from (seed, epoch).

Up to ``MATERIALIZE_MAX`` records the permutation is drawn whole, once per epoch, with numpy's
PCG64 seeded by ``SeedSequence([seed, epoch])`` (one int64 per record; a gather per batch is
the cheapest way to map positions).  Above that, materialising would cost gigabytes, so the
order is computed per position instead: a balanced Feistel network on the smallest even number
of bits covering ``n`` (a bijection on ``[0, 2**k)``), restricted to ``[0, n)`` by cycle walking
(apply it again until the value falls below ``n``, which keeps it a bijection) -- the
construction of grain's and TensorFlow's ``index_shuffle``.  Either way the order is the same
in every process and on every platform, and a batch of positions costs O(batch).
"""

from __future__ import annotations

import numpy as np

__all__ = ["EpochOrder"]

#: Largest epoch that is shuffled by drawing the whole permutation (128 MiB of int64).
MATERIALIZE_MAX = 1 << 24

#: Feistel rounds.  Four already give a pseudo-random permutation (Luby-Rackoff); more rounds
#: cost little (a few microseconds per thousand positions) and mix tiny domains better.
ROUNDS = 8

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a bijective, well-mixing hash of uint64 (wraps modulo 2**64)."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


class EpochOrder:
    """``order[positions]`` -> record indices of ``positions`` in epoch ``epoch`` (int64 arrays).

    ``shuffle=False`` is the identity.  Positions must lie in ``[0, num_records)``.
    """

    def __init__(self, num_records: int, seed: int, epoch: int, shuffle: bool) -> None:
        self.num_records = int(num_records)
        self.shuffle = bool(shuffle)
        self._perm: np.ndarray | None = None
        self._keys: list[np.uint64] = []
        seeds = np.random.SeedSequence([int(seed), int(epoch)])
        if not self.shuffle:
            return
        if self.num_records <= MATERIALIZE_MAX:
            self._perm = np.random.Generator(np.random.PCG64(seeds)).permutation(self.num_records).astype(np.int64)
            return
        half = (max(2, (self.num_records - 1).bit_length()) + 1) // 2
        self._half, self._mask = np.uint64(half), np.uint64((1 << half) - 1)
        self._keys = [np.uint64(k) for k in seeds.generate_state(ROUNDS, np.uint64)]

    def _feistel(self, x: np.ndarray) -> np.ndarray:
        left, right = x >> self._half, x & self._mask
        for key in self._keys:
            left, right = right, left ^ (_mix(right ^ key) & self._mask)
        return (left << self._half) | right

    def __getitem__(self, positions: np.ndarray | int) -> np.ndarray:
        pos = np.asarray(positions, dtype=np.int64)
        if not self.shuffle:
            return pos.copy()
        if self._perm is not None:
            return self._perm[pos]
        out = self._feistel(pos.astype(np.uint64).ravel())
        walking = np.flatnonzero(out >= self.num_records)
        while walking.size:  # each pass stays outside [0, n) with probability < 3/4
            out[walking] = self._feistel(out[walking])
            walking = walking[out[walking] >= self.num_records]
        return out.astype(np.int64).reshape(pos.shape)

    def __len__(self) -> int:
        return self.num_records

    def materialize(self) -> np.ndarray:
        """The whole order as one int64 array (O(num_records) memory)."""
        if self._perm is not None:
            return self._perm.copy()
        return self[np.arange(self.num_records, dtype=np.int64)]
