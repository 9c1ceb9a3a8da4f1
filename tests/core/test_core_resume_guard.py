"""Guarded resume (every fingerprint field detected, allow_changes), the shared compiled step, named records."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
import pytest
from flax import nnx

from modalax import ArraySource, ConfigError, DataError, DataLoader, MapConfig, MapOperator, Mixture, Subset
from modalax._src.loader.chain import fn_key
from modalax._src.loader.stream import FIELDS

from .operator_fixtures import Shift, ShiftConfig
from .source_fixtures import digest

N = 30


def _data(n: int = N, first: float = 0.0) -> dict[str, np.ndarray]:
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    x[0] = first
    return {"x": x, "id": np.arange(n, dtype=np.int32)}


def _shift(delta: float = 0.25) -> Shift:
    return Shift(
        ShiftConfig(field_key="x", stochastic=True, stream_name="augment", delta=delta), rngs=nnx.Rngs(0, augment=1)
    )


def _mixture(weights: tuple[float, float] = (1, 1)) -> Mixture:
    return Mixture([ArraySource(_data()), ArraySource(_data())], list(weights), epoch_size=N, seed=1)


def _build(
    source: Callable[[], Any] = lambda: ArraySource(_data()), ops: Callable[[], Any] = lambda: [_shift()], **kw: Any
) -> DataLoader:
    return DataLoader(source(), **{"batch_size": 4, "seed": 2, "num_epochs": 2, "operators": ops(), **kw})


CHANGES: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    # field: (how the saving loader is built, how the resuming one is, a line the error must hold)
    "source": (
        {},
        {"source": lambda: Subset(ArraySource(_data()), np.arange(N))},
        "source: 'modalax._src.sources.array",
    ),
    "num_records": ({}, {"source": lambda: ArraySource(_data(N + 1))}, "num_records: 30 -> 31"),
    "signature": ({}, {"source": lambda: ArraySource(_data(first=-1.0))}, "signature.digest: "),
    "mixture_weights": (
        {"source": _mixture},
        {"source": lambda: _mixture((1, 3))},
        "mixture_weights[1]: 1.0 -> 3.0",
    ),
    "batch_size": ({}, {"batch_size": 6}, "batch_size: 4 -> 6"),
    "seed": ({}, {"seed": 3}, "seed: 2 -> 3"),
    "shuffle": ({}, {"shuffle": False}, "shuffle: true -> false"),
    "drop_last": ({}, {"drop_last": True}, "drop_last: false -> true"),
    "operators": ({}, {"ops": lambda: [_shift(0.5)]}, "operators[0].config.delta: 0.25 -> 0.5"),
}


def test_every_field_has_a_case() -> None:
    assert sorted(CHANGES) == sorted(FIELDS)


def _saved(**kw: Any) -> dict[str, Any]:
    loader = _build(**kw)
    it = iter(loader)
    next(it), next(it)
    return json.loads(json.dumps(loader.state_dict()))  # through JSON, as a checkpoint stores it


@pytest.mark.parametrize("field", sorted(CHANGES))
def test_a_state_of_another_stream_names_each_field_that_differs(field: str) -> None:
    saved_kw, resumed_kw, line = CHANGES[field]
    state = _saved(**saved_kw)
    resumed = _build(**resumed_kw)
    with pytest.raises(ConfigError) as info:
        resumed.load_state_dict(state)
    message = str(info.value)
    assert line in message, message
    named = message.split("differ (")[1].split(")")[0].split(", ")
    assert field in named
    assert "allow_changes=" in message
    resumed.load_state_dict(state, allow_changes=named)  # continuing anyway is an explicit choice
    assert resumed.state_dict()["batch"] == 2


def test_allowing_one_field_does_not_allow_another() -> None:
    state = _saved()
    with pytest.raises(ConfigError, match=r"1 field\(s\) differ \(seed\)"):
        _build(seed=5, ops=lambda: [_shift(0.5)]).load_state_dict(state, allow_changes=["operators"])
    with pytest.raises(ConfigError, match=r"unknown field\(s\) \['sed'\]"):
        _build().load_state_dict(state, allow_changes=["sed"])


def test_the_same_stream_resumes_and_equal_operators_built_anew_count_as_the_same() -> None:
    state = _saved()
    reference = list(_build())
    resumed = _build()  # a new operator object with an equal config
    resumed.load_state_dict(state)
    assert digest(list(resumed)) == digest(reference[2:])


def test_a_version_one_state_is_still_read() -> None:
    state = _saved()
    old = {k: v for k, v in state.items() if k != "fingerprint"} | {"version": 1}
    loader = _build()
    loader.load_state_dict(old)
    assert loader.state_dict()["batch"] == 2
    with pytest.raises(ConfigError, match=r"load_state_dict.seed: got 2, expected 3"):
        _build(seed=3).load_state_dict(old)


# ----------------------------------------------------------------- the shared compiled step
def _run(loader: DataLoader) -> list[dict[str, Any]]:
    return list(loader)


def test_a_new_loader_with_the_same_chain_and_shapes_compiles_nothing() -> None:
    ops = [_shift(0.125)]
    first = _build(ops=lambda: ops)
    _run(first)
    traces = first.trace_count
    second = _build(ops=lambda: ops)  # the same operator objects
    third = _build(ops=lambda: [_shift(0.125)])  # equal operators built anew
    assert digest(_run(second)) == digest(_run(third)) == digest(_run(first))
    assert second._step.fn is first._step.fn and third._step.fn is first._step.fn  # one compiled step
    assert first.trace_count == traces == 1  # traced once, for all three


def test_another_config_or_function_gets_its_own_step() -> None:
    base = _build(ops=lambda: [_shift(0.375)])
    other = _build(ops=lambda: [_shift(0.4375)])
    assert base._step.fn is not other._step.fn
    plus = _build(ops=lambda: [MapOperator(MapConfig(field_key="x", fn=lambda x: x + 1))])
    times = _build(ops=lambda: [MapOperator(MapConfig(field_key="x", fn=lambda x: x * 2))])
    assert plus._step.fn is not times._step.fn
    x_plus, x_times = np.asarray(next(iter(plus))["x"]), np.asarray(next(iter(times))["x"])
    np.testing.assert_array_equal(x_plus - 1, x_times / 2)


def _closing(value: Any) -> Callable[[Any], Any]:
    return lambda x: (value, x)[1]


@pytest.mark.parametrize(
    ("value", "other"),
    [
        (jax.random.key(0), jax.random.key(1)),
        (jax.random.PRNGKey(0), jax.random.PRNGKey(1)),
        (np.arange(3.0), np.arange(4.0)),
    ],
    ids=["typed key", "raw key", "array"],
)
def test_a_function_closing_over_keys_or_arrays_is_keyed_by_value(value: Any, other: Any) -> None:
    first = _build(ops=lambda: [MapOperator(MapConfig(field_key="x", fn=_closing(value)))])
    second = _build(ops=lambda: [MapOperator(MapConfig(field_key="x", fn=_closing(value)))])
    assert second._step.fn is first._step.fn  # equal closures share one step, keys included
    assert digest(_run(first)) == digest(_run(second))
    assert fn_key(_closing(value)) == fn_key(_closing(value))
    assert fn_key(_closing(other)) != fn_key(_closing(value))


# ----------------------------------------------------------------- range checks name the record
def test_a_value_int32_cannot_hold_names_its_record() -> None:
    ids = np.arange(8, dtype=np.int64)
    ids[5] = 2**40
    loader = DataLoader(ArraySource({"id": ids}, on_device=False), 4, shuffle=False)
    with pytest.raises(DataError, match=r"field 'id' of record 5 holds 1099511627776"):
        list(loader)
