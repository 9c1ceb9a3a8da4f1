"""Orbax checkpoints of the loader's position next to an NNX model: a fresh process resumes exactly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ocp = pytest.importorskip("orbax.checkpoint", reason="modalax[orbax] not installed")
optax = pytest.importorskip("optax")

import jax  # noqa: E402
from flax import nnx  # noqa: E402

from modalax import ArraySource, DataLoader  # noqa: E402
from modalax._src.errors import ConfigError, DataError, ModalaxError  # noqa: E402
from modalax.checkpoint import (  # noqa: E402
    LoaderRestore,
    LoaderSave,
    restore_checkpoint,
    save_checkpoint,
    state_filename,
)

SAVED_AT, MORE = 7, 4  # 5 batches an epoch: the save falls in the second epoch


def build() -> tuple[nnx.Module, nnx.Optimizer, DataLoader, Any]:
    """The model, its optimizer, the loader and the train step (the same in every process)."""
    rng = np.random.default_rng(0)
    source = ArraySource({"x": rng.random((40, 3), np.float32), "y": rng.random((40, 2), np.float32)})
    loader = DataLoader(source, 8, shuffle=True, seed=3, num_epochs=None, prefetch=0)
    model = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(0.05), wrt=nnx.Param)

    @nnx.jit
    def step(model: nnx.Linear, optimizer: nnx.Optimizer, x: jax.Array, y: jax.Array) -> jax.Array:
        loss, grads = nnx.value_and_grad(lambda m: ((m(x) - y) ** 2).mean())(model)
        optimizer.update(model, grads)
        return loss

    return model, optimizer, loader, step


def train(n: int, model: Any, optimizer: Any, it: Any, step: Any) -> list[np.ndarray]:
    xs = []
    for _ in range(n):
        batch = next(it)
        step(model, optimizer, batch["x"], batch["y"])
        xs.append(np.asarray(batch["x"]))
    return xs


def _items(model: Any, optimizer: Any) -> dict[str, Any]:
    return {"model": nnx.state(model), "opt": nnx.state(optimizer)}


def _params(model: Any) -> np.ndarray:
    return np.concatenate([np.asarray(v).ravel() for v in jax.tree.leaves(nnx.state(model, nnx.Param))])


def resume(directory: str, out: str) -> None:
    """In a fresh process: build, restore at SAVED_AT, train MORE steps, write batches and params."""
    model, optimizer, loader, step = build()
    with ocp.CheckpointManager(directory) as manager:
        targets = _items(model, optimizer)
        restored = manager.restore(
            SAVED_AT,
            args=ocp.args.Composite(
                data=LoaderRestore(loader), **{k: ocp.args.StandardRestore(v) for k, v in targets.items()}
            ),
        )
    nnx.update(model, restored["model"])
    nnx.update(optimizer, restored["opt"])
    xs = train(MORE, model, optimizer, iter(loader), step)
    np.savez(out, xs=np.stack(xs), params=_params(model), state=json.dumps(loader.state_dict()))


@pytest.mark.slow
def test_a_fresh_process_resumes_batches_and_parameters_exactly(tmp_path: Path) -> None:
    model, optimizer, loader, step = build()
    it = iter(loader)
    train(SAVED_AT, model, optimizer, it, step)
    with ocp.CheckpointManager(tmp_path / "ckpt") as manager:
        items = {k: ocp.args.StandardSave(v) for k, v in _items(model, optimizer).items()}
        manager.save(SAVED_AT, args=ocp.args.Composite(data=LoaderSave(loader), **items))
        manager.wait_until_finished()
    saved = json.loads((tmp_path / "ckpt" / str(SAVED_AT) / "data" / state_filename()).read_text())
    assert (saved["epoch"], saved["batch"]) == (1, 2)
    expected = train(MORE, model, optimizer, it, step)  # the uninterrupted run goes on

    out = tmp_path / "resumed.npz"
    cmd = [sys.executable, __file__, str(tmp_path / "ckpt"), str(out)]
    subprocess.run(cmd, check=True, timeout=300, capture_output=True)
    resumed = np.load(out)
    assert resumed["xs"].tobytes() == np.stack(expected).tobytes()
    assert resumed["params"].tobytes() == _params(model).tobytes()
    assert json.loads(str(resumed["state"])) == loader.state_dict()


def _save_loader(directory: Path, loader: Any) -> None:
    with ocp.CheckpointManager(directory) as manager:
        manager.save(0, args=ocp.args.Composite(data=LoaderSave(loader)))
        manager.wait_until_finished()


def test_the_iterator_can_be_saved_and_a_loader_restored(tmp_path: Path) -> None:
    *_, loader, _ = build()
    it = iter(loader)
    next(it), next(it)
    _save_loader(tmp_path, it)
    fresh = build()[2]
    with ocp.CheckpointManager(tmp_path) as manager:
        restored = manager.restore(0, args=ocp.args.Composite(data=LoaderRestore(fresh)))
    assert restored["data"] is fresh
    assert np.asarray(next(iter(fresh))["x"]).tobytes() == np.asarray(next(it)["x"]).tobytes()


@pytest.mark.parametrize(
    ("damage", "error", "names"),
    [
        ("missing", DataError, [state_filename(), "does not exist"]),
        ("not json", DataError, [state_filename(), "not JSON"]),
        ("other seed", ConfigError, [state_filename(), "seed"]),
    ],
)
def test_bad_loader_checkpoints_name_the_file(
    tmp_path: Path, damage: str, error: type[Exception], names: list[str]
) -> None:
    *_, loader, _ = build()
    _save_loader(tmp_path, loader)
    path = tmp_path / "0" / "data" / state_filename()
    if damage == "missing":
        path.unlink()
    elif damage == "not json":
        path.write_text("{oops")
    else:
        path.write_text(json.dumps({**json.loads(path.read_text()), "seed": 99}))
    with ocp.CheckpointManager(tmp_path) as manager, pytest.raises(error) as info:
        manager.restore(0, args=ocp.args.Composite(data=LoaderRestore(loader)))
    assert all(n in str(info.value) for n in names), str(info.value)


def test_checked_save_and_restore_resume_the_latest_step(tmp_path: Path) -> None:
    model, _, loader, _ = build()
    it = iter(loader)
    next(it), next(it)
    with ocp.CheckpointManager(tmp_path) as manager:
        assert save_checkpoint(manager, 2, it, state=ocp.args.StandardSave(nnx.state(model)))
        manager.wait_until_finished()
    fresh_model, _, fresh, _ = build()
    with ocp.CheckpointManager(tmp_path) as manager:
        restored = restore_checkpoint(manager, None, fresh, state=ocp.args.StandardRestore(nnx.state(fresh_model)))
    assert restored["data"] is fresh and set(restored.keys()) == {"data", "state"}
    assert np.asarray(next(iter(fresh))["x"]).tobytes() == np.asarray(next(it)["x"]).tobytes()


def _saved_as(directory: Path, item: str = "data", handler: str = "loader", step: int = 3) -> Any:
    """A checkpoint of one step whose ``item`` was saved by the loader handler or by StandardSave."""
    *_, loader, _ = build()
    with ocp.CheckpointManager(directory) as manager:
        args = LoaderSave(loader) if handler == "loader" else ocp.args.StandardSave({"w": np.ones(3)})
        manager.save(step, args=ocp.args.Composite(**{item: args}))
        manager.wait_until_finished()
    return loader


def _again(manager: Any, loader: Any) -> Any:
    return save_checkpoint(manager, 3, loader)


def _missing_step(manager: Any, loader: Any) -> Any:
    return restore_checkpoint(manager, 99, loader)


def _missing_item(manager: Any, loader: Any) -> Any:
    return restore_checkpoint(manager, 3, loader, item="position")


def _missing_other_item(manager: Any, loader: Any) -> Any:
    return restore_checkpoint(manager, 3, loader, state=ocp.args.StandardRestore({"w": np.ones(3)}))


def _plain_restore(manager: Any, loader: Any) -> Any:
    return manager.restore(3, args=ocp.args.Composite(data=LoaderRestore(loader)))


def _nothing(manager: Any, loader: Any) -> Any:
    for step in manager.all_steps():
        manager.delete(step)
    return restore_checkpoint(manager, None, loader)


@pytest.mark.parametrize(
    ("saved_by", "call", "error", "names"),
    [
        ("loader", _again, ConfigError, ["step 3", "already saved", "['data']"]),
        ("loader", _missing_step, DataError, ["step 99 not found", "steps found: [3]"]),
        ("loader", _missing_item, DataError, ["step 3", "no item 'position'", "['data']"]),
        ("loader", _missing_other_item, DataError, ["step 3", "no item 'state'", "['data']"]),
        ("loader", _nothing, DataError, ["no checkpoint"]),
        ("standard", _missing_item, DataError, ["no item 'position'"]),
        ("standard", lambda m, lo: restore_checkpoint(m, 3, lo), DataError, ["step 3", "StandardCheckpointHandler"]),
        ("standard", _plain_restore, DataError, ["item 'data'", "step 3", "StandardCheckpointHandler", "_METADATA"]),
    ],
)
def test_checkpoint_misuse_names_step_item_and_what_was_found(
    tmp_path: Path, saved_by: str, call: Any, error: type[Exception], names: list[str]
) -> None:
    loader = _saved_as(tmp_path, handler=saved_by)
    before = json.dumps(loader.state_dict())
    with ocp.CheckpointManager(tmp_path) as manager, pytest.raises(error) as info:
        call(manager, loader)
    assert isinstance(info.value, ModalaxError)
    assert all(n in str(info.value) for n in names), str(info.value)
    assert json.dumps(loader.state_dict()) == before  # nothing restored into it


def test_a_save_under_an_existing_step_keeps_the_first_position(tmp_path: Path) -> None:
    loader = _saved_as(tmp_path)
    saved = (tmp_path / "3" / "data" / state_filename()).read_text()
    it = iter(loader)
    next(it)
    with ocp.CheckpointManager(tmp_path) as manager, pytest.raises(ConfigError, match="step 3"):
        save_checkpoint(manager, 3, it)
    assert (tmp_path / "3" / "data" / state_filename()).read_text() == saved


def test_a_position_saved_by_another_process_count_restores_elastically(tmp_path: Path) -> None:
    *_, loader, _ = build()
    it = iter(loader)
    next(it), next(it), next(it)
    _save_loader(tmp_path, it)
    item = tmp_path / "0" / "data"
    saved = (item / state_filename()).read_text()
    (item / state_filename()).unlink()
    for i in range(2):  # as two processes would have saved it: the same global position in each file
        (item / f"process_{i}-of-2.json").write_text(saved)
    fresh = build()[2]
    with ocp.CheckpointManager(tmp_path) as manager:
        restore_checkpoint(manager, 0, fresh)
    assert np.asarray(next(iter(fresh))["x"]).tobytes() == np.asarray(next(it)["x"]).tobytes()


def test_processes_that_saved_different_positions_are_refused(tmp_path: Path) -> None:
    *_, loader, _ = build()
    _save_loader(tmp_path, loader)
    item = tmp_path / "0" / "data"
    state = json.loads((item / state_filename()).read_text())
    (item / state_filename()).unlink()
    for i, batch in enumerate((2, 3)):
        (item / f"process_{i}-of-2.json").write_text(json.dumps({**state, "batch": batch}))
    with ocp.CheckpointManager(tmp_path) as manager, pytest.raises(DataError) as info:
        restore_checkpoint(manager, 0, build()[2])
    assert "process_0-of-2.json: epoch 0 batch 2, process_1-of-2.json: epoch 0 batch 3" in str(info.value)


def test_a_changed_stream_is_named_and_can_be_continued_on_purpose(tmp_path: Path) -> None:
    *_, loader, _ = build()
    it = iter(loader)
    next(it)
    _save_loader(tmp_path, it)
    source = loader.source
    changed = DataLoader(source, 8, shuffle=True, seed=4, num_epochs=None, prefetch=0)
    with ocp.CheckpointManager(tmp_path) as manager, pytest.raises(ConfigError, match=r"seed: 3 -> 4"):
        restore_checkpoint(manager, 0, changed)
    with ocp.CheckpointManager(tmp_path) as manager:
        restore_checkpoint(manager, 0, changed, allow_changes=["seed"])
        manager.restore(0, args=ocp.args.Composite(data=LoaderRestore(changed, allow_changes=True)))
    assert changed.state_dict()["batch"] == 1


def test_a_non_loader_is_a_config_error(tmp_path: Path) -> None:
    with ocp.CheckpointManager(tmp_path) as manager, pytest.raises(ConfigError, match=r"LoaderSave\.loader: got dict"):
        manager.save(0, args=ocp.args.Composite(data=LoaderSave({})))


if __name__ == "__main__":
    resume(sys.argv[1], sys.argv[2])
