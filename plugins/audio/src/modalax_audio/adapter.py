"""The audio model adapter: build a user's nnx model with the audio config's shapes.

``AudioModelAdapter(model_cls, config).create(model_config=None, *, rngs, **kwargs)`` keeps the
contract of ``modalax.plugin.BaseModelAdapter``, so generic code builds an audio model as it
builds any other::

    adapter = modalax.get_adapter("audio")(model_cls, AudioModalityConfig(sample_rate=8000))
    model = adapter.create(rngs=nnx.Rngs(0))

``model_cls`` receives, as keywords, the audio sizes its constructor declares (``output_shape``,
the shape of one sample in the configured representation; ``sample_rate``; ``n_time_steps``;
``audio_config``, the whole config; all but ``audio_config`` when it takes ``**kwargs``). A
``model_config`` given to ``create`` is passed first, positionally. A model that is a
``GenerativeModel`` already is returned as built; any other module is wrapped in ``AudioModel``
(outputs checked against ``(batch, *output_shape)``, the modality's loss). With no
``model_cls`` (or an ``AudioModality`` subclass) the adapter builds the modality itself, from
the adapter's config or an ``AudioModalityConfig`` given to ``create``. Inspecting the
constructor costs one ``inspect.signature`` per ``create``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import jax.numpy as jnp
from flax import nnx

from modalax.plugin import BaseModelAdapter, ConfigError, DataError, GenerativeModel
from modalax_audio.config import AudioModalityConfig, check_config
from modalax_audio.modality import AudioModality

__all__ = ["SIZE_KWARGS", "AudioModel", "AudioModelAdapter"]

#: Audio sizes handed to ``model_cls`` when its constructor declares them (or takes ``**kwargs``).
SIZE_KWARGS = ("output_shape", "sample_rate", "n_time_steps")


def _sizes(config: AudioModalityConfig) -> dict[str, Any]:
    return {
        "output_shape": AudioModality(config).output_shape,
        "sample_rate": config.sample_rate,
        "n_time_steps": config.n_time_steps,
    }


def _init_signature(model_cls: type) -> inspect.Signature | None:
    try:
        # the class's own __init__: nnx's metaclass __call__ hides it behind (*args, **kwargs)
        return inspect.signature(model_cls.__init__)  # type: ignore[misc]
    except (TypeError, ValueError):
        return None


class AudioModel(GenerativeModel):
    """Any nnx audio model as an audio ``GenerativeModel`` (what ``AudioModelAdapter`` wraps).

    Calling it calls the model and checks its output against ``(batch, *output_shape)`` of the
    audio config; ``loss_fn`` is ``AudioModality.loss_fn`` (waveforms: MSE plus the STFT loss;
    spectra: MSE in dB); ``generate`` calls the model's own ``generate`` and checks its shape.
    """

    def __init__(self, model: Any, config: AudioModalityConfig) -> None:
        self.model = model
        self.config = config
        self.output_shape = AudioModality(config).output_shape

    def _checked(self, out: Any, what: str, batch: int | None = None) -> Any:
        shape = tuple(jnp.shape(out))
        if shape[1:] != self.output_shape or (batch is not None and shape[:1] != (batch,)):
            lead = "batch" if batch is None else str(batch)
            raise DataError(
                f"{type(self.model).__name__}.{what}: got output of shape {shape}, expected ({lead}, "
                f"*{self.output_shape}) for the audio config ({self.config.representation.value}, "
                f"{self.config.n_time_steps} samples at {self.config.sample_rate} Hz)"
            )
        return out

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The wrapped model's output, checked to be ``(batch, *output_shape)``."""
        return self._checked(self.model(*args, **kwargs), "__call__")

    def loss_fn(self, batch: Any, model_outputs: Any, **kwargs: Any) -> Any:
        """``AudioModality.loss_fn`` of ``model_outputs`` against ``batch["audio"]``."""
        return AudioModality(self.config).loss_fn(batch, model_outputs, **kwargs)

    def generate(self, n_samples: int = 1, *, rngs: nnx.Rngs | None = None, **kwargs: Any) -> Any:
        """The wrapped model's ``generate``, checked to be ``(n_samples, *output_shape)``."""
        generate = getattr(self.model, "generate", None)
        if generate is None:
            raise NotImplementedError(f"{type(self.model).__name__} has no generate(); AudioModel cannot sample it")
        return self._checked(generate(n_samples, rngs=rngs, **kwargs), "generate", n_samples)


class AudioModelAdapter(BaseModelAdapter):
    """Builds audio models: ``AudioModelAdapter(model_cls=None, config=None).create(model_config=None, *, rngs)``.

    ``model_cls`` is an nnx model class (None: ``AudioModality``); ``config`` an
    ``AudioModalityConfig`` (a dict of its fields, or None for the defaults). Anything else is
    a ``ConfigError`` naming the argument.
    """

    config_class = AudioModalityConfig
    config: AudioModalityConfig

    def __init__(
        self,
        model_cls: type | None = None,
        config: AudioModalityConfig | None = None,
        *,
        audio_config: AudioModalityConfig | None = None,
    ) -> None:
        if audio_config is not None:  # the keyword's earlier name
            if config is not None:
                raise ConfigError(
                    f"{type(self).__name__}: got config and audio_config; expected one of them (the same argument)"
                )
            config = audio_config
        if isinstance(config, Mapping):
            config = check_config(dict(config), type(self).__name__)
        super().__init__(AudioModality if model_cls is None else model_cls, config)

    @property
    def audio_config(self) -> AudioModalityConfig:
        """The audio config the models are shaped by (the earlier name of ``config``)."""
        return self.config

    def create(self, config: Any = None, *, rngs: nnx.Rngs, **kwargs: Any) -> GenerativeModel:
        """A model shaped by the audio config; ``config`` is the model's own config, passed first when given.

        ``audio_config=`` overrides the adapter's config for this model.
        """
        owner = f"{type(self).__name__}.create"
        audio = self.config
        if "audio_config" in kwargs:
            audio = check_config(kwargs.pop("audio_config"), owner)
        cls = self.model_cls
        args: tuple[Any, ...] = () if config is None else (config,)
        sizes: dict[str, Any] = {}
        if issubclass(cls, AudioModality):  # the modality is the model: its config is the audio config
            if config is not None and not isinstance(config, AudioModalityConfig):
                raise ConfigError(
                    f"{owner}.config: got {type(config).__name__} for {cls.__name__}, expected an "
                    "AudioModalityConfig or None (the adapter's config)"
                )
            args = (audio if config is None else config,)
        else:
            sizes = self._model_sizes(audio)
        for key, value in kwargs.items():
            if key in sizes and value != sizes[key]:
                raise ConfigError(
                    f"{owner}.{key}: got {value!r}, but the audio config gives {key}={sizes[key]!r}; "
                    "expected the sizes from the audio config (change it there)"
                )
        options = {**sizes, **kwargs, "rngs": rngs}
        signature = _init_signature(cls)
        if signature is not None:
            try:
                signature.bind(None, *args, **options)  # None stands for self
            except TypeError as exc:
                raise ConfigError(
                    f"{owner}: {cls.__name__}{signature} cannot take {len(args)} positional argument(s) and "
                    f"keywords {sorted(options)} ({exc}); expected a constructor taking the model config (when "
                    "given) and rngs"
                ) from None
        model = cls(*args, **options)
        return model if isinstance(model, GenerativeModel) else AudioModel(model, audio)

    def _model_sizes(self, audio: AudioModalityConfig) -> dict[str, Any]:
        signature = _init_signature(self.model_cls)
        if signature is None:
            return {}
        declared = signature.parameters
        open_kwargs = any(p.kind is p.VAR_KEYWORD for p in declared.values())
        sizes = {k: v for k, v in _sizes(audio).items() if k in declared or open_kwargs}
        if "audio_config" in declared:
            sizes["audio_config"] = audio
        return sizes
