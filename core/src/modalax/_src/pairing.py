"""The pairing protocol: what a modality offers so that multimodal datasets and models can pair it.

The multimodal plugin knows no modality by name. It asks the registry for the modality class
and calls ``pairing(**options)`` on it, which returns a ``ModalityPairing``: the record field
the modality's samples use, their shape and dtype, a way to *render* a sample from a shared
latent (so aligned synthetic data exists for any pair of modalities), a fixed feature map (for
retrieval and alignment metrics without training) and a trainable encoder (for contrastive and
fusion models). Image, text and audio implement it exactly as a third-party modality would.

Rendering is split in two so that it compiles once: ``make_world(key, latent_dim)`` builds the
fixed arrays of the rendering map (the "world") once per dataset, and ``render(world, u, keys)``
is a pure jax function of them, vectorised over the batch. Nothing here imports jax.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from modalax._src.errors import ConfigError, PluginError

if TYPE_CHECKING:
    import jax
    from flax import nnx

__all__ = ["PAIRING_METHOD", "ModalityPairing", "host_rng", "pairing_of"]

#: The classmethod a pairable modality class defines: ``pairing(**options) -> ModalityPairing``.
PAIRING_METHOD = "pairing"


class ModalityPairing(ABC):
    """One modality's side of a pairing, built by ``ModalityClass.pairing(**options)``.

    ``options`` are the modality's own settings of a paired sample (the image shape, the
    vocabulary size, ...); subclasses validate them in ``__init__`` and raise ``ConfigError``
    for unknown names. ``field`` is the record field of the modality's samples in multimodal
    batches; ``batch_keys`` are every key a batch may hold them under (``field`` first).
    """

    #: Record field of this modality in multimodal samples (``pairing_of`` sets the modality's name if empty).
    field: str = ""
    #: Other keys that hold this modality in batches of its own datasets (``"images"``).
    aliases: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **options: Any) -> None:
        # A subclass with options takes its own and passes on only what it does not know.
        if options:
            names = ", ".join(map(repr, sorted(options)))
            raise ConfigError(f"{type(self).__name__}: unknown option(s) {names} for this modality's pairing")

    def __eq__(self, other: object) -> bool:
        # Equal pairings (same class, same options) share jitted functions and cached worlds.
        return isinstance(other, ModalityPairing) and type(other) is type(self) and other.options() == self.options()

    def __hash__(self) -> int:
        return hash((type(self), _frozen(self.options())))

    @property
    def batch_keys(self) -> tuple[str, ...]:
        """Every key a batch may hold this modality under, ``field`` first."""
        return (self.field, *(k for k in self.aliases if k != self.field))

    def options(self) -> dict[str, Any]:
        """The options this pairing was built with (JSON values), for configs and checkpoints."""
        return {}

    @property
    @abstractmethod
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one sample."""

    @property
    def dtype(self) -> str:
        """numpy dtype name of a sample (``"float32"``; ``"int32"`` for token ids)."""
        return "float32"

    @abstractmethod
    def make_world(self, key: jax.Array, latent_dim: int) -> Any:
        """The fixed arrays of the map from a ``latent_dim`` vector to a sample (a pytree)."""

    @abstractmethod
    def render(self, world: Any, u: jax.Array, keys: jax.Array) -> jax.Array:
        """Samples ``(B, *sample_shape)`` from inputs ``u`` ``(B, latent_dim)`` and one key per sample.

        Pure jax, vectorised over the batch; equal inputs give equal samples, and samples vary
        smoothly with ``u`` so that aligned modalities share information.
        """

    @abstractmethod
    def features(self, x: jax.Array) -> jax.Array:
        """A fixed (parameter-free) feature vector ``(B, F)`` per sample, for retrieval and probes."""

    @abstractmethod
    def encoder(self, embed_dim: int, *, rngs: nnx.Rngs, hidden_dim: int | None = None) -> nnx.Module:
        """A trainable module mapping samples ``(B, *sample_shape)`` to embeddings ``(B, embed_dim)``;
        ``hidden_dim`` (None: the pairing's own choice) sets its inner width."""

    def quality(self, generated: jax.Array, reference: jax.Array, **inputs: Any) -> dict[str, float]:
        """Quality metrics of generated samples against references (none by default); ``inputs`` are
        optional extras a metric may use (a text model's ``log_probs``), ignored when not needed."""
        return {}

    def render_reference(self, world: Any, u: Any) -> Any:
        """Optional: ``render`` without noise written in plain numpy, per sample, for tests and
        benchmarks to check the jitted kernel against (``NotImplementedError`` when absent)."""
        raise NotImplementedError(f"{type(self).__name__} has no numpy reference renderer")


def _frozen(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def host_rng(key: jax.Array) -> Any:
    """A numpy ``Generator`` seeded by all the bits of a jax PRNG key (typed or raw ``uint32``), so
    worlds built on the host are equal on every backend."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    data = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    return np.random.default_rng(np.asarray(data, np.uint32).ravel().tolist())


def pairing_of(modality: str, options: Mapping[str, Any] | None = None) -> ModalityPairing:
    """The pairing of registered modality ``modality`` built with ``options``.

    ``UnknownNameError`` for an unregistered modality; ``PluginError`` naming the missing
    method when the modality does not implement the pairing protocol.
    """
    from modalax._src.registry import get_modality, owner_of

    cls = get_modality(modality)
    method = getattr(cls, PAIRING_METHOD, None)
    if not callable(method):
        raise PluginError(
            f"modality {modality!r} ({owner_of('modalities', (modality,))}) cannot be paired: its class "
            f"{cls.__name__} has no method {PAIRING_METHOD!r}; expected a classmethod "
            f"{PAIRING_METHOD}(**options) returning a modalax.plugin.ModalityPairing "
            "(docs/plugin-authoring.md, 'Pairing')"
        )
    pairing = method(**dict(options or {}))
    if not isinstance(pairing, ModalityPairing):
        raise PluginError(
            f"modality {modality!r}: {cls.__name__}.{PAIRING_METHOD}() returned {type(pairing).__name__}, "
            "expected a modalax.plugin.ModalityPairing"
        )
    if not pairing.field:
        pairing.field = modality
    return pairing
