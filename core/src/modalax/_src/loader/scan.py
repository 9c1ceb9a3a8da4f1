"""A whole epoch, data and train step, in one jitted ``lax.scan``: no Python round trip per step.

``scan_epoch(loader, step, carry)`` runs the remaining batches of the loader's current epoch.
The host computes what iterating computes per block (the records of every batch, their padding
masks, the epoch's key words: ``DataLoader._pack``'s int32 rows) and sends the rows to the
device in one copy; the scan's body then runs the loader's own per-batch program (gather,
per-record keys, operators: ``BatchStep.run``, the function iteration jits), adds the mask and
index fields as iteration does, and calls ``step(carry, batch) -> (carry, output)``. So a
scanned step sees bitwise the batches iteration yields, in the same order, and the loader's
position then moves to the next epoch (``state_dict`` after a scan resumes there; a scan after
a restored mid-epoch state runs exactly the remaining batches).

Only a source in device memory can be scanned (a device ``ArraySource``, a synthetic dataset,
their subsets and mixtures): a host source reads files or numpy arrays in Python, per batch.

An nnx carry (a model, an optimizer, or a tuple or dict holding them) is split into its graph
and state (flax's split/merge pattern): the state is the scan's carry, the step receives the
merged objects, and the objects passed in are updated in place at the end. The compiled scan
is cached by the step function, the loader's per-batch program, the carry's graph and the
number of batches: a second epoch costs no trace; a resumed (shorter) epoch compiles once.

Cost: the rows (``(2 + 2 * batch) * 4`` bytes a batch), the stacked outputs and one batch's
working set; batches are produced inside the body, never all at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from modalax._src.errors import ConfigError
from modalax._src.loader.order import EpochOrder

if TYPE_CHECKING:
    from modalax._src.loader.loader import DataLoader

__all__ = ["scan_epoch"]


def _has_graph_nodes(carry: Any) -> bool:
    return any(nnx.graph.is_graph_node(x) for x in jax.tree.leaves(carry, is_leaf=nnx.graph.is_graph_node))


def _body_parts(static: tuple[Any, ...]) -> Callable[..., Any]:
    run, step, mask_key, index_key, graphdef, sharding = static

    def body(gather_args: Any, op_state: Any, carry: Any, row: jax.Array) -> tuple[Any, Any]:
        batch, indices, mask = run(gather_args, op_state, row)
        if mask_key is not None or index_key is not None:
            batch = dict(batch)
            if mask_key is not None:
                batch[mask_key] = mask
            if index_key is not None:
                batch[index_key] = indices
        if sharding is not None:
            batch = jax.lax.with_sharding_constraint(batch, sharding)
        if graphdef is None:
            return step(carry, batch)
        objects = nnx.merge(graphdef, carry)
        objects, out = step(objects, batch)
        return nnx.state(objects), out

    return body


def _scan(static: tuple[Any, ...], gather_args: Any, op_state: Any, carry: Any, rows: jax.Array) -> tuple[Any, Any]:
    body = _body_parts(static)
    return jax.lax.scan(lambda c, row: body(gather_args, op_state, c, row), carry, rows)


_scan_jit = jax.jit(_scan, static_argnums=0)


def _check_scannable(loader: DataLoader) -> None:
    source = type(loader.source).__name__
    if not loader._traceable:
        raise ConfigError(
            f"DataLoader.scan_epoch: the source ({source}) is read on the host (files, numpy arrays, a foreign "
            "dataset), per batch in Python, so it cannot run inside a jitted scan; expected a source in device "
            "memory (ArraySource(on_device=True), a synthetic dataset, or the data materialised on the device: "
            "ArraySource(source[np.arange(len(source))])), or iterate the loader: `for batch in loader: "
            "state = train_step(state, batch)`"
        )
    if loader.sharding is not None and jax.process_count() > 1:
        raise ConfigError(
            f"DataLoader.scan_epoch: this job runs {jax.process_count()} processes; a scanned epoch assembles "
            "batches in one process, expected a single-process job (or iterate the loader, which assembles global "
            "arrays across processes)"
        )


def _host_fields(loader: DataLoader, indices: np.ndarray) -> None:
    host = loader._host_records(indices) if loader._host_records is not None else {}
    if host:
        raise ConfigError(
            f"DataLoader.scan_epoch: the batches carry host fields {sorted(host)} (strings or objects), which "
            "cannot enter a jitted scan; expected a source of arrays only (drop those fields, or iterate the loader)"
        )


def scan_epoch(
    loader: DataLoader, step: Callable[[Any, dict[str, Any]], tuple[Any, Any]], carry: Any
) -> tuple[Any, Any]:
    """Run ``step(carry, batch) -> (carry, output)`` over the remaining batches of the loader's epoch.

    Returns ``(carry, outputs)``, the outputs stacked on a leading axis (one row per batch).
    Starts where the loader stands (what ``state_dict()`` reports: the start of the run, a
    loaded state, or the position of the iterator last used); afterwards the loader stands at
    the next epoch. ``ConfigError`` for a host source, host fields, or a run already finished.
    """
    _check_scannable(loader)
    epoch, first = loader._position  # what state_dict() reports: the next batch of the run
    if loader.num_epochs is not None and epoch >= loader.num_epochs:
        raise ConfigError(
            f"DataLoader.scan_epoch: the loader has run its {loader.num_epochs} epoch(s); expected a position inside "
            "the run (build it with num_epochs=None, or more epochs)"
        )
    loader._supersede()  # an iterator cannot continue past batches the scan consumed
    plan, batch_step = loader.plan, loader._step
    order = EpochOrder(plan.num_records, loader.seed, epoch, loader.shuffle)
    indices, masks = loader._block_indices(order, epoch, first, plan.batches_per_epoch)
    _host_fields(loader, indices[0])
    words = np.broadcast_to(loader._epoch_key_words(epoch), (len(indices), batch_step.key_words))
    rows = jnp.asarray(np.concatenate([words, indices, masks], axis=1, dtype=np.int32))
    masked = not plan.drop_last
    if False not in loader._checked_names:  # the loader's fields must not overwrite the batch's
        shapes = jax.eval_shape(batch_step.run, batch_step.gather_args, batch_step.state(), rows[0])
        loader._check_names(shapes[0], {}, False)
    graphdef, state = nnx.split(carry) if _has_graph_nodes(carry) else (None, carry)
    static = (
        batch_step.run,
        step,
        loader.mask_key if masked else None,
        loader.index_key if loader.with_indices else None,
        graphdef,
        loader.sharding,
    )
    new_state, outputs = _scan_jit(static, batch_step.gather_args, batch_step.state(), state, rows)
    after = (epoch + 1, 0)
    loader._start = loader._position = after
    loader._finished = loader.num_epochs is not None and after[0] >= loader.num_epochs
    if graphdef is None:
        return new_state, outputs
    nnx.update(carry, new_state)
    return carry, outputs
