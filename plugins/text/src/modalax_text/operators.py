"""Token operators (``ModalityOperator`` s) over ``text_tokens``.

Stochastic operators (masking, dropout, substitution) draw from one key per record — the
loader's (seed, epoch, index) key — so the result does not depend on batch size or shards.
Deterministic ones (padding mask, causal mask, position encodings) write a new field.
Numerics are the ``modalax_text.kernels`` functions.

Called on a host batch (``operator(batch)``), the stochastic operators check that every id of
the field is in ``[0, vocab_size)`` and raise ``DataError`` naming the field, the id and the
range; inside the loader's jitted step such ids are left unchanged (see ``kernels``).  An
empty batch (``N = 0``) gives an empty result with the output's fields and shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np

from modalax.plugin import (
    ConfigError,
    ModalityOperator,
    ModalityOperatorConfig,
    check_positive,
    check_probability,
    check_type,
    get_path,
    set_path,
    split_host_fields,
)
from modalax_text import kernels
from modalax_text.ids import check_token_ids
from modalax_text.params import TextParams, plain_numbers, text_params_from

__all__ = [
    "CausalMask",
    "CausalMaskConfig",
    "PaddingMask",
    "PaddingMaskConfig",
    "PositionEncoding",
    "PositionEncodingConfig",
    "TokenDropout",
    "TokenDropoutConfig",
    "TokenMasking",
    "TokenMaskingConfig",
    "TokenSubstitution",
    "TokenSubstitutionConfig",
]


@dataclass(frozen=True, eq=False)
class TextOperatorConfig(ModalityOperatorConfig):
    """Shared by text operators: the field (``text_tokens``) and the text parameters (special ids)."""

    field_key: str = field(default="text_tokens", kw_only=True)
    text_params: Any = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        plain_numbers(self)
        super().__post_init__()
        object.__setattr__(self, "text_params", text_params_from(self.text_params))

    @property
    def params(self) -> TextParams:
        """The validated ``TextParams``."""
        return self.text_params

    @property
    def protected(self) -> tuple[int, ...]:
        """Ids never changed: padding, BOS and EOS."""
        p = self.text_params
        return (p.pad_token_id, p.bos_token_id, p.eos_token_id)

    @property
    def specials(self) -> tuple[int, ...]:
        """Every special id (never drawn as a random replacement)."""
        return tuple(self.text_params.special_ids.values())


@dataclass(frozen=True, eq=False)
class _StochasticConfig(TextOperatorConfig):
    stochastic: bool = True
    stream_name: str | None = "augment"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.stochastic:
            raise ConfigError(f"{type(self).__name__}.stochastic: got False, expected True (the operator is random)")


@dataclass(frozen=True, eq=False)
class TokenMaskingConfig(_StochasticConfig):
    """BERT-style masking: select ``mask_prob`` of the tokens; of those, 80% become ``mask_token_id``,
    ``random_prob`` a random id and ``keep_prob`` stay.  ``mask_key`` receives the selection
    (bool, None to omit).  ``mask_token_id=None`` uses the UNK id; reserve a ``"<mask>"`` token
    with ``reserved_tokens=("<mask>",)`` when building the vocabulary to get a dedicated one.
    """

    mask_prob: float = 0.15
    mask_token_id: int | None = None
    random_prob: float = 0.1
    keep_prob: float = 0.1
    mask_key: str | None = "mlm_mask"

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        for name in ("mask_prob", "random_prob", "keep_prob"):
            check_probability(owner, name, getattr(self, name))
        if self.random_prob + self.keep_prob > 1.0:
            raise ConfigError(
                f"{owner}.random_prob + keep_prob: got {self.random_prob + self.keep_prob}, expected at most 1"
            )
        if self.mask_token_id is None:
            object.__setattr__(self, "mask_token_id", self.text_params.unk_token_id)
        check_positive(owner, "mask_token_id", self.mask_token_id, allow_zero=True)
        if self.mask_token_id >= self.text_params.vocab_size:
            raise ConfigError(
                f"{owner}.mask_token_id: got {self.mask_token_id}, expected < vocab_size={self.text_params.vocab_size}"
            )
        kept = {getattr(self.text_params, n): n for n in ("pad_token_id", "bos_token_id", "eos_token_id")}
        if self.mask_token_id in kept:
            raise ConfigError(
                f"{owner}.mask_token_id: got {self.mask_token_id}, which is {kept[self.mask_token_id]}; expected a "
                "dedicated mask id (reserve '<mask>' in the vocabulary) or the UNK id, never padding, BOS or EOS"
            )
        if self.mask_key is not None:
            check_type(owner, "mask_key", self.mask_key, str, "a field name or None")


@dataclass(frozen=True, eq=False)
class TokenDropoutConfig(_StochasticConfig):
    """Replace each token by UNK with probability ``rate`` (special tokens are kept)."""

    rate: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        check_probability(type(self).__name__, "rate", self.rate)


@dataclass(frozen=True, eq=False)
class TokenSubstitutionConfig(_StochasticConfig):
    """Replace each token by a uniformly random non-special id with probability ``rate``."""

    rate: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        check_probability(type(self).__name__, "rate", self.rate)


@dataclass(frozen=True, eq=False)
class PaddingMaskConfig(TextOperatorConfig):
    """Write ``tokens != pad`` (bool ``(L,)``) to ``target_key``."""

    target_key: str | None = field(default="padding_mask", kw_only=True)


@dataclass(frozen=True, eq=False)
class CausalMaskConfig(TextOperatorConfig):
    """Write a causal attention mask (bool ``(L, L)``) to ``target_key``; ``hide_padding`` masks padded keys."""

    target_key: str | None = field(default="causal_mask", kw_only=True)
    hide_padding: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        check_type(type(self).__name__, "hide_padding", self.hide_padding, bool, "a bool")


@dataclass(frozen=True, eq=False)
class PositionEncodingConfig(TextOperatorConfig):
    """Write sinusoidal position encodings (float32 ``(L, dim)``) to ``target_key``."""

    target_key: str | None = field(default="position_encoding", kw_only=True)
    dim: int = 64
    max_timescale: float = 10000.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(type(self).__name__, "dim", self.dim)
        check_positive(type(self).__name__, "max_timescale", self.max_timescale, integer=False)


class _TextOperator(ModalityOperator):
    """Host-side checks (ids in range) and empty batches, around the core ``apply_batch``."""

    config: TextOperatorConfig
    #: Whether ids outside ``[0, vocab_size)`` are refused on the host (operators that change ids).
    checks_ids = False

    def apply_batch(
        self,
        batch: dict[str, Any],
        stats: dict[str, Any] | None = None,
        *,
        rng: jax.Array | None = None,
        keys: jax.Array | None = None,
    ) -> dict[str, Any]:
        """Core ``apply_batch`` after checking ``field_key``; an empty batch gives an empty result."""
        if not isinstance(batch, dict):
            return super().apply_batch(batch, stats, rng=rng, keys=keys)
        field_key = self.config.field_key
        tokens = get_path(batch, field_key)
        if self.checks_ids and not isinstance(tokens, jax.core.Tracer):
            check_token_ids(tokens, self.config.params.vocab_size, f"{self.name}: field {field_key!r}")
        if np.ndim(tokens) == 0 or np.shape(tokens)[0] != 0:
            return super().apply_batch(batch, stats, rng=rng, keys=keys)
        # N = 0: run one padding record through the same jitted function for the output structure
        arrays, host_fields = split_host_fields(batch)
        one = jax.tree.map(lambda x: np.zeros((1, *np.shape(x)[1:]), np.asarray(x).dtype), arrays)
        one = set_path(one, field_key, np.full((1, *np.shape(tokens)[1:]), self.config.params.pad_token_id, np.int32))
        key = jax.random.split(jax.random.key(0), 1) if self.stochastic else None
        out = super().apply_batch(one, stats, keys=key)
        return {**jax.tree.map(lambda x: x[:0], {k: v for k, v in out.items() if k not in host_fields}), **host_fields}

    __call__ = apply_batch


class _KeyedOperator(_TextOperator):
    """A stochastic text operator whose random parameters are one key per record."""

    checks_ids = True

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> jax.Array:
        return jax.random.split(rng, get_path(data_shapes, self.config.field_key)[0])


class TokenMasking(_KeyedOperator):
    """BERT-style token masking (``text.mask_tokens``); also writes the selection to ``mask_key``."""

    config: TokenMaskingConfig

    def _mask(self, x: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        c = self.config
        assert c.mask_token_id is not None  # TokenMaskingConfig.__post_init__ replaces None by the UNK id
        return kernels.mask_tokens_one(
            x,
            key,
            mask_prob=c.mask_prob,
            mask_token_id=c.mask_token_id,
            vocab_size=c.params.vocab_size,
            protected=c.protected,
            specials=c.specials,
            random_prob=c.random_prob,
            keep_prob=c.keep_prob,
        )

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        return self._mask(x, random_params)[0]

    def apply(
        self,
        data: Any,
        state: Any,
        metadata: dict[str, Any] | None,
        random_params: Any = None,
        stats: dict[str, Any] | None = None,
    ) -> tuple[Any, Any, dict[str, Any] | None]:
        masked, selected = self._mask(get_path(data, self.config.field_key), random_params)
        out = self._remap_field(data, masked)
        if self.config.mask_key is not None:
            out = set_path(out, self.config.mask_key, selected)
        return out, state, metadata


class TokenDropout(_KeyedOperator):
    """Token dropout to UNK (``text.token_dropout``)."""

    config: TokenDropoutConfig

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        c = self.config
        return kernels.token_dropout_one(
            x,
            random_params,
            rate=c.rate,
            unk_token_id=c.params.unk_token_id,
            protected=c.protected,
            vocab_size=c.params.vocab_size,
        )


class TokenSubstitution(_KeyedOperator):
    """Random token substitution (``text.random_substitution``)."""

    config: TokenSubstitutionConfig

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        c = self.config
        return kernels.substitute_one(
            x, random_params, rate=c.rate, vocab_size=c.params.vocab_size, protected=c.protected, specials=c.specials
        )


class PaddingMask(_TextOperator):
    """Padding mask (``text.padding_mask``)."""

    config: PaddingMaskConfig

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        return kernels.padding_mask_one(x, pad_token_id=self.config.params.pad_token_id)


class CausalMask(_TextOperator):
    """Causal attention mask (``text.causal_mask``)."""

    config: CausalMaskConfig

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        pad = self.config.params.pad_token_id if self.config.hide_padding else None
        return kernels.causal_mask_one(x, pad_token_id=pad)


class PositionEncoding(_TextOperator):
    """Sinusoidal position encodings (``text.position_encoding``)."""

    config: PositionEncodingConfig

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        return kernels.position_encoding_one(x, dim=self.config.dim, max_timescale=self.config.max_timescale)
