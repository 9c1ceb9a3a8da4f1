"""Chains of operators and operators made from user functions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
from flax import nnx

from modalax._src.errors import ConfigError
from modalax._src.operators.base import OperatorModule
from modalax._src.operators.config import ModalityOperatorConfig, OperatorConfig
from modalax._src.operators.fields import PyTree
from modalax._src.operators.modality import ModalityOperator


def _fold_keys(keys: jax.Array | None, salt: int) -> jax.Array | None:
    if keys is None:
        return None
    return jax.vmap(lambda k: jax.random.fold_in(k, salt))(keys)


class Compose(OperatorModule):
    """Apply operators in order, inside one jitted function.

    Operator ``i`` gets the record keys folded with ``i``, so two identical stochastic
    operators in a chain draw different parameters.
    """

    def __init__(self, operators: Sequence[OperatorModule], *, name: str | None = None) -> None:
        ops = list(operators)
        for i, op in enumerate(ops):
            if not isinstance(op, OperatorModule):
                raise ConfigError(f"Compose.operators[{i}]: got {type(op).__name__}, expected an operator")
        super().__init__(OperatorConfig(), name=name or "Compose")
        self.operators = nnx.List(ops)
        self.stochastic = any(op.stochastic for op in ops)
        first = next((op for op in ops if op.stochastic), None)
        self.stream_name = first.stream_name if first is not None else None

    def draw_rng(self) -> jax.Array:
        first = next((op for op in self.operators if op.stochastic), None)
        if first is None:
            raise ConfigError(f"{self.name}: no stochastic operator to draw a key from")
        return first.draw_rng()

    def __len__(self) -> int:
        return len(self.operators)

    def batched(self, batch: PyTree, keys: jax.Array | None, stats: dict[str, Any] | None) -> PyTree:
        for i, op in enumerate(self.operators):
            batch = op.pipeline_fn(batch, _fold_keys(keys, i) if op.stochastic else None)
        return batch

    def pipeline_fn(self, batch: PyTree, keys: jax.Array | None, stats: dict[str, Any] | None = None) -> PyTree:
        return self.batched(batch, keys, None)

    def apply(
        self,
        data: PyTree,
        state: PyTree,
        metadata: dict[str, Any] | None,
        random_params: Any = None,
        stats: dict[str, Any] | None = None,
    ) -> tuple[PyTree, PyTree, dict[str, Any] | None]:
        raise NotImplementedError("Compose works on batches: call apply_batch")

    def output_spec(self, input_spec: PyTree) -> PyTree:
        for op in self.operators:
            input_spec = op.output_spec(input_spec)
        return input_spec

    def copy(
        self, *, config: OperatorConfig | None = None, rngs: nnx.Rngs | None = None, name: str | None = None
    ) -> Compose:
        return Compose([op.copy() for op in self.operators], name=name or self.name)


@dataclass(frozen=True, eq=False)
class MapConfig(ModalityOperatorConfig):
    """Config of ``MapOperator``: ``fn`` maps one field value of one element."""

    fn: Callable[..., Any] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not callable(self.fn):
            raise ConfigError(f"MapConfig.fn: got {self.fn!r}, expected a callable")


class MapOperator(ModalityOperator):
    """Apply ``fn(x)`` (or ``fn(x, key)`` when stochastic) to one field of every element."""

    config: MapConfig

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        fn = self.config.fn
        assert fn is not None  # MapConfig.__post_init__ rejects a non-callable fn
        return fn(x, random_params) if self.stochastic else fn(x)

    def generate_random_params(self, rng: jax.Array, data_shapes: PyTree) -> PyTree:
        leading = jax.tree.leaves(data_shapes, is_leaf=lambda s: isinstance(s, tuple))[0][0]
        return jax.random.split(rng, leading)


@dataclass(frozen=True, eq=False)
class ElementConfig(OperatorConfig):
    """Config of ``ElementOperator``: ``fn`` maps a whole element (a dict)."""

    fn: Callable[..., Any] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not callable(self.fn):
            raise ConfigError(f"ElementConfig.fn: got {self.fn!r}, expected a callable")


class ElementOperator(OperatorModule):
    """Apply ``fn(element)`` (or ``fn(element, key)`` when stochastic) to every element."""

    config: ElementConfig

    def apply(
        self,
        data: PyTree,
        state: PyTree,
        metadata: dict[str, Any] | None,
        random_params: Any = None,
        stats: dict[str, Any] | None = None,
    ) -> tuple[PyTree, PyTree, dict[str, Any] | None]:
        fn = self.config.fn
        assert fn is not None  # ElementConfig.__post_init__ rejects a non-callable fn
        out = fn(data, random_params) if self.stochastic else fn(data)
        if not isinstance(out, dict):
            raise ConfigError(f"{self.name}: fn returned {type(out).__name__}, expected a dict element")
        return out, state, metadata

    def generate_random_params(self, rng: jax.Array, data_shapes: PyTree) -> PyTree:
        leading = jax.tree.leaves(data_shapes, is_leaf=lambda s: isinstance(s, tuple))[0][0]
        return jax.random.split(rng, leading)


def as_pipeline(operators: OperatorModule | Sequence[OperatorModule] | None) -> Compose | None:
    """Normalise the loader's ``operators`` argument into one ``Compose`` (or None)."""
    if operators is None:
        return None
    if isinstance(operators, Compose):
        return operators
    if isinstance(operators, OperatorModule):
        return Compose([operators])
    ops = list(operators)
    return Compose(ops) if ops else None
