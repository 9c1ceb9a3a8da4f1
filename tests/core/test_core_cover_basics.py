"""Dataset and model bases, operator chains and function operators: values, errors, pickling."""

from __future__ import annotations

import pickle
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from modalax import BaseDataset, ConfigError, GenerativeModel, ModalityOperatorConfig, OperatorConfig, SyntheticDataset
from modalax._src.operators.compose import Compose, ElementConfig, ElementOperator, MapConfig, MapOperator, as_pipeline
from modalax.plugin import record_keys

from .operator_fixtures import Crop, Shift, ShiftConfig


class Noise(SyntheticDataset):
    """Record i: its index and three uniform values from its own key."""

    def generate_records(self, keys: jax.Array, indices: jax.Array) -> dict[str, jax.Array]:
        return {"i": indices, "x": jax.vmap(lambda k: jax.random.uniform(k, (3,)))(keys)}


class NoGenerator(SyntheticDataset):
    pass


class NoRecords(BaseDataset):
    def __len__(self) -> int:
        return 2


# --------------------------------------------------------------- datasets
def test_iteration_crosses_chunks_and_matches_get_records() -> None:
    ds = Noise(dataset_size=260, rngs=3)  # more than one 256-record chunk
    elements = list(ds)
    assert [int(e["i"]) for e in elements] == list(range(260))
    batch = ds.get_records(np.array([0, 255, 256, 259]))
    for j, i in enumerate([0, 255, 256, 259]):
        np.testing.assert_array_equal(elements[i]["x"], batch["x"][j])
    assert elements[0]["x"].shape == (3,)


def test_records_depend_on_seed_and_split_only() -> None:
    a = Noise(dataset_size=5, rngs=1).get_records(np.arange(5))["x"]
    np.testing.assert_array_equal(a, Noise(dataset_size=9, rngs=nnx.Rngs(1)).get_records(np.arange(5))["x"])
    assert not np.allclose(a, Noise(dataset_size=5, rngs=2).get_records(np.arange(5))["x"])
    assert not np.allclose(a, Noise(dataset_size=5, split="test", rngs=1).get_records(np.arange(5))["x"])
    assert len({tuple(np.asarray(r).round(6)) for r in a}) == 5  # every record differs


def test_a_synthetic_dataset_pickles_and_regenerates_the_same_records() -> None:
    ds = Noise(dataset_size=7, split="val", rngs=4)
    want = ds.get_records(np.arange(7))
    again = pickle.loads(pickle.dumps(ds))
    got = again.get_records(np.arange(7))
    np.testing.assert_array_equal(got["x"], want["x"])
    assert (again.split, len(again)) == ("val", 7)


def test_get_batch_draws_a_new_batch_each_call_reproducibly() -> None:
    ds = Noise(dataset_size=50, rngs=0)
    first, second = ds.get_batch(8), ds.get_batch(8)
    assert first["x"].shape == (8, 3) and first["i"].dtype == jnp.int32
    assert int(first["i"].min()) >= 0 and int(first["i"].max()) < 50
    assert not np.array_equal(first["i"], second["i"])
    fresh = Noise(dataset_size=50, rngs=0)
    np.testing.assert_array_equal(fresh.get_batch(8)["i"], first["i"])
    np.testing.assert_array_equal(fresh.get_batch(8)["i"], second["i"])


@pytest.mark.parametrize("bad", [0, -3, True, 2.0, "4", None])
def test_get_batch_rejects_bad_sizes(bad: Any) -> None:
    with pytest.raises(ConfigError, match=rf"get_batch.batch_size: got {bad!r}, expected a positive int"):
        Noise(dataset_size=5, rngs=0).get_batch(bad)


@pytest.mark.parametrize("bad", [0, -1, True, 10.0, "10"])
def test_dataset_size_must_be_a_positive_int(bad: Any) -> None:
    with pytest.raises(ConfigError, match=rf"Noise.dataset_size: got {bad!r}, expected a positive int"):
        Noise(dataset_size=bad, rngs=0)


@pytest.mark.parametrize("split", ["", 3, None])
def test_split_must_be_a_non_empty_name(split: Any) -> None:
    with pytest.raises(ConfigError, match=rf"split: got {split!r}, expected a non-empty string"):
        Noise(dataset_size=2, split=split, rngs=0)


def test_statistics_report_size_split_and_element_fields() -> None:
    assert Noise(dataset_size=6, split="test", rngs=0).get_data_statistics() == {
        "size": 6,
        "split": "test",
        "fields": {"i": {"shape": [], "dtype": "int32"}, "x": {"shape": [3], "dtype": "float32"}},
    }


def test_missing_methods_name_the_class() -> None:
    with pytest.raises(NotImplementedError, match="NoGenerator must implement generate_records"):
        NoGenerator(dataset_size=2, rngs=0).get_records(np.arange(2))
    with pytest.raises(NotImplementedError, match=r"NoRecords must implement get_records\(indices\)"):
        NoRecords(rngs=0).get_records(np.arange(2))
    model = GenerativeModel()
    with pytest.raises(NotImplementedError, match=r"GenerativeModel.generate is not implemented"):
        model.generate(2)

    class Decoder(GenerativeModel):
        pass

    with pytest.raises(NotImplementedError, match=r"Decoder.loss_fn is not implemented"):
        Decoder().loss_fn({}, None)


# -------------------------------------------------------------- Compose
def _shift(delta: float = 0.25, *, stochastic: bool = False, seed: int = 0) -> Shift:
    if stochastic:
        cfg = ShiftConfig(field_key="x", delta=delta, stochastic=True, stream_name="augment")
        return Shift(cfg, rngs=nnx.Rngs(0, augment=seed))
    return Shift(ShiftConfig(field_key="x", delta=delta))


def test_compose_rejects_what_is_not_an_operator() -> None:
    with pytest.raises(ConfigError, match=r"Compose.operators\[1\]: got function, expected an operator"):
        Compose([_shift(), lambda b: b])


def test_a_deterministic_chain_adds_up_and_has_no_key_to_draw() -> None:
    chain = Compose([_shift(1.0), _shift(2.0)], name="twice")
    assert (len(chain), chain.stochastic, chain.stream_name, chain.name) == (2, False, None, "twice")
    out = chain.apply_batch({"x": jnp.zeros((2, 3)), "label": ["a", "b"]})
    np.testing.assert_allclose(out["x"], 3.0)
    assert out["label"] == ["a", "b"]
    with pytest.raises(ConfigError, match="twice: no stochastic operator to draw a key from"):
        chain.draw_rng()
    with pytest.raises(NotImplementedError, match="Compose works on batches: call apply_batch"):
        chain.apply({"x": jnp.zeros(3)}, {}, None)


def test_identical_stochastic_operators_in_a_chain_draw_different_values() -> None:
    a, b = _shift(0.5, stochastic=True), _shift(0.5, stochastic=True)
    chain = Compose([a, _shift(1.0), b])
    assert chain.stochastic and chain.stream_name == "augment"
    keys = jax.random.split(jax.random.key(9), 4)
    x = jnp.zeros((4, 2))
    out = chain.apply_batch({"x": x}, keys=keys)["x"]
    fold = [jax.vmap(lambda k, i=i: jax.random.fold_in(k, i))(keys) for i in range(3)]
    want = b.apply_batch(a.apply_batch({"x": x}, keys=fold[0]), keys=fold[2])["x"] + 1.0
    np.testing.assert_allclose(out, want, rtol=1e-6)
    draws = [np.asarray(op.apply_batch({"x": x}, keys=k)["x"]) for op, k in ((a, fold[0]), (b, fold[2]))]
    assert not np.allclose(draws[0], draws[1])  # same operator, same record keys: different values in the chain
    assert all(np.all(np.abs(d) <= 0.5) for d in draws)
    assert chain.draw_rng().dtype == jax.random.key(0).dtype  # from the first stochastic operator's stream


def test_compose_copy_output_spec_and_as_pipeline() -> None:
    chain = Compose([Crop(ModalityOperatorConfig(field_key="x")), _shift(1.0)], name="c")
    spec = chain.output_spec({"x": jax.ShapeDtypeStruct((5,), jnp.float32)})
    assert spec["x"].shape == (2,)
    twin = chain.copy()
    assert isinstance(twin, Compose) and twin.name == "c" and len(twin) == 2
    assert twin.operators[0] is not chain.operators[0]
    x = jnp.arange(10.0).reshape(2, 5)
    np.testing.assert_allclose(twin.apply_batch({"x": x})["x"], [[1.0, 2.0], [6.0, 7.0]])
    assert chain.copy(name="d").name == "d"
    assert as_pipeline(None) is None and as_pipeline([]) is None
    assert as_pipeline(chain) is chain
    single = as_pipeline(_shift())
    assert isinstance(single, Compose) and len(single) == 1
    assert len(as_pipeline((_shift(), _shift()))) == 2


# ------------------------------------------------------ function operators
@pytest.mark.parametrize(("cls", "name"), [(MapConfig, "MapConfig"), (ElementConfig, "ElementConfig")])
@pytest.mark.parametrize("fn", [None, 3, "abs"])
def test_function_operators_need_a_callable(cls: type, name: str, fn: Any) -> None:
    kwargs = {"field_key": "x"} if cls is MapConfig else {}
    with pytest.raises(ConfigError, match=rf"{name}.fn: got {fn!r}, expected a callable"):
        cls(fn=fn, **kwargs)


def test_map_operator_maps_one_field() -> None:
    op = MapOperator(MapConfig(field_key="x", fn=lambda x: x * 3))
    out = op.apply_batch({"x": jnp.ones((2, 2)), "y": jnp.ones((2,))})
    np.testing.assert_allclose(out["x"], 3.0)
    np.testing.assert_allclose(out["y"], 1.0)


def test_a_stochastic_map_operator_gets_one_key_per_record() -> None:
    cfg = MapConfig(field_key="x", fn=lambda x, k: x + jax.random.uniform(k), stochastic=True, stream_name="aug")
    op = MapOperator(cfg, rngs=nnx.Rngs(aug=1))
    keys = jax.random.split(jax.random.key(2), 3)
    out = op.apply_batch({"x": jnp.zeros((3,))}, keys=keys)["x"]
    np.testing.assert_array_equal(out, op.apply_batch({"x": jnp.zeros((3,))}, keys=keys)["x"])
    assert len(set(np.asarray(out).tolist())) == 3 and np.all((out >= 0) & (out < 1))


def test_element_operator_maps_whole_elements() -> None:
    op = ElementOperator(ElementConfig(fn=lambda e: {"sum": e["a"] + e["b"], "a": e["a"]}))
    out = op.apply_batch({"a": jnp.array([1.0, 2.0]), "b": jnp.array([10.0, 20.0])})
    assert sorted(out) == ["a", "sum"] and out["sum"].tolist() == [11.0, 22.0]
    bad = ElementOperator(ElementConfig(fn=lambda e: [e["a"]]), name="listy")
    with pytest.raises(ConfigError, match="listy: fn returned list, expected a dict element"):
        bad.apply_batch({"a": jnp.zeros((2,))})


def test_a_stochastic_element_operator_gets_one_key_per_record() -> None:
    cfg = ElementConfig(fn=lambda e, k: {"x": e["x"] + jax.random.normal(k)}, stochastic=True, stream_name="aug")
    op = ElementOperator(cfg, rngs=nnx.Rngs(aug=0))
    keys = record_keys(jax.random.key(5), jnp.arange(4))
    out = op.apply_batch({"x": jnp.zeros((4,))}, keys=keys)["x"]
    want = jax.vmap(lambda k: jax.random.normal(jax.random.split(k, 1)[0]))(keys)
    np.testing.assert_allclose(out, want, rtol=1e-6)


def test_operator_config_is_checked() -> None:
    assert OperatorConfig().batch_strategy == "vmap"
    with pytest.raises(ConfigError, match=r"OperatorConfig.batch_stats_fn: got 3, expected a callable or None"):
        OperatorConfig(batch_stats_fn=3)
    with pytest.raises(ConfigError, match=r"OperatorConfig.precomputed_stats: got list, expected a dict or None"):
        OperatorConfig(precomputed_stats=[1])
    with pytest.raises(ConfigError, match=r"OperatorConfig.stream_name: got 5, expected a string or None"):
        OperatorConfig(stream_name=5)
