"""Scan epochs: the batches a scanned step sees are bitwise those iteration yields; position and errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from modalax import ArraySource, ConfigError, DataLoader, Mixture, Subset, scan_epoch
from modalax import train as train_module

from .operator_fixtures import Flip, Shift, ShiftConfig
from .source_fixtures import NoiseDataset, NpyFolder, ids_source

optax = pytest.importorskip("optax")

N = 37  # 5 batches of 8: the last one padded (drop_last=False) or dropped


def _data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"x": rng.random((N, 4, 3), np.float32), "id": np.arange(N, dtype=np.int32)}


def _ops() -> list[Any]:
    from modalax import ModalityOperatorConfig

    rngs = nnx.Rngs(0, augment=1)
    return [
        Flip(ModalityOperatorConfig(field_key="x", stochastic=True, stream_name="augment"), rngs=rngs),
        Shift(ShiftConfig(field_key="x", stochastic=True, stream_name="augment", delta=0.5), rngs=rngs),
    ]


SOURCES = {
    "device arrays": lambda: ArraySource(_data()),
    "synthetic": lambda: NoiseDataset(dataset_size=N, rngs=3),
    "subset": lambda: Subset(ArraySource(_data()), np.arange(N)[::-1].copy()),
    "mixture": lambda: Mixture(
        [ArraySource(_data()), Subset(ArraySource(_data()), np.arange(20))], [2, 1], epoch_size=N, seed=5
    ),
}


def _loader(source: Any, **kw: Any) -> DataLoader:
    ops = _ops() if "x" in source.element_spec() and source.element_spec()["x"].shape == (4, 3) else None
    return DataLoader(source, 8, seed=11, num_epochs=2, operators=ops, **kw)


def _collect(carry: Any, batch: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    return carry + 1, batch


def _rows(outputs: dict[str, Any], i: int) -> dict[str, np.ndarray]:
    return {k: np.asarray(v[i]) for k, v in outputs.items()}


def _assert_bitwise(iterated: list[dict[str, Any]], outputs: dict[str, Any]) -> None:
    assert len(iterated) == len(jax.tree.leaves(outputs)[0])
    for i, batch in enumerate(iterated):
        row = _rows(outputs, i)
        assert sorted(batch) == sorted(row)
        for k in batch:
            a = np.asarray(batch[k])
            assert a.dtype == row[k].dtype and a.tobytes() == row[k].tobytes(), (i, k)


@pytest.mark.parametrize("name", sorted(SOURCES))
@pytest.mark.parametrize("drop_last", [False, True])
def test_scanned_batches_are_bitwise_the_iterated_batches(name: str, drop_last: bool) -> None:
    iterated = list(_loader(SOURCES[name](), drop_last=drop_last, with_indices=True))
    loader = _loader(SOURCES[name](), drop_last=drop_last, with_indices=True)
    per_epoch = len(loader)
    count, first = scan_epoch(loader, _collect, jnp.int32(0))
    count, second = loader.scan_epoch(_collect, count)
    assert int(count) == 2 * per_epoch == len(iterated)
    _assert_bitwise(iterated[:per_epoch], first)
    _assert_bitwise(iterated[per_epoch:], second)
    if not drop_last:  # the padded last batch carries the same mask
        assert not np.asarray(first["mask"][-1]).all()


def test_a_scan_after_a_restored_mid_epoch_state_runs_exactly_the_rest() -> None:
    reference = list(_loader(SOURCES["device arrays"]()))
    saver = _loader(SOURCES["device arrays"]())
    it = iter(saver)
    for _ in range(3):
        next(it)
    state = saver.state_dict()
    resumed = _loader(SOURCES["device arrays"]())
    resumed.load_state_dict(state)
    count, outputs = resumed.scan_epoch(_collect, jnp.int32(0))
    assert int(count) == len(resumed) - 3
    _assert_bitwise(reference[3 : len(resumed)], outputs)
    assert (resumed.state_dict()["epoch"], resumed.state_dict()["batch"]) == (1, 0)
    _, rest = resumed.scan_epoch(_collect, jnp.int32(0))
    _assert_bitwise(reference[len(resumed) :], rest)


def test_a_scan_continues_an_iterator_and_the_run_ends() -> None:
    reference = list(_loader(SOURCES["device arrays"]()))
    loader = _loader(SOURCES["device arrays"]())
    it = iter(loader)
    head = [next(it), next(it)]
    _, tail = loader.scan_epoch(_collect, jnp.int32(0))
    _assert_bitwise(reference[:2], {k: jnp.stack([b[k] for b in head]) for k in head[0]})
    _assert_bitwise(reference[2 : len(loader)], tail)
    with pytest.raises(Exception, match="superseded"):
        next(it)  # the scan consumed the batches this iterator would yield
    loader.scan_epoch(_collect, jnp.int32(0))
    assert loader.state_dict()["epoch"] == 2
    with pytest.raises(ConfigError, match=r"has run its 2 epoch\(s\)"):
        loader.scan_epoch(_collect, jnp.int32(0))


def _mlp_step(objects: Any, batch: dict[str, Any]) -> tuple[Any, jax.Array]:
    model, optimizer = objects

    def loss_fn(m: nnx.Module) -> jax.Array:
        err = (m(batch["x"].reshape(batch["x"].shape[0], -1)) - batch["y"]) ** 2
        return (err.mean(axis=1) * batch["mask"]).sum() / batch["mask"].sum()

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return (model, optimizer), loss


def _model() -> tuple[nnx.Module, nnx.Optimizer]:
    model = nnx.Linear(12, 2, rngs=nnx.Rngs(0))
    return model, nnx.Optimizer(model, optax.adamw(0.05), wrt=nnx.Param)


def test_an_nnx_model_and_optimizer_train_as_in_a_python_loop() -> None:
    data = {**_data(), "y": np.random.default_rng(1).random((N, 2), np.float32)}
    loop_model, loop_opt = _model()
    jitted = nnx.jit(lambda m, o, b: _mlp_step((m, o), b)[1])
    loop_losses = [float(jitted(loop_model, loop_opt, b)) for b in DataLoader(ArraySource(data), 8, seed=2)]

    model, optimizer = _model()
    loader = DataLoader(ArraySource(data), 8, seed=2)
    carry, losses = scan_epoch(loader, _mlp_step, (model, optimizer))
    assert carry[0] is model and carry[1] is optimizer  # updated in place, as nnx transforms do
    np.testing.assert_allclose(np.asarray(losses), loop_losses, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(model.kernel[...]), np.asarray(loop_model.kernel[...]), rtol=1e-5)
    assert int(optimizer.step[...]) == len(loader)


def test_a_second_epoch_reuses_the_compiled_scan() -> None:
    traces = []

    def step(carry: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
        traces.append(1)  # a Python side effect: runs once per trace
        return carry + batch["x"].sum(), None

    loader = _loader(SOURCES["device arrays"]())
    carry, _ = loader.scan_epoch(step, jnp.float32(0))
    loader.scan_epoch(step, carry)
    assert len(traces) == 1
    other = _loader(SOURCES["device arrays"]())  # a new loader of the same stream: still no trace
    other.scan_epoch(step, jnp.float32(0))
    assert len(traces) == 1


def _npy_folder(tmp_path: Path) -> NpyFolder:
    for i in range(4):
        np.save(tmp_path / f"{i}.npy", np.full(3, i, np.float32))
    return NpyFolder(sorted(tmp_path.glob("*.npy")))


@pytest.mark.parametrize(
    ("make", "names"),
    [
        (lambda tmp: ids_source(8), ["ArraySource", "read on the host", "ArraySource(on_device=True)", "for batch"]),
        (_npy_folder, ["NpyFolder", "read on the host", "cannot run inside a jitted scan"]),
        (
            lambda tmp: ArraySource({"x": np.arange(8.0), "name": np.array(list("abcdefgh"))}),
            ["host fields ['name']", "strings"],
        ),
    ],
)
def test_sources_that_cannot_be_scanned_say_so_and_what_to_use(tmp_path: Path, make: Any, names: list[str]) -> None:
    loader = DataLoader(make(tmp_path), 4)
    with pytest.raises(ConfigError) as info:
        loader.scan_epoch(_collect, jnp.int32(0))
    assert all(n in str(info.value) for n in names), str(info.value)
    assert loader.state_dict()["epoch"] == 0  # nothing consumed


def test_the_public_module_names_the_same_function() -> None:
    assert train_module.scan_epoch is scan_epoch
