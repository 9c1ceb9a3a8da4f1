"""Audio operators: gain, time shift, noise at a target SNR, SpecAugment masks, crop.

Each transforms one field of one element (``field_key``, ``"audio"`` by default) with the
pure functions of ``modalax_audio.augment``; the loader vmaps and jits them over a batch and
gives each record its own key.  Stochastic operators draw from the ``"augment"`` stream by
default: build them with ``rngs=nnx.Rngs(0, augment=1)``.

Elements have a fixed rank (``element_ndim``): clips ``(n_time_steps,)`` for gain, shift,
noise and crop; spectrograms ``(n_freq, n_frames)`` for the two masks.  A batch of another
rank (one clip without its batch axis) is a ``DataError`` at trace time, never rows read as
clips.  Parameters that could overflow are bounded: gains and SNRs within +-``DB_LIMIT`` dB,
sample counts within int32, at most ``MAX_MASKS`` masks, mask values finite in the field's
dtype; outside, the config raises ``ConfigError`` naming the field, the value and the range.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from modalax.plugin import (
    ConfigError,
    DataError,
    ModalityOperator,
    ModalityOperatorConfig,
    check_choice,
    check_positive,
)
from modalax_audio.audio_checks import (
    DB_LIMIT,
    FLOAT32_MAX,
    INT32_MAX,
    MAX_MASKS,
    bounded,
    count,
    db,
    db_range,
    plain,
    shape_of,
)
from modalax_audio.augment import add_noise_snr, apply_gain_db, compute_dtype, crop, mask_along_axis, time_shift

__all__ = [
    "DB_LIMIT",
    "MAX_MASKS",
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


_CLIP = "(n_time_steps,)"
_SPECTROGRAM = "(n_freq, n_frames)"


@dataclass(frozen=True, eq=False)
class GainConfig(ModalityOperatorConfig):
    """Gain in dB: ``gain_db`` when deterministic, uniform in [``min_gain_db``, ``max_gain_db``] when stochastic.

    Each within +-``DB_LIMIT`` (120) dB.
    """

    field_key: str = field(default="audio", kw_only=True)
    gain_db: float = 0.0
    min_gain_db: float = -6.0
    max_gain_db: float = 6.0

    def __post_init__(self) -> None:
        super().__post_init__()
        plain(self, floats=("gain_db", "min_gain_db", "max_gain_db"))
        db("GainConfig", "gain_db", self.gain_db)
        db_range("GainConfig", "min_gain_db", self.min_gain_db, "max_gain_db", self.max_gain_db)


class GainOperator(ModalityOperator):
    """Scale clips by a gain in dB (computed in at least float32, the dtype it returns)."""

    config: GainConfig
    element_ndim: ClassVar[int | None] = 1
    element_axes: ClassVar[str] = _CLIP

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> jax.Array:
        n = shape_of(data_shapes, self.config.field_key)[0]
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
        plain(self, ints=("shift", "max_shift"))
        count("TimeShiftConfig", "shift", self.shift, -INT32_MAX)
        count("TimeShiftConfig", "max_shift", self.max_shift, 0, INT32_MAX - 1, "int32 draws up to max_shift + 1")
        check_choice("TimeShiftConfig", "mode", self.mode, ("roll", "zero"))


class TimeShiftOperator(ModalityOperator):
    """Delay (positive) or advance (negative) clips; auxiliary fields shift along."""

    config: TimeShiftConfig
    element_ndim: ClassVar[int | None] = 1
    element_axes: ClassVar[str] = _CLIP

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> jax.Array:
        n = shape_of(data_shapes, self.config.field_key)[0]
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
    """White Gaussian noise at ``snr_db``, or at an SNR uniform in [``min_snr_db``, ``max_snr_db``] if both are set.

    Each within +-``DB_LIMIT`` (120) dB.
    """

    field_key: str = field(default="audio", kw_only=True)
    stochastic: bool = True
    stream_name: str | None = "augment"
    snr_db: float = 20.0
    min_snr_db: float | None = None
    max_snr_db: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = "AdditiveNoiseConfig"
        plain(self, floats=("snr_db", "min_snr_db", "max_snr_db"))
        if not self.stochastic:
            raise ConfigError(f"{owner}.stochastic: got False; expected True (noise needs a random key)")
        db(owner, "snr_db", self.snr_db)
        if (self.min_snr_db is None) != (self.max_snr_db is None):
            raise ConfigError(
                f"{owner}: got min_snr_db={self.min_snr_db!r}, max_snr_db={self.max_snr_db!r}; expected both or neither"
            )
        if self.min_snr_db is not None and self.max_snr_db is not None:
            db_range(owner, "min_snr_db", self.min_snr_db, "max_snr_db", self.max_snr_db)


class AdditiveNoiseOperator(ModalityOperator):
    """Add white noise to clips, scaled so that signal power / noise power equals the target SNR.

    Computed in at least float32 (the dtype it returns) from root mean squares: no overflow.
    """

    config: AdditiveNoiseConfig
    element_ndim: ClassVar[int | None] = 1
    element_axes: ClassVar[str] = _CLIP

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> dict[str, jax.Array]:
        n = shape_of(data_shapes, self.config.field_key)[0]
        k_noise, k_snr = jax.random.split(rng)
        cfg = self.config
        if cfg.min_snr_db is None or cfg.max_snr_db is None:  # both or neither (checked by the config)
            snr = jnp.full((n,), cfg.snr_db, jnp.float32)
        else:
            snr = jax.random.uniform(k_snr, (n,), jnp.float32, cfg.min_snr_db, cfg.max_snr_db)
        return {"key": jax.random.split(k_noise, n), "snr_db": snr}

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        noise = jax.random.normal(random_params["key"], x.shape, compute_dtype(x.dtype))
        return add_noise_snr(x, noise, random_params["snr_db"])


@dataclass(frozen=True, eq=False)
class MaskConfig(ModalityOperatorConfig):
    """SpecAugment masking: ``num_masks`` bands, each of width uniform in [0, ``max_width``], set to ``mask_value``.

    ``num_masks`` is 1 to ``MAX_MASKS`` (100); ``mask_value`` must be finite in the field's dtype.
    """

    field_key: str = field(default="audio", kw_only=True)
    stochastic: bool = True
    stream_name: str | None = "augment"
    max_width: int = 10
    num_masks: int = 1
    mask_value: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        plain(self, ints=("max_width", "num_masks"), floats=("mask_value",))
        if not self.stochastic:
            raise ConfigError(f"{owner}.stochastic: got False; expected True (masks are drawn at random)")
        count(owner, "max_width", self.max_width, 0)
        count(owner, "num_masks", self.num_masks, 1, MAX_MASKS, "each mask is unrolled into the kernel")
        bounded(owner, "mask_value", self.mask_value, -FLOAT32_MAX, FLOAT32_MAX, "", "finite in float32")


class _MaskOperator(ModalityOperator):
    config: MaskConfig
    axis: int = -1
    element_ndim: ClassVar[int | None] = 2
    element_axes: ClassVar[str] = _SPECTROGRAM

    def _length(self, shape: tuple[int, ...]) -> int:
        if len(shape) != 2:
            raise DataError(
                f"{type(self).__name__}: field {self.config.field_key!r} has elements of shape {shape}; expected "
                f"spectrograms {_SPECTROGRAM}"
            )
        return shape[self.axis]

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> dict[str, jax.Array]:
        shape = shape_of(data_shapes, self.config.field_key)
        n, length = shape[0], self._length(shape[1:])
        cfg = self.config
        k_w, k_s = jax.random.split(rng)
        width = jax.random.randint(k_w, (n, cfg.num_masks), 0, min(cfg.max_width, length) + 1, jnp.int32)
        u = jax.random.uniform(k_s, (n, cfg.num_masks))
        start = jnp.floor(u * (length - width + 1)).astype(jnp.int32)
        return {"start": start, "width": width}

    def _check_mask_value(self, dtype: Any) -> None:
        value = self.config.mask_value
        if jnp.issubdtype(dtype, jnp.floating):
            top = float(jnp.finfo(dtype).max)
            fits = abs(value) <= top
            expected = f"a value within +-{top:g} (finite in {jnp.dtype(dtype).name})"
        else:
            info = jnp.iinfo(dtype)
            fits = float(value).is_integer() and info.min <= value <= info.max
            expected = f"an integer in [{info.min}, {info.max}] ({jnp.dtype(dtype).name})"
        if not fits:
            raise ConfigError(
                f"{type(self).__name__}.mask_value: got {value!r} for field {self.config.field_key!r} of dtype "
                f"{jnp.dtype(dtype).name}; expected {expected}"
            )

    def transform(self, x: jax.Array, random_params: Any, stats: dict[str, Any] | None) -> jax.Array:
        self._length(x.shape)
        self._check_mask_value(x.dtype)
        for i in range(self.config.num_masks):
            x = mask_along_axis(
                x, random_params["start"][i], random_params["width"][i], self.axis, self.config.mask_value
            )
        return x


class TimeMaskOperator(_MaskOperator):
    """Mask random bands of frames (the last axis) of ``(n_freq, n_frames)`` spectrograms (SpecAugment)."""

    axis = -1


class FrequencyMaskOperator(_MaskOperator):
    """Mask random bands of frequency channels (axis -2) of ``(n_freq, n_frames)`` spectrograms (SpecAugment)."""

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
        plain(self, ints=("length", "sample_rate"), floats=("duration",))
        if (self.length is None) == (self.duration is None):
            raise ConfigError(
                f"{owner}: got length={self.length!r}, duration={self.duration!r}; expected exactly one of them"
            )
        if self.length is not None:
            count(owner, "length", self.length, 1)
        else:
            check_positive(owner, "duration", self.duration, integer=False)
            if self.sample_rate is None:
                raise ConfigError(f"{owner}.sample_rate: got None with duration={self.duration!r}; expected Hz")
            count(owner, "sample_rate", self.sample_rate, 1)
            if not 1 <= self.n_samples <= INT32_MAX:
                raise ConfigError(
                    f"{owner}.duration: got {self.duration!r} s at {self.sample_rate} Hz, which is {self.n_samples} "
                    f"samples; expected 1 to {INT32_MAX} samples (int32 indices)"
                )

    @property
    def n_samples(self) -> int:
        """Samples kept: ``length`` or ``round(duration * sample_rate)``."""
        if self.length is not None:
            return self.length
        assert self.duration is not None and self.sample_rate is not None  # checked by __post_init__
        return round(self.duration * self.sample_rate)


class RandomCropOperator(ModalityOperator):
    """Cut a fixed-length window of clips; auxiliary fields are cut alike."""

    config: RandomCropConfig
    element_ndim: ClassVar[int | None] = 1
    element_axes: ClassVar[str] = _CLIP

    def _check(self, shape: tuple[int, ...]) -> int:
        need = self.config.n_samples
        if not shape or shape[-1] < need:
            raise DataError(
                f"RandomCropOperator: field {self.config.field_key!r} has shape {shape}; expected at least "
                f"{need} samples on the last axis"
            )
        return shape[-1] - need

    def generate_random_params(self, rng: jax.Array, data_shapes: Any) -> jax.Array:
        shape = shape_of(data_shapes, self.config.field_key)
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
