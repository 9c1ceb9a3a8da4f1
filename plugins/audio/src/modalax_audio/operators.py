"""Audio operators (seed 03): gain, time shift, noise at a target SNR, SpecAugment masks, crop.

Each transforms one field of one element (``field_key``, ``"audio"`` by default) with the
pure functions of ``modalax_audio.augment``; the loader vmaps and jits them over a batch and
gives each record its own key.  Stochastic operators draw from the ``"augment"`` stream by
default: build them with ``rngs=nnx.Rngs(0, augment=1)``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp

from modalax.plugin import (
    ConfigError,
    DataError,
    MissingFieldError,
    ModalityOperator,
    ModalityOperatorConfig,
    check_choice,
    check_positive,
    check_type,
)
from modalax_audio.augment import add_noise_snr, apply_gain_db, crop, mask_along_axis, time_shift

__all__ = [
    "AdditiveNoiseConfig",
    "AdditiveNoiseOperator",
    "FrequencyMaskOperator",
    "GainConfig",
    "GainOperator",
    "MaskConfig",
    "RandomCropConfig",
    "RandomCropOperator",
    "TimeMaskOperator",
    "TimeShiftConfig",
    "TimeShiftOperator",
]


def _shape_of(data_shapes: Any, key: str) -> tuple[int, ...]:
    node = data_shapes
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            have = sorted(node) if isinstance(node, dict) else node
            raise MissingFieldError(f"field {key!r}: missing from the data (has {have}); set field_key")
        node = node[part]
    return tuple(node)


def _number(owner: str, name: str, value: Any) -> None:
    check_type(owner, name, value, (int, float), "a finite number")
    if not math.isfinite(value):
        raise ConfigError(f"{owner}.{name}: got {value!r}, expected a finite number")


def _plain(config: Any, ints: tuple[str, ...] = (), floats: tuple[str, ...] = ()) -> None:
    """Store numpy scalars in ``config``'s fields as the Python int/float they hold (bools stay bools)."""
    for name in (*ints, *floats):
        value = getattr(config, name)
        if isinstance(value, bool) or type(value) in (int, float):
            continue
        if isinstance(value, numbers.Integral):
            object.__setattr__(config, name, int(value))
        elif name in floats and isinstance(value, numbers.Real):
            object.__setattr__(config, name, float(value))


def _range(owner: str, lo_name: str, lo: float, hi_name: str, hi: float) -> None:
    _number(owner, lo_name, lo)
    _number(owner, hi_name, hi)
    if lo > hi:
        raise ConfigError(f"{owner}: got {lo_name}={lo!r} > {hi_name}={hi!r}; expected {lo_name} <= {hi_name}")


@dataclass(frozen=True, eq=False)
class GainConfig(ModalityOperatorConfig):
    """Gain in dB: ``gain_db`` when deterministic, uniform in [``min_gain_db``, ``max_gain_db``] when stochastic."""

    field_key: str = field(default="audio", kw_only=True)
    gain_db: float = 0.0
    min_gain_db: float = -6.0
    max_gain_db: float = 6.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _plain(self, floats=("gain_db", "min_gain_db", "max_gain_db"))
        _number("GainConfig", "gain_db", self.gain_db)
        _range("GainConfig", "min_gain_db", self.min_gain_db, "max_gain_db", self.max_gain_db)


class GainOperator(ModalityOperator):
    """Scale the signal by a gain in dB."""

    config: GainConfig

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> jax.Array:
        n = _shape_of(data_shapes, self.config.field_key)[0]
        return jax.random.uniform(rng, (n,), jnp.float32, self.config.min_gain_db, self.config.max_gain_db)

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        gain = random_params if self.stochastic else self.config.gain_db
        return apply_gain_db(x, gain)


@dataclass(frozen=True, eq=False)
class TimeShiftConfig(ModalityOperatorConfig):
    """Shift along time (last axis) by ``shift`` samples, or uniformly in [-max_shift, max_shift] when stochastic.

    ``mode="roll"`` wraps samples around; ``"zero"`` fills the vacated samples with 0.
    """

    field_key: str = field(default="audio", kw_only=True)
    shift: int = 0
    max_shift: int = 1600
    mode: str = "roll"

    def __post_init__(self) -> None:
        super().__post_init__()
        _plain(self, ints=("shift", "max_shift"))
        check_type("TimeShiftConfig", "shift", self.shift, int, "an int (samples)")
        check_positive("TimeShiftConfig", "max_shift", self.max_shift, allow_zero=True)
        check_choice("TimeShiftConfig", "mode", self.mode, ("roll", "zero"))


class TimeShiftOperator(ModalityOperator):
    """Delay (positive) or advance (negative) the signal; auxiliary fields shift along."""

    config: TimeShiftConfig

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> jax.Array:
        n = _shape_of(data_shapes, self.config.field_key)[0]
        m = self.config.max_shift
        return jax.random.randint(rng, (n,), -m, m + 1, jnp.int32)

    def _shift(self, random_params: Any) -> Any:
        return random_params if self.stochastic else self.config.shift

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        return time_shift(x, self._shift(random_params), self.config.mode)

    def transform_auxiliary(
        self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None, key: str
    ) -> jax.Array:
        return time_shift(x, self._shift(random_params), self.config.mode)


@dataclass(frozen=True, eq=False)
class AdditiveNoiseConfig(ModalityOperatorConfig):
    """White Gaussian noise at ``snr_db``, or at an SNR uniform in [``min_snr_db``, ``max_snr_db``] if both are set."""

    field_key: str = field(default="audio", kw_only=True)
    stochastic: bool = True
    stream_name: str | None = "augment"
    snr_db: float = 20.0
    min_snr_db: float | None = None
    max_snr_db: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = "AdditiveNoiseConfig"
        _plain(self, floats=("snr_db", "min_snr_db", "max_snr_db"))
        if not self.stochastic:
            raise ConfigError(f"{owner}.stochastic: got False; expected True (noise needs a random key)")
        _number(owner, "snr_db", self.snr_db)
        if (self.min_snr_db is None) != (self.max_snr_db is None):
            raise ConfigError(
                f"{owner}: got min_snr_db={self.min_snr_db!r}, max_snr_db={self.max_snr_db!r}; expected both or neither"
            )
        if self.min_snr_db is not None and self.max_snr_db is not None:
            _range(owner, "min_snr_db", self.min_snr_db, "max_snr_db", self.max_snr_db)


class AdditiveNoiseOperator(ModalityOperator):
    """Add white noise scaled so that signal power / noise power equals the target SNR."""

    config: AdditiveNoiseConfig

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> dict[str, jax.Array]:
        n = _shape_of(data_shapes, self.config.field_key)[0]
        k_noise, k_snr = jax.random.split(rng)
        cfg = self.config
        if cfg.min_snr_db is None or cfg.max_snr_db is None:  # both or neither (checked by the config)
            snr = jnp.full((n,), cfg.snr_db, jnp.float32)
        else:
            snr = jax.random.uniform(k_snr, (n,), jnp.float32, cfg.min_snr_db, cfg.max_snr_db)
        return {"key": jax.random.split(k_noise, n), "snr_db": snr}

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        noise = jax.random.normal(random_params["key"], x.shape, x.dtype)
        return add_noise_snr(x, noise, random_params["snr_db"])


@dataclass(frozen=True, eq=False)
class MaskConfig(ModalityOperatorConfig):
    """SpecAugment masking: ``num_masks`` bands, each of width uniform in [0, ``max_width``], set to ``mask_value``."""

    field_key: str = field(default="audio", kw_only=True)
    stochastic: bool = True
    stream_name: str | None = "augment"
    max_width: int = 10
    num_masks: int = 1
    mask_value: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        _plain(self, ints=("max_width", "num_masks"), floats=("mask_value",))
        if not self.stochastic:
            raise ConfigError(f"{owner}.stochastic: got False; expected True (masks are drawn at random)")
        check_positive(owner, "max_width", self.max_width, allow_zero=True)
        check_positive(owner, "num_masks", self.num_masks)
        _number(owner, "mask_value", self.mask_value)


class _MaskOperator(ModalityOperator):
    config: MaskConfig
    axis: int = -1
    axis_name = "time"

    def _length(self, shape: tuple[int, ...]) -> int:
        if len(shape) < -self.axis:
            raise DataError(
                f"{type(self).__name__}: field {self.config.field_key!r} has shape {shape}; expected at least "
                f"{-self.axis} axes (({'freq, ' if self.axis == -2 else ''}time) last)"
            )
        return shape[self.axis]

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> dict[str, jax.Array]:
        shape = _shape_of(data_shapes, self.config.field_key)
        n, length = shape[0], self._length(shape[1:])
        cfg = self.config
        k_w, k_s = jax.random.split(rng)
        width = jax.random.randint(k_w, (n, cfg.num_masks), 0, min(cfg.max_width, length) + 1, jnp.int32)
        u = jax.random.uniform(k_s, (n, cfg.num_masks))
        start = jnp.floor(u * (length - width + 1)).astype(jnp.int32)
        return {"start": start, "width": width}

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        self._length(x.shape)
        for i in range(self.config.num_masks):
            x = mask_along_axis(
                x, random_params["start"][i], random_params["width"][i], self.axis, self.config.mask_value
            )
        return x


class TimeMaskOperator(_MaskOperator):
    """Mask random bands of time steps (last axis): waveforms or ``(freq, time)`` spectrograms."""

    axis = -1


class FrequencyMaskOperator(_MaskOperator):
    """Mask random bands of frequency channels (axis -2 of ``(freq, time)`` spectrograms)."""

    axis = -2


@dataclass(frozen=True, eq=False)
class RandomCropConfig(ModalityOperatorConfig):
    """Crop ``length`` samples (or ``duration`` s at ``sample_rate``): random start when stochastic, else centred."""

    field_key: str = field(default="audio", kw_only=True)
    length: int | None = None
    duration: float | None = None
    sample_rate: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = "RandomCropConfig"
        _plain(self, ints=("length", "sample_rate"), floats=("duration",))
        if (self.length is None) == (self.duration is None):
            raise ConfigError(
                f"{owner}: got length={self.length!r}, duration={self.duration!r}; expected exactly one of them"
            )
        if self.length is not None:
            check_positive(owner, "length", self.length)
        else:
            check_positive(owner, "duration", self.duration, integer=False)
            if self.sample_rate is None:
                raise ConfigError(f"{owner}.sample_rate: got None with duration={self.duration!r}; expected Hz")
            check_positive(owner, "sample_rate", self.sample_rate)
            if self.n_samples < 1:
                raise ConfigError(f"{owner}.duration: got {self.duration!r} s, less than one sample")

    @property
    def n_samples(self) -> int:
        """Samples kept: ``length`` or ``round(duration * sample_rate)``."""
        if self.length is not None:
            return self.length
        assert self.duration is not None and self.sample_rate is not None  # checked by __post_init__
        return round(self.duration * self.sample_rate)


class RandomCropOperator(ModalityOperator):
    """Cut a fixed-length window along time (last axis); auxiliary fields are cut alike."""

    config: RandomCropConfig

    def _check(self, shape: tuple[int, ...]) -> int:
        need = self.config.n_samples
        if not shape or shape[-1] < need:
            raise DataError(
                f"RandomCropOperator: field {self.config.field_key!r} has shape {shape}; expected at least "
                f"{need} samples on the last axis"
            )
        return shape[-1] - need

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> jax.Array:
        shape = _shape_of(data_shapes, self.config.field_key)
        slack = self._check(shape[1:])
        return jax.random.randint(rng, (shape[0],), 0, slack + 1, jnp.int32)

    def _start(self, x: jax.Array, random_params: Any) -> Any:
        slack = self._check(tuple(x.shape))
        return random_params if self.stochastic else slack // 2

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        return crop(x, self._start(x, random_params), self.config.n_samples)

    def transform_auxiliary(
        self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None, key: str
    ) -> jax.Array:
        return crop(x, self._start(x, random_params), self.config.n_samples)
