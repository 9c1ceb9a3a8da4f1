"""Cross-modal generators: text -> image, image -> text (autoregressive), text -> audio.

Each accepts a batch (leading axis) or one unbatched example, and has a ``loss_fn`` against a
batch of this plugin's or the modality plugins' keys, so the training loop of
``training.py`` applies to them too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from modalax.plugin import DataError, GenerativeModel
from modalax_multimodal.encoders import modality_inputs

__all__ = ["ImageToTextGenerator", "TextToAudioGenerator", "TextToImageGenerator"]


class _BagOfTokens(nnx.Module):
    """Tokens ``(B, L)`` -> ``(B, out_dim)``: mean of embeddings (padding excluded), a ReLU layer."""

    def __init__(self, vocab_size: int, embed_dim: int, out_dim: int, pad_token_id: int, *, rngs: nnx.Rngs) -> None:
        self.pad_token_id = pad_token_id
        self.embed = nnx.Embed(vocab_size, embed_dim, rngs=rngs)
        self.encoder = nnx.Linear(embed_dim, out_dim, rngs=rngs)

    def __call__(self, tokens: jax.Array) -> jax.Array:
        keep = (tokens != self.pad_token_id)[..., None].astype(jnp.float32)
        pooled = jnp.sum(self.embed(tokens) * keep, axis=-2) / jnp.maximum(jnp.sum(keep, axis=-2), 1.0)
        return jax.nn.relu(self.encoder(pooled))


def _batched(tokens: Any) -> tuple[jax.Array, bool]:
    t = jnp.asarray(tokens)
    if not jnp.issubdtype(t.dtype, jnp.integer):
        raise DataError(f"text tokens: got dtype {t.dtype}, expected integers")
    return (t[None], True) if t.ndim == 1 else (t, False)


class TextToImageGenerator(GenerativeModel):
    """Text tokens -> image in [0, 1]: bag of token embeddings, MLP decoder, sigmoid."""

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        image_shape: Sequence[int],
        hidden_dim: int = 512,
        *,
        pad_token_id: int = 0,
        rngs: nnx.Rngs,
    ) -> None:
        self.image_shape = tuple(int(s) for s in image_shape)
        self.text = _BagOfTokens(vocab_size, embed_dim, hidden_dim, pad_token_id, rngs=rngs)
        self.decoder = nnx.Sequential(
            nnx.Linear(hidden_dim, 2 * hidden_dim, rngs=rngs),
            nnx.relu,
            nnx.Linear(2 * hidden_dim, math.prod(self.image_shape), rngs=rngs),
            nnx.sigmoid,
        )

    def __call__(self, text_tokens: jax.Array) -> jax.Array:
        tokens, single = _batched(text_tokens)
        images = self.decoder(self.text(tokens)).reshape(tokens.shape[0], *self.image_shape)
        return images[0] if single else images

    def generate(self, n_samples: int = 1, *, rngs: nnx.Rngs | None = None, text_tokens: Any = None, **_: Any) -> Any:
        """Images for ``text_tokens`` (``n_samples`` is implied by them)."""
        if text_tokens is None:
            raise DataError("TextToImageGenerator.generate: expected text_tokens=")
        return self(text_tokens)

    def loss_fn(self, batch: Any, model_outputs: Any, **kwargs: Any) -> jax.Array:
        """Mean squared error against the batch's images."""
        target = modality_inputs(batch, ["image"])["image"].reshape(model_outputs.shape)
        return jnp.mean((model_outputs - target) ** 2)


class TextToAudioGenerator(GenerativeModel):
    """Text tokens -> waveform in [-1, 1]: bag of token embeddings, MLP decoder, tanh."""

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        audio_length: int,
        hidden_dim: int = 1024,
        *,
        pad_token_id: int = 0,
        rngs: nnx.Rngs,
    ) -> None:
        self.audio_length = int(audio_length)
        self.text = _BagOfTokens(vocab_size, embed_dim, hidden_dim, pad_token_id, rngs=rngs)
        self.decoder = nnx.Sequential(
            nnx.Linear(hidden_dim, hidden_dim, rngs=rngs),
            nnx.relu,
            nnx.Linear(hidden_dim, self.audio_length, rngs=rngs),
            nnx.tanh,
        )

    def __call__(self, text_tokens: jax.Array) -> jax.Array:
        tokens, single = _batched(text_tokens)
        audio = self.decoder(self.text(tokens))
        return audio[0] if single else audio

    def generate(self, n_samples: int = 1, *, rngs: nnx.Rngs | None = None, text_tokens: Any = None, **_: Any) -> Any:
        """Waveforms for ``text_tokens``."""
        if text_tokens is None:
            raise DataError("TextToAudioGenerator.generate: expected text_tokens=")
        return self(text_tokens)

    def loss_fn(self, batch: Any, model_outputs: Any, **kwargs: Any) -> jax.Array:
        """Mean squared error against the batch's waveforms."""
        target = modality_inputs(batch, ["audio"])["audio"].reshape(model_outputs.shape)
        return jnp.mean((model_outputs - target) ** 2)


class ImageToTextGenerator(GenerativeModel):
    """Image -> tokens with an autoregressive GRU decoder conditioned on the image.

    The image (flattened, through an MLP) sets the decoder's initial state and is added to every
    step's input, with the previous token's embedding and a learnt position embedding.  ``model(image, tokens)`` gives
    teacher-forced logits ``(B, L, vocab)``; ``model(image)`` / ``generate(image=...)`` decodes
    with ``jax.lax.scan``: greedily, or by sampling when ``rngs`` has a ``sample`` stream.
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        vocab_size: int,
        max_length: int,
        hidden_dim: int = 512,
        *,
        bos_token_id: int = 2,
        rngs: nnx.Rngs,
    ) -> None:
        self.image_shape = tuple(int(s) for s in image_shape)
        self.vocab_size = int(vocab_size)
        self.max_length = int(max_length)
        self.bos_token_id = int(bos_token_id)
        self.encoder = nnx.Sequential(
            nnx.Linear(math.prod(self.image_shape), hidden_dim, rngs=rngs),
            nnx.relu,
            nnx.Linear(hidden_dim, hidden_dim, rngs=rngs),
        )
        self.token_embed = nnx.Embed(vocab_size, hidden_dim, rngs=rngs)
        self.position_embed = nnx.Embed(max_length, hidden_dim, rngs=rngs)
        self.cell = nnx.GRUCell(hidden_dim, hidden_dim, rngs=rngs)
        self.decoder = nnx.Linear(hidden_dim, vocab_size, rngs=rngs)

    def _encode(self, image: Any) -> tuple[jax.Array, bool]:
        x = jnp.asarray(image, jnp.float32)
        single = x.shape == self.image_shape
        x = x[None] if single else x
        if x.shape[1:] != self.image_shape:
            raise DataError(f"ImageToTextGenerator: got images of shape {x.shape[1:]}, expected {self.image_shape}")
        return jnp.tanh(self.encoder(x.reshape(x.shape[0], -1) * 2.0 - 1.0)), single

    def _step(
        self, carry: jax.Array, context: jax.Array, token: jax.Array, position: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        carry, out = self.cell(carry, context + self.token_embed(token) + self.position_embed(position))
        return carry, self.decoder(out)

    def __call__(self, image: Any, tokens: Any = None, *, rngs: nnx.Rngs | None = None) -> jax.Array:
        """Teacher-forced logits ``(B, L, vocab)`` when ``tokens`` are given, else decoded tokens ``(B, L)``."""
        if tokens is None:
            return self.generate(image=image, rngs=rngs)
        h0, single = self._encode(image)
        t = jnp.asarray(tokens)[None] if single else jnp.asarray(tokens)
        inputs = jnp.concatenate([jnp.full((t.shape[0], 1), self.bos_token_id, t.dtype), t[:, :-1]], axis=1)

        def body(carry: jax.Array, xs: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
            token, pos = xs
            return self._step(carry, h0, token, pos)

        _, logits = jax.lax.scan(body, h0, (inputs.T, jnp.arange(t.shape[1])))
        logits = jnp.swapaxes(logits, 0, 1)
        return logits[0] if single else logits

    def generate(
        self, n_samples: int = 1, *, rngs: nnx.Rngs | None = None, image: Any = None, temperature: float = 1.0, **_: Any
    ) -> jax.Array:
        """Decode ``max_length`` tokens per image (greedy, or sampled with ``rngs.sample``)."""
        if image is None:
            raise DataError("ImageToTextGenerator.generate: expected image=")
        h0, single = self._encode(image)
        b = h0.shape[0]
        if rngs is not None and "sample" in rngs:
            sample, keys = True, jax.random.split(rngs.sample(), self.max_length)
        else:
            sample, keys = False, jnp.zeros((self.max_length,))

        def body(state: tuple[jax.Array, jax.Array], xs: tuple[jax.Array, Any]) -> tuple[Any, jax.Array]:
            carry, prev = state
            pos, key = xs
            carry, logits = self._step(carry, h0, prev, jnp.full((b,), pos))
            nxt = jax.random.categorical(key, logits / temperature) if sample else jnp.argmax(logits, axis=-1)
            return (carry, nxt.astype(jnp.int32)), nxt.astype(jnp.int32)

        start = jnp.full((b,), self.bos_token_id, jnp.int32)
        _carry, out = jax.lax.scan(body, (h0, start), (jnp.arange(self.max_length), keys))
        tokens = out.T
        return tokens[0] if single else tokens

    def loss_fn(self, batch: Any, model_outputs: Any, **kwargs: Any) -> jax.Array:
        """Cross-entropy of teacher-forced logits against the batch's tokens."""
        target = modality_inputs(batch, ["text"])["text"]
        logp = jax.nn.log_softmax(model_outputs, axis=-1)
        return -jnp.mean(jnp.take_along_axis(logp, target[..., None], axis=-1))
