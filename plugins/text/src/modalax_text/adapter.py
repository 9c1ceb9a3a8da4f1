"""The text model adapter: build a user's nnx language model with the text sizes.

``TextAdapter(model_cls, config).create(model_config=None, *, rngs, **kwargs)`` keeps the
contract of ``modalax.plugin.BaseModelAdapter``, so generic code builds a text model as it
builds any other::

    adapter = modalax.get_adapter("text")(model_cls, text_config(vocab_size=64, max_length=16))
    model = adapter.create(rngs=nnx.Rngs(0))

``model_cls`` receives, as keywords, the text sizes its constructor declares (``vocab_size``,
``max_length``, ``pad_token_id``, ``unk_token_id``, ``bos_token_id``, ``eos_token_id``, or the
whole ``text_params``; all the sizes when it takes ``**kwargs``).  A dict ``model_config``
adds hyper-parameters as keywords (``{"embed_dim": 32}``); any other model config object is
passed first, positionally.  A model that is a ``GenerativeModel`` already (the default
``TextLanguageModel``) is returned as built; any other module is wrapped in ``TextModel``
(logits checked, next-token loss, sampling).  Inspecting the constructor costs one
``inspect.signature`` per ``create``.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping
from typing import Any

import jax
from flax import nnx

from modalax.plugin import BaseModelAdapter, ConfigError, GenerativeModel, ModalityConfiguration
from modalax_text.model import TextLanguageModel, TextModel, cross_entropy_loss
from modalax_text.params import TextParams, text_params_from

__all__ = ["SIZE_KWARGS", "TextAdapter", "TextLanguageModel", "TextModel", "cross_entropy_loss"]

#: Text sizes handed to ``model_cls`` when its constructor declares them.
SIZE_KWARGS = ("vocab_size", "max_length", "pad_token_id", "unk_token_id", "bos_token_id", "eos_token_id")
_CONFIG_TYPES = (TextParams, ModalityConfiguration, Mapping)


def _size_kwargs(model_cls: Any, params: TextParams) -> dict[str, Any]:
    """The sizes (and ``text_params``) that ``model_cls``'s constructor accepts."""
    try:
        # the class's own __init__: nnx's metaclass __call__ hides it behind (*args, **kwargs)
        declared = inspect.signature(model_cls.__init__).parameters
    except (TypeError, ValueError):
        return {}
    open_kwargs = any(p.kind is p.VAR_KEYWORD for p in declared.values())
    sizes: dict[str, Any] = {k: getattr(params, k) for k in SIZE_KWARGS if k in declared or open_kwargs}
    if "text_params" in declared:
        sizes["text_params"] = params
    return sizes


class TextAdapter(BaseModelAdapter):
    """Builds text models: ``TextAdapter(model_cls, config).create(model_config=None, *, rngs)``.

    ``model_cls`` is an nnx model class (None: ``TextLanguageModel``); ``config`` the text
    modality config: a ``TextParams``, a ``ModalityConfiguration`` with
    ``metadata["text_params"]``, a dict of text params, or None (the defaults).  Anything else
    is a ``ConfigError`` naming the argument.  ``params`` is the validated ``TextParams``.
    """

    config_class = TextParams

    def __init__(self, model_cls: type | None = None, config: Any = None) -> None:
        if isinstance(model_cls, _CONFIG_TYPES) and (config is None or isinstance(config, type)):
            warnings.warn(
                "TextAdapter(config, model_cls) is deprecated; pass the model class first: "
                "TextAdapter(model_cls, config) (None builds TextLanguageModel)",
                DeprecationWarning,
                stacklevel=2,
            )
            model_cls, config = config, model_cls
        if isinstance(model_cls, nnx.Module):
            name = type(model_cls).__name__
            raise ConfigError(
                f"TextAdapter.model_cls: got a {name} instance, expected an nnx model class "
                f"(pass {name}, not {name}(...))"
            )
        if config is not None and not isinstance(config, _CONFIG_TYPES):
            raise ConfigError(
                f"TextAdapter.config: got {type(config).__name__}, expected a TextParams, a ModalityConfiguration "
                "with metadata={'text_params': {...}}, a dict of text params or None"
            )
        super().__init__(TextLanguageModel if model_cls is None else model_cls, text_params_from(config))
        self.params: TextParams = self.config

    def create(self, config: Any = None, *, rngs: nnx.Rngs, **kwargs: Any) -> GenerativeModel:
        """A model sized by the text params; ``config`` is the model's own config (a dict of keywords, or an object)."""
        sizes = _size_kwargs(self.model_cls, self.params)
        args: tuple[Any, ...] = ()
        options: dict[str, Any] = {}
        if isinstance(config, Mapping):
            options = dict(config)
        elif config is not None:
            args = (config,)
        for key, value in {**options, **kwargs}.items():
            if key in SIZE_KWARGS and value != getattr(self.params, key):
                raise ConfigError(
                    f"TextAdapter.create.{key}: got {value!r}, but the text params have "
                    f"{key}={getattr(self.params, key)!r}; expected the sizes from the modality config "
                    "(change it there)"
                )
        model = self.model_cls(*args, rngs=rngs, **{**sizes, **options, **kwargs})
        return model if isinstance(model, GenerativeModel) else TextModel(model, self.params)

    def loss_fn(self, batch: Any, logits: jax.Array) -> jax.Array:
        """Next-token cross-entropy ignoring padding."""
        tokens = batch["text_tokens"] if isinstance(batch, dict) else batch
        return cross_entropy_loss(logits, tokens, pad_token_id=self.params.pad_token_id)
