"""``OperatorModule``: pure per-element transforms, batched by vmap (``ModalityOperator`` in ``modality``).

The contract: ``apply`` is pure and sees one element; ``generate_random_params``
draws the randomness of a batch from an explicit key; ``apply_batch`` vmaps (or scans)
``apply`` and is jitted once per input structure.

Randomness is per record: the loader gives each record its own key, folded from
(seed, epoch, record index), and ``generate_random_params`` is called on that key with a
batch of one.  So an augmentation does not depend on batch size, shard count or resume point.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from modalax._src.errors import ConfigError, DataError
from modalax._src.operators.config import OperatorConfig
from modalax._src.operators.fields import (
    PyTree,
    first_element,
    shape_tree,
    split_host_fields,
)
from modalax._src.random import record_keys

__all__ = ["OperatorModule"]

_CACHE_SIZE = 16


class _HostState:
    """Mutable host-side bookkeeping, kept out of nnx state (never traced or checkpointed)."""

    def __init__(self) -> None:
        self.applied = 0
        self.skipped = 0
        self.traces = 0
        self.computed_stats: dict[str, Any] | None = None
        self.stats_reset = False
        self.cache: OrderedDict[tuple[Any, ...], tuple[PyTree, dict[str, Any]]] = OrderedDict()
        self.jitted: Callable[..., Any] | None = None
        self.graphdef: Any = None


class OperatorModule(nnx.Module):
    """Base of every operator: batching, jit, randomness, statistics, cache and state."""

    config: OperatorConfig

    def __init__(self, config: OperatorConfig, *, rngs: nnx.Rngs | None = None, name: str | None = None) -> None:
        if not isinstance(config, OperatorConfig):
            raise ConfigError(f"{type(self).__name__}.config: got {type(config).__name__}, expected an OperatorConfig")
        self.config = config
        self.rngs = rngs
        self.name = name or type(self).__name__
        self.stochastic = config.stochastic
        self.stream_name = config.stream_name
        self._host = _HostState()
        if config.stochastic:
            if rngs is None:
                raise ConfigError(
                    f"{self.name}: stochastic=True needs rngs with stream {config.stream_name!r}, got rngs=None"
                )
            if config.stream_name not in rngs:
                raise ConfigError(
                    f"{self.name}: stochastic=True draws from rng stream {config.stream_name!r}, "
                    f"which the given rngs do not have; pass e.g. nnx.Rngs(0, {config.stream_name}=1)"
                )

    # ------------------------------------------------------------ to override
    def apply(
        self,
        data: PyTree,
        state: PyTree,
        metadata: dict[str, Any] | None,
        random_params: Any = None,
        stats: dict[str, Any] | None = None,
    ) -> tuple[PyTree, PyTree, dict[str, Any] | None]:
        """Transform one element (no batch axis); pure. Returns ``(data, state, metadata)``."""
        raise NotImplementedError(f"{type(self).__name__}.apply is not implemented")

    def generate_random_params(self, rng: jax.Array, data_shapes: PyTree) -> PyTree:
        """Random parameters for a batch of shape ``data_shapes`` (leading axis = batch).

        Stochastic operators must override it; deterministic ones return None.
        """
        if self.stochastic:
            raise NotImplementedError(
                f"{type(self).__name__} is stochastic but does not implement generate_random_params"
            )
        return None

    # ---------------------------------------------------------------- batching
    def record_params(self, keys: jax.Array, element: PyTree) -> PyTree:
        """Per-record random parameters: ``generate_random_params`` on each record's key."""
        if not self.stochastic:
            return None
        shapes = shape_tree(element, None)
        one = jax.tree.map(lambda s: (1, *s), shapes, is_leaf=lambda x: isinstance(x, tuple))

        def draw(key: jax.Array) -> PyTree:
            params = self.generate_random_params(key, one)
            return jax.tree.map(lambda p: jnp.asarray(p)[0] if jnp.ndim(p) else p, params)

        return jax.vmap(draw)(keys)

    def draw_rng(self) -> jax.Array:
        """A fresh batch key from this operator's rng stream (standalone use)."""
        if self.stream_name is None:
            raise ConfigError(f"{self.name}.draw_rng: the operator has no rng stream (stochastic=False)")
        return getattr(self.rngs, self.stream_name)()

    def batched(self, batch: PyTree, keys: jax.Array | None, stats: dict[str, Any] | None) -> PyTree:
        """The traceable batch transform: ``apply`` mapped over the leading axis."""
        element = jax.tree.map(first_element, batch)
        params = None
        if self.stochastic:
            if keys is None:
                raise ConfigError(f"{self.name}: a stochastic operator needs per-record keys, got keys=None")
            params = self.record_params(keys, element)

        def one(elem: PyTree, p: PyTree) -> PyTree:
            return self.apply(elem, {}, None, p, stats)[0]

        if self.config.batch_strategy == "scan":
            return jax.lax.map(lambda args: one(*args), (batch, params))
        return jax.vmap(one)(batch, params)

    def traced_stats(self, batch: PyTree, stats: dict[str, Any] | None) -> dict[str, Any] | None:
        """Statistics inside a traced pipeline: explicit, precomputed/set, or from the batch."""
        if stats is not None:
            return stats
        fixed = self.get_statistics()
        if fixed is not None:
            return fixed
        if self.config.batch_stats_fn is not None:
            return self.config.batch_stats_fn(batch)
        return None

    def pipeline_fn(self, batch: PyTree, keys: jax.Array | None, stats: dict[str, Any] | None = None) -> PyTree:
        """Traceable: statistics then ``batched``; used by ``Compose`` and the loader."""
        return self.batched(batch, keys, self.traced_stats(batch, stats))

    def _jitted(self, graphdef: Any) -> Callable[..., Any]:
        host = self._host
        if host.jitted is None or host.graphdef != graphdef:

            def run(state: Any, batch: PyTree, keys: Any, rng: Any, stats: Any) -> PyTree:
                host.traces += 1  # Python side effect: runs once per trace, never per call
                module = nnx.merge(graphdef, state)
                if keys is None and rng is not None:  # folded here: eagerly it is one dispatch per record
                    keys = record_keys(rng, jnp.arange(jax.tree.leaves(batch)[0].shape[0]))
                return module.batched(batch, keys, stats)

            host.jitted = jax.jit(run)
            host.graphdef = graphdef
        return host.jitted

    def apply_batch(
        self,
        batch: dict[str, Any],
        stats: dict[str, Any] | None = None,
        *,
        rng: jax.Array | None = None,
        keys: jax.Array | None = None,
    ) -> dict[str, Any]:
        """Transform a batch (dict with a leading axis), jitted once per input structure.

        Stochastic operators take per-record ``keys``, or derive them from ``rng``, or draw
        ``rng`` from their ``nnx.Rngs`` stream.  Non-array fields (raw strings) pass through.
        """
        if not isinstance(batch, dict):
            raise DataError(f"{self.name}.apply_batch: got {type(batch).__name__}, expected a dict batch")
        arrays, host_fields = split_host_fields(batch)
        leaves = jax.tree.leaves(arrays)
        if not leaves:
            raise DataError(f"{self.name}.apply_batch: the batch has no array fields (keys {sorted(batch)})")
        size = int(np.shape(leaves[0])[0])
        if self.stochastic and keys is None and rng is None:
            if any(isinstance(leaf, jax.core.Tracer) for leaf in leaves):
                raise ConfigError(
                    f"{self.name}.apply_batch inside jax.jit: a stochastic operator cannot draw from its nnx.Rngs in "
                    "a trace (the draw would mutate state outside it); pass the randomness in: "
                    "jax.jit(lambda batch, key: op.apply_batch(batch, rng=key)), or keys= with one key per record"
                )
            rng = self.draw_rng()
        if not self.stochastic:
            keys = rng = None
        if stats is None:
            stats = self.get_statistics()
            if stats is None and self.config.batch_stats_fn is not None:
                stats = self.compute_statistics(arrays)
        cache_key = None
        if self.config.cacheable:
            signature = tuple(
                (k, id(v), np.shape(v))
                for k, v in sorted(jax.tree_util.tree_leaves_with_path(arrays), key=lambda kv: str(kv[0]))
            )
            cache_key = (signature, id(stats))
            hit = self._host.cache.get(cache_key)
            if hit is not None:
                self._host.cache.move_to_end(cache_key)
                self._host.skipped += size
                return {**hit[0], **host_fields}
        graphdef, state = nnx.split(self)
        out = self._jitted(graphdef)(state, arrays, keys, rng, stats)
        self._host.applied += size
        if cache_key is not None:
            self._host.cache[cache_key] = (out, arrays)  # holding inputs keeps their ids unique
            if len(self._host.cache) > _CACHE_SIZE:
                self._host.cache.popitem(last=False)
        return {**out, **host_fields}

    __call__ = apply_batch

    @property
    def trace_count(self) -> int:
        """How many times ``apply_batch`` was traced (a retrace shows as an increase)."""
        return self._host.traces

    # -------------------------------------------------------------- statistics
    def compute_statistics(self, data: Any) -> dict[str, Any] | None:
        """``batch_stats_fn(data)``, cached; None when no ``batch_stats_fn`` is configured."""
        if self.config.batch_stats_fn is None:
            return None
        stats = self.config.batch_stats_fn(data)
        self._host.computed_stats = stats
        self._host.stats_reset = False
        return stats

    def get_statistics(self) -> dict[str, Any] | None:
        """Statistics set or computed, else ``precomputed_stats`` unless reset."""
        if self._host.computed_stats is not None:
            return self._host.computed_stats
        if self.config.precomputed_stats is not None and not self._host.stats_reset:
            return self.config.precomputed_stats
        return None

    def set_statistics(self, stats: dict[str, Any]) -> None:
        """Overwrite the statistics (and clear a previous reset)."""
        if not isinstance(stats, dict):
            raise ConfigError(f"{self.name}.set_statistics: got {type(stats).__name__}, expected a dict")
        self._host.computed_stats = stats
        self._host.stats_reset = False

    def reset_statistics(self) -> None:
        """Forget computed statistics and ignore ``precomputed_stats`` until set again."""
        self._host.computed_stats = None
        self._host.stats_reset = True

    # --------------------------------------------------------- cache, counters
    def reset_cache(self) -> None:
        """Clear cached results (only ``cacheable`` operators cache)."""
        self._host.cache.clear()

    def get_operation_stats(self) -> dict[str, int]:
        """``applied_count`` (records transformed) and ``skipped_count`` (served from cache)."""
        return {"applied_count": self._host.applied, "skipped_count": self._host.skipped}

    def reset_operation_stats(self) -> None:
        """Zero the operation counters."""
        self._host.applied = 0
        self._host.skipped = 0

    # ------------------------------------------------------------ state, copies
    def get_state(self) -> dict[str, Any]:
        """Variables (learnable parameters and the like) as a nested dict of arrays."""
        return nnx.to_pure_dict(nnx.state(self))

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore ``get_state()`` output; the structure and shapes must match exactly."""
        if not isinstance(state, dict):
            raise TypeError(f"{self.name}.set_state: got {type(state).__name__}, expected a dict")
        current = nnx.state(self)
        have = dict(jax.tree_util.tree_flatten_with_path(nnx.to_pure_dict(current))[0])
        got = dict(jax.tree_util.tree_flatten_with_path(state)[0])
        names = {jax.tree_util.keystr(k) for k in have}
        given = {jax.tree_util.keystr(k) for k in got}
        if names != given:
            raise ConfigError(
                f"{self.name}.set_state: checkpoint keys differ; missing {sorted(names - given)}, "
                f"unexpected {sorted(given - names)}"
            )
        for path, value in got.items():
            expected = have[path]
            if np.shape(value) != np.shape(expected):
                raise ConfigError(
                    f"{self.name}.set_state: {jax.tree_util.keystr(path)} has shape {np.shape(value)}, "
                    f"expected {np.shape(expected)}"
                )
        nnx.replace_by_pure_dict(current, state)
        nnx.update(self, current)

    def copy(
        self, *, config: OperatorConfig | None = None, rngs: nnx.Rngs | None = None, name: str | None = None
    ) -> OperatorModule:
        """A new operator of the same class with the given changes (config is revalidated)."""
        return type(self)(
            config if config is not None else self.config,
            rngs=rngs if rngs is not None else self.rngs,
            name=name if name is not None else self.name,
        )

    def clone(self) -> OperatorModule:
        """A deep copy with the same state."""
        return nnx.clone(self)

    def requires_rng_streams(self) -> list[str] | None:
        """The rng streams this operator draws from, or None."""
        return [self.stream_name] if self.stochastic and self.stream_name else None

    def ensure_rng_streams(self, stream_names: list[str]) -> None:
        """Raise ``ConfigError`` when a required stream is not among ``stream_names``."""
        missing = [s for s in (self.requires_rng_streams() or []) if s not in stream_names]
        if missing:
            raise ConfigError(
                f"{self.name}: rng stream(s) {missing} are required, but the rngs have {sorted(stream_names)}"
            )

    # --------------------------------------------------------------- structure
    def _traced_element(self, element: PyTree) -> PyTree:
        params = None
        if self.stochastic:
            params = jax.tree.map(lambda p: p[0], self.record_params(jax.random.split(jax.random.key(0), 1), element))
        return self.apply(element, {}, None, params, self.get_statistics())[0]

    def get_output_structure(self, sample_data: PyTree, sample_state: PyTree) -> tuple[PyTree, PyTree]:
        """Output tree structure (leaves None) of ``apply`` on one element."""
        out = jax.eval_shape(self._traced_element, sample_data)
        return jax.tree.map(lambda _: None, out), sample_state

    def output_spec(self, input_spec: PyTree) -> PyTree:
        """``jax.ShapeDtypeStruct`` tree of the output element, found by abstract evaluation."""
        return jax.eval_shape(self._traced_element, input_spec)
