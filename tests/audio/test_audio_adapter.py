"""The audio adapter keeps BaseModelAdapter's contract: built through the registry, shaped by the config."""

from __future__ import annotations

import warnings
from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import modalax
from modalax import ConfigError, DataError
from modalax.plugin import BaseModelAdapter, GenerativeModel
from modalax_audio import AudioModality, AudioModalityConfig, AudioModel, AudioModelAdapter

WAVE = AudioModalityConfig(sample_rate=8000, duration=0.1)
MEL = AudioModalityConfig(representation="mel_spectrogram", sample_rate=8000, duration=0.25, n_fft=256, hop_length=64)


class Linear(nnx.Module):
    """A model that declares the sizes it wants (an nnx class: its signature hides behind nnx's metaclass)."""

    def __init__(self, hidden: int = 4, *, rngs: nnx.Rngs, output_shape: tuple[int, ...], sample_rate: int) -> None:
        self.layer = nnx.Linear(output_shape[-1], output_shape[-1], rngs=rngs)
        self.hidden, self.output_shape, self.sample_rate = hidden, output_shape, sample_rate

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        return self.layer(x)


class Open(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs, **sizes: Any) -> None:
        self.sizes = sizes


class WithConfig(nnx.Module):
    def __init__(self, config: dict[str, int], *, rngs: nnx.Rngs, audio_config: AudioModalityConfig) -> None:
        self.width, self.audio_config = config["width"], audio_config


class Wrong(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.layer = nnx.Linear(4, 3, rngs=rngs)

    def __call__(self, x: jnp.ndarray) -> jnp.ndarray:
        return self.layer(x)

    def generate(self, n_samples: int = 1, *, rngs: Any = None) -> jnp.ndarray:
        return jnp.zeros((n_samples, 3))


def test_the_registry_adapter_builds_the_modality_by_default() -> None:
    cls = modalax.get_adapter("audio")
    assert cls is AudioModelAdapter and issubclass(cls, BaseModelAdapter) and cls.config_class is AudioModalityConfig
    model = cls(None, WAVE).create(rngs=nnx.Rngs(0))
    assert type(model) is AudioModality and model.config == WAVE
    other = WAVE.replace(duration=0.2)
    assert cls(None, WAVE).create(other, rngs=nnx.Rngs(0)).config == other  # the modality's config is its model config
    assert cls().config == AudioModalityConfig() and cls(None, {"sample_rate": 8000}).config.sample_rate == 8000


def test_create_passes_the_audio_sizes_the_model_declares() -> None:
    adapter = modalax.get_adapter("audio")(Linear, MEL)
    model = adapter.create(rngs=nnx.Rngs(0))
    assert isinstance(model, AudioModel) and isinstance(model, GenerativeModel)
    assert model.model.output_shape == (MEL.n_mel_channels, MEL.n_time_frames) == AudioModality(MEL).output_shape
    assert model.model.sample_rate == 8000 and model.model.hidden == 4
    assert adapter.create(16, rngs=nnx.Rngs(0)).model.hidden == 16  # the model config is passed first
    sizes = AudioModelAdapter(Open, WAVE).create(rngs=nnx.Rngs(0)).model.sizes
    assert sizes == {"output_shape": (800,), "sample_rate": 8000, "n_time_steps": 800}
    built = AudioModelAdapter(WithConfig, WAVE).create({"width": 8}, rngs=nnx.Rngs(0)).model
    assert built.width == 8 and built.audio_config is WAVE


def test_the_modality_returns_the_same_adapter() -> None:
    adapter = AudioModality(MEL).get_adapter(Linear)
    assert isinstance(adapter, AudioModelAdapter) and adapter.model_cls is Linear and adapter.config is MEL
    a = adapter.create(rngs=nnx.Rngs(0))
    b = modalax.get_adapter("audio")(Linear, MEL).create(rngs=nnx.Rngs(0))
    x = jnp.ones((2, *a.output_shape))
    np.testing.assert_array_equal(a(x), b(x))  # same rngs, same parameters


def test_the_wrapper_checks_outputs_and_scores_with_the_modality_loss() -> None:
    model = AudioModelAdapter(Linear, WAVE).create(rngs=nnx.Rngs(0))
    clips = jnp.asarray(np.random.default_rng(0).uniform(-0.5, 0.5, (2, 800)), jnp.float32)
    out = model(clips)
    assert out.shape == (2, 800)
    assert float(model.loss_fn({"audio": clips}, out)) == pytest.approx(
        float(AudioModality(WAVE).loss_fn({"audio": clips}, out)), rel=1e-6
    )
    wrong = AudioModelAdapter(Wrong, WAVE).create(rngs=nnx.Rngs(0))
    with pytest.raises(
        DataError, match=r"Wrong.__call__: got output of shape \(2, 3\), expected \(batch, \*\(800,\)\)"
    ):
        wrong(jnp.ones((2, 4)))
    with pytest.raises(DataError, match=r"Wrong.generate: got output of shape \(5, 3\), expected \(5, \*\(800,\)\)"):
        wrong.generate(5)
    with pytest.raises(NotImplementedError, match="Linear has no generate"):
        model.generate(2)


def test_audio_config_overrides_the_adapters_for_one_model() -> None:
    model = AudioModelAdapter(Linear, WAVE).create(rngs=nnx.Rngs(0), audio_config=WAVE.replace(duration=0.05))
    assert model.model.output_shape == (400,) and model.output_shape == (400,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert AudioModelAdapter(Linear, WAVE).audio_config is WAVE
        assert AudioModelAdapter(Linear, audio_config=WAVE).config is WAVE  # the keyword's earlier name


BAD = [
    (
        "config twice",
        lambda: AudioModelAdapter(Linear, WAVE, audio_config=WAVE),
        r"got config and audio_config; expected one of them",
    ),
    (
        "modality given model options",
        lambda: AudioModelAdapter(None, WAVE).create(rngs=nnx.Rngs(0), width=3),
        r"AudioModality.*cannot take 1 positional argument\(s\) and keywords \['rngs', 'width'\]",
    ),
    (
        "model_cls not a class",
        lambda: AudioModelAdapter("Linear"),
        r"AudioModelAdapter.model_cls: got 'Linear', expected an nnx model class",
    ),
    (
        "config of another modality",
        lambda: AudioModelAdapter(Linear, object()),
        r"AudioModelAdapter.config: got object, expected an instance of AudioModalityConfig",
    ),
    ("bad config dict", lambda: AudioModelAdapter(Linear, {"sample_rate": -1}), r"sample_rate"),
    (
        "size that disagrees",
        lambda: AudioModelAdapter(Linear, WAVE).create(rngs=nnx.Rngs(0), sample_rate=16000),
        r"create.sample_rate: got 16000, but the audio config gives sample_rate=8000",
    ),
    (
        "modality given a model config",
        lambda: AudioModelAdapter(None, WAVE).create({"width": 3}, rngs=nnx.Rngs(0)),
        r"create.config: got dict for AudioModality, expected an AudioModalityConfig",
    ),
    (
        "constructor without a config",
        lambda: AudioModelAdapter(Open, WAVE).create({"width": 3}, rngs=nnx.Rngs(0)),
        r"Open.*cannot take 1 positional argument",
    ),
    (
        "constructor needing a config",
        lambda: AudioModelAdapter(WithConfig, WAVE).create(rngs=nnx.Rngs(0)),
        r"WithConfig.*cannot take 0 positional argument",
    ),
]


@pytest.mark.parametrize(("what", "attempt", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_adapter_arguments_are_config_errors(what: str, attempt: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        attempt()
