"""Config helpers: round trips through plain dicts (unions, enums, nested configs), checks, seeds."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np
import pytest
from flax import nnx

from modalax import ConfigError
from modalax.plugin import (
    ConfigMixin,
    ModalityConfiguration,
    check_choice,
    check_probability,
    coerce_enum,
    dataset_key,
    plain_scalar,
    seed_from,
    seed_key,
    split_id,
)


class Mode(enum.Enum):
    FAST = "fast"
    EXACT = "exact"


@dataclass(frozen=True)
class Inner(ConfigMixin):
    k: int = 1


@dataclass(frozen=True)
class Plain:  # a nested dataclass without from_dict
    a: int = 0


@dataclass(frozen=True)
class Outer(ConfigMixin):
    mode: Mode = Mode.FAST
    maybe: Mode | None = None
    size: tuple[int, int] = (2, 3)
    inner: Inner = field(default_factory=Inner)
    plain: Plain = field(default_factory=Plain)
    either: int | str = 0


def test_a_config_round_trips_through_a_plain_dict() -> None:
    cfg = Outer(Mode.EXACT, Mode.FAST, (4, 5), Inner(7), Plain(3), "x")
    data = cfg.to_dict()
    assert data == {
        "mode": "exact",
        "maybe": "fast",
        "size": [4, 5],
        "inner": {"k": 7},
        "plain": {"a": 3},
        "either": "x",
    }
    assert Outer.from_dict(data) == cfg
    assert Outer.from_dict({"maybe": None, "mode": "EXACT"}) == Outer(mode=Mode.EXACT)  # names too
    assert Outer.from_dict({"either": 5}).either == 5


def test_from_dict_rejects_unknown_keys_and_non_mappings() -> None:
    with pytest.raises(ConfigError, match=r"Outer: unknown field\(s\) 'modee', 'x'; expected some of either, inner"):
        Outer.from_dict({"modee": "fast", "x": 1})
    with pytest.raises(ConfigError, match=r"Outer.from_dict: got list, expected a mapping"):
        Outer.from_dict([("mode", "fast")])
    with pytest.raises(ConfigError, match=r"Mode.value: got 'slow', expected one of FAST, EXACT"):
        Outer.from_dict({"mode": "slow"})


def test_replace_validates_again() -> None:
    cfg = ModalityConfiguration(name="a", metadata={"k": [1, 2]})
    assert cfg.replace(name="b").name == "b" and cfg.replace(name="b").metadata == {"k": [1, 2]}
    with pytest.raises(ConfigError, match=r"ModalityConfiguration.metadata: got list, expected a dict"):
        cfg.replace(metadata=[1])
    assert hash(cfg) == hash(ModalityConfiguration(name="a", metadata={"k": [1, 2]}))


def test_plain_scalar_converts_numpy_scalars_only() -> None:
    assert type(plain_scalar(np.int64(3))) is int and type(plain_scalar(np.float32(0.5))) is float
    assert plain_scalar(np.bool_(True)) is True
    assert plain_scalar((np.int32(1), 2)) == (1, 2) and type(plain_scalar([np.int8(1)])) is list
    arr = np.arange(2)
    assert plain_scalar(arr) is arr and plain_scalar("x") == "x"


@pytest.mark.parametrize("value", [0, 0.5, 1, np.float64(0.25)])
def test_check_probability_accepts_0_to_1(value: Any) -> None:
    assert check_probability("Aug", "p", value) == value


@pytest.mark.parametrize("value", [-0.1, 1.5, "0.5", None, True])
def test_check_probability_rejects_others(value: Any) -> None:
    with pytest.raises(
        ConfigError, match=rf"Aug\.p: got {re.escape(repr(value))}( \(\w+\))?, expected a number in \[0, 1\]"
    ):
        check_probability("Aug", "p", value)


def test_check_choice_and_coerce_enum() -> None:
    check_choice("Op", "mode", "scan", ["vmap", "scan"])
    with pytest.raises(ConfigError, match=r"Op.mode: unknown value 'vamp'; available: scan, vmap; did you mean 'vmap'"):
        check_choice("Op", "mode", "vamp", ["vmap", "scan"])
    assert coerce_enum("C", "m", Mode.FAST, Mode) is Mode.FAST
    assert coerce_enum("C", "m", "exact", Mode) is Mode.EXACT and coerce_enum("C", "m", "Fast", Mode) is Mode.FAST
    with pytest.raises(ConfigError, match=r"C.m: got 3, expected one of FAST, EXACT"):
        coerce_enum("C", "m", 3, Mode)


# ------------------------------------------------------------------ seeds
def test_split_ids_are_stable() -> None:
    assert [split_id(s) for s in ("train", "val", "validation", "test")] == [0, 1, 1, 2]
    assert split_id("holdout") == split_id("holdout") >= 3 and split_id("holdout") != split_id("extra")


def test_seed_from_accepts_ints_keys_raw_keys_and_rngs() -> None:
    base = seed_key(5)
    same = [seed_from(5), seed_from(np.int64(5)), seed_from(base), seed_from(jax.random.key_data(base))]
    for key in same:
        assert jax.random.key_data(key).tolist() == jax.random.key_data(base).tolist()
    rngs = nnx.Rngs(default=5, augment=6)
    assert jax.random.key_data(seed_from(rngs, "augment")).tolist() == jax.random.key_data(seed_key(6)).tolist()
    assert jax.random.key_data(seed_from(rngs, "other")).tolist() == jax.random.key_data(base).tolist()
    before = jax.random.key_data(seed_from(rngs)).tolist()
    assert jax.random.key_data(seed_from(rngs)).tolist() == before  # reading does not advance the stream


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, r"seed: got True, expected an int, a PRNG key or nnx.Rngs"),
        ("5", r"seed: got str, expected an int, a PRNG key or nnx.Rngs"),
        (nnx.Rngs(augment=1), r"rngs: has no stream 'default' nor 'default'"),
    ],
)
def test_seed_from_rejects_other_values(value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        seed_from(value)


def test_dataset_keys_differ_by_split_and_salt() -> None:
    keys = [dataset_key(1, "train"), dataset_key(1, "test"), dataset_key(1, "train", "aug"), dataset_key(2, "train")]
    data = {tuple(jax.random.key_data(k).tolist()) for k in keys}
    assert len(data) == 4
    assert jax.random.key_data(dataset_key(1, "train", "")).tolist() == jax.random.key_data(keys[0]).tolist()
