"""The ModalityOperator contract, field by field."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from modalax import (
    Compose,
    ConfigError,
    DataError,
    ElementConfig,
    ElementOperator,
    MapConfig,
    MapOperator,
    ModalityOperatorConfig,
)

from .operator_fixtures import Crop, Flip, LearnedScale, Shift, ShiftConfig, Standardize

X = jnp.arange(24, dtype=jnp.float32).reshape(4, 2, 3) / 24.0


def augment(seed: int = 0) -> nnx.Rngs:
    return nnx.Rngs(0, augment=seed)


def test_deterministic_values_clip_and_target_key() -> None:
    op = Shift(ShiftConfig(field_key="image", target_key="out", clip_range=(0.0, 1.0), delta=0.5))
    out = op.apply_batch({"image": X})
    np.testing.assert_allclose(out["out"], np.clip(np.asarray(X) + 0.5, 0, 1))
    np.testing.assert_array_equal(out["image"], X)  # the source field is kept


def test_dotted_field_keys_reach_nested_fields() -> None:
    op = Shift(ShiftConfig(field_key="inputs.image", delta=1.0))
    out = op.apply_batch({"inputs": {"image": X, "other": X}, "label": jnp.arange(4)})
    np.testing.assert_allclose(out["inputs"]["image"], np.asarray(X) + 1.0)
    np.testing.assert_array_equal(out["inputs"]["other"], X)
    with pytest.raises(DataError, match=r"field 'inputs.imag': missing 'imag'; the data has \['image', 'other'\]"):
        Shift(ShiftConfig(field_key="inputs.imag")).apply_batch({"inputs": {"image": X, "other": X}})


def test_auxiliary_fields_follow_the_primary_transform() -> None:
    mask = (X > 0.5).astype(jnp.float32)
    op = Flip(
        ModalityOperatorConfig(field_key="image", auxiliary_fields=["mask"], stochastic=True, stream_name="augment"),
        rngs=augment(3),
    )
    keys = jax.random.split(jax.random.key(1), 4)
    out = op.apply_batch({"image": X, "mask": mask}, keys=keys)
    flipped = np.asarray(out["image"][:, 0, 0]) != np.asarray(X[:, 0, 0])
    assert flipped.any() and not flipped.all()  # a mix, so the test can tell flips apart
    for i in range(4):
        ref_img = np.asarray(X[i])[:, ::-1] if flipped[i] else np.asarray(X[i])
        ref_mask = np.asarray(mask[i])[:, ::-1] if flipped[i] else np.asarray(mask[i])
        np.testing.assert_array_equal(out["image"][i], ref_img)
        np.testing.assert_array_equal(out["mask"][i], ref_mask)
    off = Flip(
        ModalityOperatorConfig(
            field_key="image",
            auxiliary_fields=["mask"],
            preserve_auxiliary=False,
            stochastic=True,
            stream_name="augment",
        ),
        rngs=augment(3),
    )
    np.testing.assert_array_equal(off.apply_batch({"image": X, "mask": mask}, keys=keys)["mask"], mask)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"field_key": ""}, r"field_key: got '', expected a non-empty key"),
        ({"field_key": "a", "clip_range": (1.0, 0.0)}, r"clip_range: got \(1.0, 0.0\), expected min < max"),
        ({"field_key": "a", "clip_range": (0.0,)}, r"clip_range: got \(0.0,\), expected a \(min, max\) pair"),
        ({"field_key": "a", "stochastic": True}, r"stream_name: got None with stochastic=True"),
        ({"field_key": "a", "batch_strategy": "pmap"}, r"batch_strategy: unknown value 'pmap'; available: scan, vmap"),
        ({"field_key": "a", "auxiliary_fields": ["a"]}, r"auxiliary_fields: contains the primary field_key 'a'"),
        ({"field_key": "a", "batch_stats_fn": len, "precomputed_stats": {}}, r"both set; expected at most one"),
        ({"field_key": "a", "cacheable": True, "stochastic": True, "stream_name": "s"}, r"cacheable: got True"),
    ],
)
def test_bad_configs_raise_config_error_naming_the_field(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ModalityOperatorConfig(**kwargs)


def test_stochastic_needs_rngs_with_the_stream() -> None:
    cfg = ShiftConfig(field_key="image", stochastic=True, stream_name="augment")
    with pytest.raises(ConfigError, match=r"stochastic=True needs rngs with stream 'augment'"):
        Shift(cfg)
    with pytest.raises(ConfigError, match=r"rng stream 'augment', which the given rngs do not have"):
        Shift(cfg, rngs=nnx.Rngs(0))
    op = Shift(cfg, rngs=augment())
    assert op.requires_rng_streams() == ["augment"]
    with pytest.raises(ConfigError, match=r"\['augment'\] are required"):
        op.ensure_rng_streams(["default"])


def test_per_record_randomness_does_not_depend_on_batch_composition() -> None:
    op = Shift(ShiftConfig(field_key="image", stochastic=True, stream_name="augment", delta=0.3), rngs=augment())
    keys = jax.random.split(jax.random.key(7), 4)
    full = op.apply_batch({"image": X}, keys=keys)["image"]
    part = op.apply_batch({"image": X[2:]}, keys=keys[2:])["image"]
    np.testing.assert_allclose(full[2:], part, rtol=1e-6)
    shifts = np.asarray(full - X)[:, 0, 0]
    assert np.all(np.abs(shifts) <= 0.3) and len(set(np.round(shifts, 6))) == 4
    np.testing.assert_allclose(np.asarray(full - X), shifts[:, None, None] * np.ones((1, 2, 3)), atol=1e-6)
    # drawing from the stream gives new keys each call
    a, b = op.apply_batch({"image": X})["image"], op.apply_batch({"image": X})["image"]
    assert not np.allclose(a, b)


def test_apply_batch_is_traced_once_per_input_structure() -> None:
    op = Shift(ShiftConfig(field_key="image", stochastic=True, stream_name="augment"), rngs=augment())
    for i in range(3):
        op.apply_batch({"image": X + i})
    assert op.trace_count == 1
    op.apply_batch({"image": X[:2]})
    assert op.trace_count == 2
    op.apply_batch({"image": X, "extra": X})
    assert op.trace_count == 3


def test_scan_strategy_matches_vmap() -> None:
    kw = {"field_key": "image", "stochastic": True, "stream_name": "augment"}
    keys = jax.random.split(jax.random.key(0), 4)
    v = Shift(ShiftConfig(**kw), rngs=augment()).apply_batch({"image": X}, keys=keys)
    s = Shift(ShiftConfig(**kw, batch_strategy="scan"), rngs=augment()).apply_batch({"image": X}, keys=keys)
    np.testing.assert_allclose(v["image"], s["image"], rtol=1e-6)


def test_statistics_precomputed_computed_set_and_reset() -> None:
    fixed = Standardize(ModalityOperatorConfig(field_key="x", precomputed_stats={"mean": 1.0, "std": 2.0}))
    np.testing.assert_allclose(fixed.apply_batch({"x": X})["x"], (np.asarray(X) - 1.0) / 2.0, rtol=1e-6)
    fixed.set_statistics({"mean": 0.0, "std": 4.0})
    np.testing.assert_allclose(fixed.apply_batch({"x": X})["x"], np.asarray(X) / 4.0, rtol=1e-6)
    fixed.reset_statistics()
    assert fixed.get_statistics() is None

    def batch_stats(batch: dict) -> dict:
        return {"mean": jnp.mean(batch["x"]), "std": jnp.std(batch["x"])}

    live = Standardize(ModalityOperatorConfig(field_key="x", batch_stats_fn=batch_stats))
    out = np.asarray(live.apply_batch({"x": X})["x"])
    assert abs(out.mean()) < 1e-5 and abs(out.std() - 1.0) < 1e-5
    assert float(live.get_statistics()["mean"]) == pytest.approx(float(jnp.mean(X)))
    explicit = live.apply_batch({"x": X}, stats={"mean": 0.0, "std": 1.0})["x"]
    np.testing.assert_allclose(explicit, X)


def test_cache_and_operation_counters() -> None:
    op = Shift(ShiftConfig(field_key="image", cacheable=True))
    batch = {"image": X}
    first = op.apply_batch(batch)
    second = op.apply_batch(batch)
    assert second["image"] is first["image"]
    assert op.get_operation_stats() == {"applied_count": 4, "skipped_count": 4}
    op.reset_cache()
    op.apply_batch(batch)
    assert op.get_operation_stats() == {"applied_count": 8, "skipped_count": 4}
    op.reset_operation_stats()
    assert op.get_operation_stats() == {"applied_count": 0, "skipped_count": 0}


def test_state_round_trip_is_strict() -> None:
    op = LearnedScale(ModalityOperatorConfig(field_key="x"))
    state = op.get_state()
    np.testing.assert_array_equal(state["w"], [2.0, 2.0, 2.0])
    op.set_state({"w": jnp.array([1.0, 0.0, -1.0])})
    np.testing.assert_allclose(op.apply_batch({"x": jnp.ones((2, 3))})["x"], [[1, 0, -1]] * 2)
    with pytest.raises(ConfigError, match=r"missing \[\"\['w'\]\"\], unexpected \[\"\['v'\]\"\]"):
        op.set_state({"v": jnp.zeros(3)})
    with pytest.raises(ConfigError, match=r"has shape \(2,\), expected \(3,\)"):
        op.set_state({"w": jnp.zeros(2)})
    with pytest.raises(TypeError, match="expected a dict"):
        op.set_state([1, 2])  # type: ignore[arg-type]


def test_copy_and_clone() -> None:
    op = Shift(ShiftConfig(field_key="image", delta=0.1), name="shift")
    other = op.copy(config=ShiftConfig(field_key="image", delta=0.2))
    assert isinstance(other, Shift) and other.name == "shift" and other.config.delta == 0.2
    learned = LearnedScale(ModalityOperatorConfig(field_key="x"))
    twin = learned.clone()
    twin.set_state({"w": jnp.zeros(3)})
    np.testing.assert_array_equal(learned.get_state()["w"], [2.0, 2.0, 2.0])


def test_output_structure_and_spec() -> None:
    op = Crop(ModalityOperatorConfig(field_key="x", target_key="y"))
    spec = op.output_spec({"x": jax.ShapeDtypeStruct((2, 3), jnp.float32)})
    assert spec["y"].shape == (2, 2) and spec["x"].shape == (2, 3)
    structure, state = op.get_output_structure({"x": jnp.zeros((2, 3))}, {})
    assert structure == {"x": None, "y": None} and state == {}


def test_compose_map_and_element_operators() -> None:
    chain = Compose(
        [
            MapOperator(MapConfig(field_key="x", fn=lambda v: v * 2)),
            ElementOperator(ElementConfig(fn=lambda e: {**e, "s": jnp.sum(e["x"])})),
            Shift(ShiftConfig(field_key="x", delta=1.0)),
        ]
    )
    out = chain.apply_batch({"x": X, "texts": np.array(["a", "b", "c", "d"])})
    np.testing.assert_allclose(out["x"], np.asarray(X) * 2 + 1.0, rtol=1e-6)
    np.testing.assert_allclose(out["s"], np.asarray(X).sum(axis=(1, 2)) * 2, rtol=1e-5)
    assert list(out["texts"]) == ["a", "b", "c", "d"]  # host fields pass through
    assert chain.output_spec({"x": jax.ShapeDtypeStruct((2, 3), jnp.float32)})["s"].shape == ()


def test_two_identical_stochastic_operators_in_a_chain_draw_differently() -> None:
    cfg = ShiftConfig(field_key="x", stochastic=True, stream_name="augment", delta=0.5)
    zero = jnp.zeros((4, 1))
    keys = jax.random.split(jax.random.key(0), 4)
    one = Compose([Shift(cfg, rngs=augment())]).apply_batch({"x": zero}, keys=keys)["x"]
    two = Compose([Shift(cfg, rngs=augment()), Shift(cfg, rngs=augment())]).apply_batch({"x": zero}, keys=keys)["x"]
    assert not np.allclose(np.asarray(two), 2 * np.asarray(one))


def test_auxiliary_fields_equal_the_list_the_user_passed() -> None:
    config = ModalityOperatorConfig(field_key="image", auxiliary_fields=["mask", "depth"])
    assert config.auxiliary_fields == ["mask", "depth"] and config.auxiliary_fields == ("mask", "depth")
    assert config.auxiliary_fields != ["depth", "mask"]
    assert hash(config.auxiliary_fields) == hash(("mask", "depth"))


@pytest.mark.parametrize("stochastic", [False, True])
def test_operators_map_an_empty_batch_to_an_empty_batch(stochastic: bool) -> None:
    config = ShiftConfig(field_key="x", stochastic=stochastic, stream_name="augment" if stochastic else None)
    op = Shift(config, rngs=nnx.Rngs(0, augment=1))
    out = op.apply_batch({"x": jnp.zeros((0, 3)), "y": jnp.zeros((0,), jnp.int32)})
    assert out["x"].shape == (0, 3) and out["y"].shape == (0,)


def test_a_missing_field_is_a_key_error_and_a_data_error() -> None:
    from modalax import MissingFieldError

    op = Shift(ShiftConfig(field_key="x"), rngs=nnx.Rngs(0))
    with pytest.raises(MissingFieldError, match=r"field 'x': missing 'x'; the data has \['y'\]") as info:
        op.apply_batch({"y": jnp.zeros((2, 3))})
    assert isinstance(info.value, KeyError) and isinstance(info.value, DataError)
