"""ImageModalityConfig and the operator configs: defaults, validation, round trips."""

from __future__ import annotations

import json

import pytest

from modalax import ConfigError
from modalax_image import ImageModalityConfig, ImageRepresentation, ResizeMethod
from modalax_image.operator_configs import (
    BrightnessConfig,
    ContrastConfig,
    CropConfig,
    FlipConfig,
    GaussianNoiseConfig,
    NormalizeConfig,
    ResizeConfig,
    RotateConfig,
)


def test_defaults_follow_the_seed():
    cfg = ImageModalityConfig()
    assert cfg.representation is ImageRepresentation.RGB
    assert (cfg.height, cfg.width, cfg.channels) == (64, 64, 3)
    assert cfg.normalize is True and cfg.augmentation is False
    assert cfg.resize_method == "bilinear" and cfg.resize_method is ResizeMethod.BILINEAR
    assert cfg.image_shape == (64, 64, 3)
    assert cfg.value_range == (0.0, 1.0)
    assert ImageModalityConfig(normalize=False).value_range == (-1.0, 1.0)


@pytest.mark.parametrize(("rep", "channels"), [("rgb", 3), ("RGBA", 4), (ImageRepresentation.GRAYSCALE, 1)])
def test_channels_come_from_the_representation(rep, channels):
    cfg = ImageModalityConfig(representation=rep, height=8, width=5)
    assert cfg.channels == channels
    assert cfg.image_shape == (8, 5, channels)


def test_round_trip_through_json():
    cfg = ImageModalityConfig(representation="grayscale", height=28, resize_method="NEAREST", augmentation=True)
    data = json.loads(json.dumps(cfg.to_dict()))
    assert data["representation"] == "grayscale" and data["resize_method"] == "nearest"
    assert ImageModalityConfig.from_dict(data) == cfg


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"height": 0}, r"height: got 0, expected a positive integer"),
        ({"height": 32, "width": -3}, r"width: got -3, expected a positive integer"),
        ({"height": 2.5}, r"height: got 2.5 \(float\), expected a positive integer"),
        ({"channels": 1}, r"channels: got 1 with representation RGB, expected 3"),
        ({"representation": "GRAYSCALE", "channels": 3}, r"channels: got 3 with representation GRAYSCALE, expected 1"),
        ({"representation": "cmyk"}, r"representation: got 'cmyk', expected one of RGB, RGBA, GRAYSCALE"),
        ({"resize_method": "bicubic"}, r"resize_method: got 'bicubic', expected one of 'bilinear', 'nearest'"),
        ({"normalize": "yes"}, r"normalize: got 'yes' \(str\), expected a bool"),
        ({"augmentation": 1}, r"augmentation: got 1 \(int\), expected a bool"),
    ],
)
def test_invalid_configs_name_field_value_and_expectation(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ImageModalityConfig(**kwargs)


def test_config_errors_are_value_errors():
    with pytest.raises(ValueError):
        ImageModalityConfig(height=-1)


def test_operator_config_defaults_and_fixed_forms():
    flip = FlipConfig()
    assert flip.field_key == "images" and flip.stochastic and flip.stream_name == "augment"
    assert ResizeConfig(height=16).width == 16 and not ResizeConfig(height=16).stochastic
    assert CropConfig(height=8, width=4).width == 4
    assert NormalizeConfig().input_range is None  # from the dtype: uint8 (0, 255), float (0, 1)
    assert FlipConfig(stochastic=False).stochastic is False


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: ResizeConfig(height=0), r"ResizeConfig.height: got 0"),
        (lambda: ResizeConfig(height=4, method="cubic"), r"ResizeConfig.method: unknown value 'cubic'"),
        (lambda: FlipConfig(probability=1.5), r"FlipConfig.probability: got 1.5, expected a number in \[0, 1\]"),
        (lambda: FlipConfig(direction="diagonal"), r"FlipConfig.direction: unknown value 'diagonal'"),
        (lambda: BrightnessConfig(max_delta=-0.1), r"max_delta: got -0.1, expected a finite number >= 0.0"),
        (lambda: ContrastConfig(lower=1.5, upper=1.0), r"lower=1.5 > upper=1.0"),
        (lambda: RotateConfig(max_angle=float("nan")), r"RotateConfig.max_angle: got nan"),
        (lambda: GaussianNoiseConfig(stochastic=False), r"stochastic: got False, expected True"),
        (lambda: NormalizeConfig(input_range=(1.0, 0.0)), r"input_range: got \(1.0, 0.0\)"),
        (lambda: FlipConfig(stream_name=None), r"stream_name: got None with stochastic=True"),
    ],
)
def test_invalid_operator_configs(factory, match):
    with pytest.raises(ConfigError, match=match):
        factory()
