"""Adapters that build cross-modal models from the modality configs.

A model's shapes come from a ``MultiModalConfig`` (through the image, text and audio
pairings), or from the configs of the modality plugins: the image config (its
``image_shape``), the text config (read by the text modality: vocabulary, length, special ids)
and the audio config (sample rate and ``n_time_steps``).  The config classes and the text
modality are looked up in the registry (``get_modality_record(name).config_class``,
``get_modality("text")``) when a config is read; no modality plugin is imported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from flax import nnx

from modalax.plugin import BaseModelAdapter, ConfigError, get_modality, get_modality_record, resolve
from modalax_multimodal.config import DEFAULT_MODALITIES, MultiModalConfig
from modalax_multimodal.generators import ImageToTextGenerator, TextToAudioGenerator, TextToImageGenerator
from modalax_multimodal.models import MultiModalModel

__all__ = [
    "ADAPTERS",
    "CrossModalShapes",
    "ImageToTextAdapter",
    "MultiModalAdapter",
    "TextToAudioAdapter",
    "TextToImageAdapter",
    "adapter_for",
    "shapes_from",
]


@dataclass(frozen=True)
class CrossModalShapes:
    """What cross-modal models need to know about each modality."""

    image_shape: tuple[int, int, int] = (32, 32, 3)
    vocab_size: int = 1000
    max_length: int = 50
    pad_token_id: int = 0
    bos_token_id: int = 2
    audio_length: int = 16000
    sample_rate: int = 16000


def _config_class(modality: str) -> type:
    return resolve(get_modality_record(modality).config_class)


def _checked(modality: str, config: Any) -> Any:
    cls = _config_class(modality)
    if not isinstance(config, cls):
        public = f"{cls.__module__.split('.')[0]}.{cls.__name__}"
        raise ConfigError(f"{modality} config: got {type(config).__name__}, expected {public}")
    return config


def _image_fields(config: Any) -> dict[str, Any]:
    return {"image_shape": tuple(_checked("image", config).image_shape)}


def _text_fields(config: Any) -> dict[str, Any]:
    text = get_modality("text")(config)  # the text modality reads its own config (ConfigError if it cannot)
    return {
        "vocab_size": text.vocab_size,
        "max_length": text.max_length,
        "pad_token_id": text.pad_token_id,
        "bos_token_id": text.bos_token_id,
    }


def _audio_fields(config: Any) -> dict[str, Any]:
    audio = _checked("audio", config)
    return {"audio_length": audio.n_time_steps, "sample_rate": audio.sample_rate}


_READERS = {"image": _image_fields, "text": _text_fields, "audio": _audio_fields}


def shapes_from(
    config: Any = None, *, image_config: Any = None, text_config: Any = None, audio_config: Any = None
) -> CrossModalShapes:
    """Shapes from a ``MultiModalConfig``, a ``{"image": cfg, "text": cfg, "audio": cfg}`` dict, or keywords."""
    fields: dict[str, Any] = {}
    per_modality: dict[str, Any] = {}
    if isinstance(config, MultiModalConfig):
        image, text, audio = (config.pairing(m) for m in DEFAULT_MODALITIES)
        fields.update(
            image_shape=tuple(image.sample_shape),
            vocab_size=text.options()["vocab_size"],
            max_length=text.sample_shape[0],
            audio_length=audio.sample_shape[0],
            sample_rate=audio.options()["sample_rate"],
        )
    elif isinstance(config, Mapping):
        unknown = sorted(set(config) - set(DEFAULT_MODALITIES))
        if unknown:
            raise ConfigError(f"config: unknown modality key(s) {unknown}; expected some of {list(DEFAULT_MODALITIES)}")
        per_modality.update(config)
    elif config is not None:
        raise ConfigError(
            f"config: got {type(config).__name__}, expected a MultiModalConfig, a dict of modality configs or None"
        )
    for name, value in (("image", image_config), ("text", text_config), ("audio", audio_config)):
        if value is not None:
            per_modality[name] = value
    for name, value in per_modality.items():
        fields.update(_READERS[name](value))
    return CrossModalShapes(**fields)


def _require(shapes_given: Any, kwargs: Mapping[str, Any]) -> CrossModalShapes:
    keys = ("image_config", "text_config", "audio_config")
    return shapes_from(shapes_given, **{k: kwargs.get(k) for k in keys})


def _model_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k not in ("image_config", "text_config", "audio_config")}


class _Adapter(BaseModelAdapter):
    """The adapter contract: ``Adapter(model_cls=None, config=None).create(config=None, *, rngs)``.

    ``model_cls`` None (or a subclass of the plugin's model) builds the plugin's model from the
    shapes of ``config`` (a ``MultiModalConfig``, or modality configs passed to ``create``); any
    other nnx class is called as ``model_cls(*config, shapes=CrossModalShapes(...), rngs=rngs)``.
    """

    config_class = MultiModalConfig
    model_class: ClassVar[type]

    def __init__(self, model_cls: type | None = None, config: MultiModalConfig | None = None) -> None:
        super().__init__(self.model_class if model_cls is None else model_cls, config)
        self._given = config is not None

    def create(self, config: Any = None, *, rngs: nnx.Rngs, **kwargs: Any) -> Any:
        """Build the model (``config``: a ``MultiModalConfig`` or a dict of modality configs; None: the adapter's)."""
        chosen = config if config is not None else (self.config if self._given else None)
        if issubclass(self.model_cls, self.model_class):
            return self.build(chosen, rngs=rngs, **kwargs)
        shapes = _require(chosen, kwargs)
        args = () if config is None else (config,)
        return self.model_cls(*args, shapes=shapes, rngs=rngs, **_model_kwargs(kwargs))

    def build(self, config: Any, *, rngs: nnx.Rngs, **kwargs: Any) -> Any:
        """The plugin's own model from ``config``."""
        raise NotImplementedError


class TextToImageAdapter(_Adapter):
    """Builds ``TextToImageGenerator`` from the text and image configs."""

    model_class = TextToImageGenerator

    def build(self, config: Any, *, rngs: nnx.Rngs, **kwargs: Any) -> Any:
        """``embed_dim`` (default 256) and ``hidden_dim`` (512) may be passed as keywords."""
        s = _require(config, kwargs)
        kw = {"embed_dim": 256, "hidden_dim": 512, **_model_kwargs(kwargs)}
        return self.model_cls(
            s.vocab_size,
            kw.pop("embed_dim"),
            s.image_shape,
            kw.pop("hidden_dim"),
            pad_token_id=s.pad_token_id,
            rngs=rngs,
            **kw,
        )


class ImageToTextAdapter(_Adapter):
    """Builds ``ImageToTextGenerator`` from the image and text configs (``max_length`` from the text config)."""

    model_class = ImageToTextGenerator

    def build(self, config: Any, *, rngs: nnx.Rngs, **kwargs: Any) -> Any:
        """``hidden_dim`` (default 512) may be passed as a keyword."""
        s = _require(config, kwargs)
        kw = {"hidden_dim": 512, **_model_kwargs(kwargs)}
        return self.model_cls(
            s.image_shape,
            s.vocab_size,
            s.max_length,
            kw.pop("hidden_dim"),
            bos_token_id=s.bos_token_id,
            rngs=rngs,
            **kw,
        )


class TextToAudioAdapter(_Adapter):
    """Builds ``TextToAudioGenerator`` from the text and audio configs (length = rate x duration)."""

    model_class = TextToAudioGenerator

    def build(self, config: Any, *, rngs: nnx.Rngs, **kwargs: Any) -> Any:
        """``embed_dim`` (default 256) and ``hidden_dim`` (1024) may be passed as keywords."""
        s = _require(config, kwargs)
        kw = {"embed_dim": 256, "hidden_dim": 1024, **_model_kwargs(kwargs)}
        return self.model_cls(
            s.vocab_size,
            kw.pop("embed_dim"),
            s.audio_length,
            kw.pop("hidden_dim"),
            pad_token_id=s.pad_token_id,
            rngs=rngs,
            **kw,
        )


class MultiModalAdapter(_Adapter):
    """Builds ``MultiModalModel`` (encoders + fusion + contrastive loss) for the configured modalities."""

    model_class = MultiModalModel

    def build(self, config: Any, *, rngs: nnx.Rngs, **kwargs: Any) -> Any:
        """From a ``MultiModalConfig`` directly (None: the defaults), or from modality configs (their modalities)."""
        model_kw = _model_kwargs(kwargs)
        if config is None and not any(k in kwargs for k in ("image_config", "text_config", "audio_config")):
            config = MultiModalConfig()
        if isinstance(config, MultiModalConfig) and not any(
            k in kwargs for k in ("image_config", "text_config", "audio_config")
        ):
            return self.model_cls(config, rngs=rngs, **model_kw)
        given = dict(config) if isinstance(config, Mapping) else {}
        for name in DEFAULT_MODALITIES:
            if kwargs.get(f"{name}_config") is not None:
                given[name] = kwargs[f"{name}_config"]
        if not given:
            raise ConfigError("MultiModalAdapter.create: expected a MultiModalConfig or modality configs")
        s = shapes_from(given)
        mm = MultiModalConfig(
            modalities=tuple(m for m in DEFAULT_MODALITIES if m in given),
            image_shape=s.image_shape if "image" in given else None,
            text_vocab_size=s.vocab_size if "text" in given else None,
            text_sequence_length=s.max_length if "text" in given else None,
            audio_sample_rate=s.sample_rate if "audio" in given else None,
            audio_duration=s.audio_length / s.sample_rate if "audio" in given else None,
            **{k: model_kw.pop(k) for k in ("embed_dim", "fusion", "num_heads") if k in model_kw},
        )
        return self.model_cls(mm, rngs=rngs, **model_kw)


#: Model family -> adapter class, as registered with ``modalax.get_adapter("multimodal", family)``.
ADAPTERS: dict[str, type] = {
    "default": MultiModalAdapter,
    "text_to_image": TextToImageAdapter,
    "image_to_text": ImageToTextAdapter,
    "text_to_audio": TextToAudioAdapter,
}

_BY_MODEL = {
    MultiModalModel: MultiModalAdapter,
    TextToImageGenerator: TextToImageAdapter,
    ImageToTextGenerator: ImageToTextAdapter,
    TextToAudioGenerator: TextToAudioAdapter,
}


def adapter_for(model_cls: type) -> Any:
    """The adapter that builds ``model_cls``: the matching family for this plugin's model classes,
    else the default adapter, which calls a model class of your own with the shapes."""
    for cls, adapter in _BY_MODEL.items():
        if isinstance(model_cls, type) and issubclass(model_cls, cls):
            return adapter(model_cls)
    return MultiModalAdapter(model_cls)
