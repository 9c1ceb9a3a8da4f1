"""Configs validate their fields and round-trip through plain dicts; protocol checks."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

import pytest

from modalax import (
    BaseModalityConfig,
    ConfigError,
    ModalaxError,
    ModalityConfiguration,
    create_modality_factory,
    validate_modality_interface,
)
from modalax.plugin import check_positive, coerce_enum


class Colour(enum.Enum):
    RGB = "rgb"
    GRAY = "gray"


@dataclass(frozen=True)
class ToyConfig(BaseModalityConfig):
    colour: Colour = Colour.RGB
    size: int = 8
    scale: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "colour", coerce_enum("ToyConfig", "colour", self.colour, Colour))
        check_positive("ToyConfig", "size", self.size)


def test_round_trip_through_json() -> None:
    cfg = ToyConfig(colour="gray", size=4, scale=(0.5, 2.0))
    assert cfg.colour is Colour.GRAY
    plain = json.loads(json.dumps(cfg.to_dict()))
    assert plain == {"colour": "gray", "size": 4, "scale": [0.5, 2.0]}
    assert ToyConfig.from_dict(plain) == cfg
    meta = ModalityConfiguration(name="text", modality_type="text", metadata={"text_params": {"vocab_size": 9}})
    assert ModalityConfiguration.from_dict(meta.to_dict()) == meta


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size": 0}, r"ToyConfig.size: got 0, expected a positive integer"),
        ({"size": True}, r"ToyConfig.size: got True \(bool\), expected a positive integer"),
        ({"size": 2.5}, r"ToyConfig.size: got 2.5 \(float\)"),
        ({"colour": "cmyk"}, r"ToyConfig.colour: got 'cmyk', expected one of RGB, GRAY"),
    ],
)
def test_invalid_fields_name_field_value_and_expectation(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ToyConfig(**kwargs)


def test_config_error_is_a_value_error_and_modalax_error() -> None:
    with pytest.raises(ValueError):
        ToyConfig(size=-1)
    assert issubclass(ConfigError, ModalaxError)


def test_from_dict_rejects_unknown_fields() -> None:
    with pytest.raises(ConfigError, match=r"unknown field\(s\) 'sise'; expected some of colour, scale, size"):
        ToyConfig.from_dict({"sise": 3})


def test_replace_revalidates() -> None:
    with pytest.raises(ConfigError, match="size"):
        ToyConfig().replace(size=-3)


class GoodModality:
    name = "good"

    def __init__(self, config: ToyConfig, *, rngs: object) -> None:
        self.config = config

    def get_extensions(self, config: object, *, rngs: object) -> dict:
        return {}

    def get_adapter(self, model_cls: type) -> object:
        return model_cls


class WrongSignature:
    name = "bad"

    def get_extensions(self, config: object) -> dict:  # rngs missing
        return {}

    def get_adapter(self, model_cls: type, extra: int) -> object:
        return None


def test_validate_modality_interface_checks_signatures() -> None:
    assert validate_modality_interface(GoodModality(ToyConfig(), rngs=None))
    assert not validate_modality_interface(WrongSignature())
    assert not validate_modality_interface(object())
    with pytest.raises(ConfigError, match=r"missing keyword argument 'rngs'.*extra required argument\(s\) \['extra'\]"):
        validate_modality_interface(WrongSignature(), raise_on_error=True)


def test_create_modality_factory_applies_overrides() -> None:
    factory = create_modality_factory(GoodModality, ToyConfig(size=5))
    assert factory(rngs=None).config.size == 5
    assert factory(rngs=None, size=7).config.size == 7
    with pytest.raises(ConfigError, match="size"):
        factory(rngs=None, size=0)


def test_numpy_scalars_are_accepted_and_stored_as_python() -> None:
    import numpy as np

    cfg = ToyConfig(size=np.int64(4), scale=(np.float32(0.5), 2.0))
    assert cfg == ToyConfig(size=4, scale=(0.5, 2.0))
    assert type(cfg.size) is int and all(type(v) is float for v in cfg.scale)
    assert json.loads(json.dumps(cfg.to_dict()))["size"] == 4
    assert check_positive("X", "n", np.uint8(3)) == 3


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("np.bool_(True)", r"ToyConfig.size: got True \(bool\), expected a positive integer"),
        ("np.float64(4.0)", r"ToyConfig.size: got 4.0 \(float\), expected a positive integer"),
        ("np.int32(-2)", r"ToyConfig.size: got -2, expected a positive integer"),
    ],
)
def test_numpy_scalars_still_validated(value: str, message: str) -> None:
    import numpy as np

    with pytest.raises(ConfigError, match=message):
        ToyConfig(size=eval(value, {"np": np}))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", r"Data.rngs: got 'abc' \(str\), expected nnx.Rngs, an integer seed or None"),
        (2**64, r"Data.rngs: got 18446744073709551616, expected an integer seed in \[0, 2\*\*64\)"),
        (-1, r"Data.rngs: got -1, expected an integer seed"),
        (True, r"Data.rngs: got True \(bool\)"),
        (1.5, r"Data.rngs: got 1.5 \(float\)"),
    ],
)
def test_resolve_rngs_rejects_bad_values(value: object, message: str) -> None:
    from modalax.plugin import resolve_rngs

    with pytest.raises(ConfigError, match=message):
        resolve_rngs("Data.rngs", value)


def test_check_seed_and_resolve_rngs_accept_numpy_and_64_bit_seeds() -> None:
    import jax
    import numpy as np
    from flax import nnx

    from modalax.plugin import check_seed, resolve_rngs, seed_from

    assert check_seed("s", np.uint64(2**64 - 1)) == 2**64 - 1 and type(check_seed("s", np.int8(3))) is int
    with pytest.raises(ConfigError, match=r"loader.seed: got 18446744073709551616"):
        check_seed("loader.seed", 2**64)
    data = jax.random.key_data
    assert np.array_equal(data(resolve_rngs("d", 3).default.key[...]), data(nnx.Rngs(3).default.key[...]))
    rngs = nnx.Rngs(5)
    assert resolve_rngs("d", rngs) is rngs
    assert np.array_equal(data(resolve_rngs("d", seed=np.int64(7)).default.key[...]), data(jax.random.key(7)))
    # every 64 bits count: 2**32 is not seed 0 (jax.random.key would truncate it without x64)
    assert not np.array_equal(data(seed_from(2**32)), data(seed_from(0)))
    assert np.array_equal(data(seed_from(2**32 + 5)), data(jax.random.fold_in(jax.random.key(5), 1)))
    assert np.array_equal(data(seed_from(2**32 - 1)), data(jax.random.key(2**32 - 1)))
