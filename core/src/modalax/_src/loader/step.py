"""The loader's jitted per-batch step: gather (traceable sources), per-record keys, operators.

One ``jax.jit`` call per batch takes the source's arrays (a traceable source's whole arrays,
or a host batch) and one packed int32 row ``[*epoch key words, *indices, *mask]`` (see
``DataLoader._pack``): one host-to-device copy per batch instead of three, and no fold of the
epoch into the key per batch. Inside, it gathers the batch, derives each record's key from the
epoch key and its index, and runs the operator chain.

The loader never draws from the operators' rngs (records get keys from the seed), so their rng
state is split off once and closed over as a constant, as is the rest of the chain's state when
it holds no variables: splitting an nnx module costs ~0.1 ms per operator, and passing nnx
states as jit arguments cost ~10 us per batch in flattening alone. A chain with learnable
variables is split per batch, since their values may change between batches.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from modalax._src.loader.gather import row_take, uses_row_take
from modalax._src.random import record_keys, seed_key

__all__ = ["BatchStep"]


def _split_rng(module: Any) -> tuple[nnx.GraphDef[Any], nnx.State, nnx.State]:
    """``nnx.split(module, nnx.RngState, ...)``: flax types its result as variadic; two filters give three."""
    graphdef, rng_state, *rest = nnx.split(module, nnx.RngState, ...)
    return graphdef, rng_state, rest[0]


class BatchStep:
    """The per-batch step of a loader over ``source`` with operator chain ``pipeline`` (or None).

    The step returns ``(batch, indices, mask)``; ``indices`` and ``mask`` are None unless
    ``want_indices`` / ``want_mask`` (each output buffer costs a few microseconds per call).
    """

    def __init__(self, source: Any, pipeline: Any, *, want_indices: bool = True, want_mask: bool = True) -> None:
        self.pipeline = pipeline
        traceable = bool(getattr(source, "traceable", False))
        gather, gather_args = source.pure_gather() if traceable else (None, None)
        if uses_row_take(source, gather, pipeline):
            gather = row_take  # the bare gather: see modalax._src.loader.gather
        #: The gather the step runs (None for a host source): the source's own, or ``row_take``.
        self.gather = gather
        self.gather_args: Any = gather_args
        self.stochastic = pipeline is not None and pipeline.stochastic
        key_shape = jax.random.key_data(seed_key(0)).shape  # depends on the PRNG implementation
        self.key_words = width = int(np.prod(key_shape))
        graphdef, rng_state, static = None, None, None
        if pipeline is not None:
            graphdef, rng_state, rest = _split_rng(pipeline)
            static = rest if not jax.tree.leaves(rest) else None
        self._static = pipeline is None or static is not None
        stochastic = self.stochastic

        def run(args: Any, state: Any, packed: jax.Array) -> tuple[Any, jax.Array | None, jax.Array | None]:
            size = (packed.shape[0] - width) // 2
            words, indices = packed[:width], packed[width : size + width]
            mask = packed[size + width :].astype(bool)
            batch = gather(args, indices) if gather is not None else args
            if pipeline is not None:
                epoch_key = jax.random.wrap_key_data(jax.lax.bitcast_convert_type(words, jnp.uint32).reshape(key_shape))
                keys = record_keys(epoch_key, indices) if stochastic else None
                assert graphdef is not None  # split above whenever there is a pipeline
                state = static if static is not None else state
                batch = nnx.merge(graphdef, rng_state, state).pipeline_fn(batch, keys)
            return batch, indices if want_indices else None, mask if want_mask else None

        #: The jitted step; None for a host source without operators (nothing to run).
        self.fn = jax.jit(run) if traceable or pipeline is not None else None

    def __call__(self, args: Any, packed: jax.Array) -> tuple[Any, Any, Any]:
        """``(batch, indices, mask)`` on the device; ``args`` are the source's arrays or a host batch."""
        assert self.fn is not None
        state = None if self._static else _split_rng(self.pipeline)[2]
        return self.fn(args, state, packed)
