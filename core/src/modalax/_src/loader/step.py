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

Operators that read the batch's validity mask (``reads_mask = True``: MixUp, CutMix) find it in
the batch under the loader's ``mask_key``: the padding mask of the last batch combined with the
flags of records a host source skipped (``on_error="skip"``), so padding is never mixed in.

The jitted function is shared (``_SHARED``): a new loader whose gather and chain are equal by
value (``modalax._src.loader.chain``) to an earlier one's reuses its compiled step instead of
tracing and compiling it again; jax's own cache then serves equal shapes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from modalax._src.errors import ConfigError
from modalax._src.loader.chain import chain_key, fn_key, mask_readers
from modalax._src.loader.gather import row_take, uses_row_take
from modalax._src.random import record_keys, seed_key

__all__ = ["BatchStep"]

_SHARED_MAX = 64  # compiled steps kept for reuse by later loaders (each holds its executables)


class _Shared:
    """A jitted step and how often it was traced (a Python side effect of tracing)."""

    def __init__(self, run: Callable[..., Any]) -> None:
        self.traces = 0

        def counted(*args: Any) -> Any:
            self.traces += 1
            return run(*args)

        self.run = run
        self.fn = jax.jit(counted)


_SHARED: OrderedDict[Hashable, _Shared] = OrderedDict()


def _split_rng(module: Any) -> tuple[nnx.GraphDef[Any], nnx.State, nnx.State]:
    """``nnx.split(module, nnx.RngState, ...)``: flax types its result as variadic; two filters give three."""
    graphdef, rng_state, *rest = nnx.split(module, nnx.RngState, ...)
    return graphdef, rng_state, rest[0]


def _check_readers(pipeline: Any, mask_key: str, invalid_possible: bool) -> bool:
    """Whether the chain reads the mask; ``ConfigError`` if a reader looks for it under another name
    while a batch may hold invalid records (padding, or files a host source skipped)."""
    readers = mask_readers(pipeline)
    for op in readers if invalid_possible else ():
        wanted = getattr(getattr(op, "config", None), "mask_key", mask_key)
        if wanted != mask_key:
            raise ConfigError(
                f"{op.name}.config.mask_key: got {wanted!r}, but the loader passes the validity mask as "
                f"{mask_key!r} (DataLoader.mask_key); expected the same name, or padded and skipped records "
                "would be mixed into valid ones"
            )
    return bool(readers)


class BatchStep:
    """The per-batch step of a loader over ``source`` with operator chain ``pipeline`` (or None).

    The step returns ``(batch, indices, mask)``; ``indices`` and ``mask`` are None unless
    ``want_indices`` / ``want_mask`` (each output buffer costs a few microseconds per call).
    ``mask`` is the padding mask combined with a host batch's skip flags (``valid``).
    """

    def __init__(
        self,
        source: Any,
        pipeline: Any,
        *,
        want_indices: bool = True,
        want_mask: bool = True,
        mask_key: str = "mask",
        masked: bool = True,
    ) -> None:
        self.pipeline = pipeline
        traceable = bool(getattr(source, "traceable", False))
        gather, gather_args = source.pure_gather() if traceable else (None, None)
        if uses_row_take(source, gather, pipeline):
            gather = row_take  # the bare gather: see modalax._src.loader.gather
        #: The gather the step runs (None for a host source): the source's own, or ``row_take``.
        self.gather = gather
        self.gather_args: Any = gather_args
        self.stochastic = pipeline is not None and pipeline.stochastic
        #: Whether an operator of the chain reads the validity mask (it is then put in its batch).
        self.reads_mask = pipeline is not None and _check_readers(pipeline, mask_key, masked or not traceable)
        key_shape = jax.random.key_data(seed_key(0)).shape  # depends on the PRNG implementation
        self.key_words = width = int(np.prod(key_shape))
        graphdef, rng_state, static = None, None, None
        if pipeline is not None:
            graphdef, rng_state, rest = _split_rng(pipeline)
            static = rest if not jax.tree.leaves(rest) else None
        self._static = pipeline is None or static is not None
        stochastic, reads_mask = self.stochastic, self.reads_mask

        def run(
            args: Any, state: Any, packed: jax.Array, valid: Any = None
        ) -> tuple[Any, jax.Array | None, jax.Array | None]:
            size = (packed.shape[0] - width) // 2
            words, indices = packed[:width], packed[width : size + width]
            mask = packed[size + width :].astype(bool)
            if valid is not None:
                mask = jnp.logical_and(mask, jnp.asarray(valid, bool))
            batch = gather(args, indices) if gather is not None else args
            if pipeline is not None:
                epoch_key = jax.random.wrap_key_data(jax.lax.bitcast_convert_type(words, jnp.uint32).reshape(key_shape))
                keys = record_keys(epoch_key, indices) if stochastic else None
                if reads_mask and (masked or valid is not None):
                    if mask_key in batch:
                        raise ConfigError(
                            f"DataLoader.mask_key: the batch already has a field {mask_key!r}; expected another "
                            f"name for the loader's own field (mask_key='valid', say)"
                        )
                    batch = {**batch, mask_key: mask}
                assert graphdef is not None  # split above whenever there is a pipeline
                state = static if static is not None else state
                batch = nnx.merge(graphdef, rng_state, state).pipeline_fn(batch, keys)
            return batch, indices if want_indices else None, mask if want_mask else None

        #: The pure step (``fn`` is it jitted): ``run(gather_args, state, packed_row, valid=None)``.
        self.run = run
        self.fn: Callable[..., Any] | None = None
        self._shared: _Shared | None = None
        if traceable or pipeline is not None:
            key = (
                fn_key(gather) if gather is not None else None,
                chain_key(pipeline),
                jax.tree.structure(static if static is not None else (rest if pipeline is not None else None)),
                want_indices,
                want_mask,
                mask_key,
                masked,
                key_shape,
            )
            shared = _SHARED.get(key)
            if shared is None:
                shared = _SHARED[key] = _Shared(run)
                while len(_SHARED) > _SHARED_MAX:
                    _SHARED.popitem(last=False)
            _SHARED.move_to_end(key)
            self._shared = shared
            #: The jitted step; None for a host source without operators (nothing to run).
            self.fn = shared.fn
            self.run = shared.run  # the program the first equal loader compiled, for scans as well

    @property
    def trace_count(self) -> int:
        """How often this step's program was traced, by this loader or an equal earlier one."""
        return 0 if self._shared is None else self._shared.traces

    def state(self) -> Any:
        """The chain's variables as the step takes them (None when the chain holds none)."""
        return None if self._static else _split_rng(self.pipeline)[2]

    def __call__(self, args: Any, packed: jax.Array, valid: Any = None) -> tuple[Any, Any, Any]:
        """``(batch, indices, mask)`` on the device; ``args`` are the source's arrays or a host batch."""
        assert self.fn is not None
        return self.fn(args, self.state(), packed, valid)
