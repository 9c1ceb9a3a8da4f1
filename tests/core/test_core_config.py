"""Configs validate their fields and round-trip through plain dicts; protocol checks."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

import pytest

from modalax import (
    BaseModalityConfig,
    ConfigError,
    ModalityConfiguration,
    create_modality_factory,
    validate_modality_interface,
)
from modalax.config import check_positive, coerce_enum
from modalax.errors import ModalaxError


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
