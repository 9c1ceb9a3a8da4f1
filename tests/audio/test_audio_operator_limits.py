"""Audio operators refuse what they cannot do right: unbatched input (element ranks), parameters that
would overflow (tables of cases), values that do not fit the field's dtype; and never overflow inside."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from modalax import ConfigError, DataError
from modalax_audio import (
    AdditiveNoiseConfig,
    AdditiveNoiseOperator,
    FrequencyMaskOperator,
    GainConfig,
    GainOperator,
    MaskConfig,
    RandomCropConfig,
    RandomCropOperator,
    TimeMaskOperator,
    TimeShiftConfig,
    TimeShiftOperator,
)
from modalax_audio.operators import DB_LIMIT, MAX_MASKS

RNG = np.random.default_rng(0)
CLIPS = RNG.uniform(-0.5, 0.5, (3, 400)).astype(np.float32)
SPECS = RNG.uniform(-80, 0, (3, 16, 40)).astype(np.float32)


def rngs() -> nnx.Rngs:
    return nnx.Rngs(0, augment=1)


# name -> (operator factory, element rank, how its axes read, a valid batch)
OPERATORS: dict[str, tuple[Callable[[], Any], int, str, np.ndarray]] = {
    "gain": (lambda: GainOperator(GainConfig(gain_db=3.0)), 1, r"\(n_time_steps,\)", CLIPS),
    "time_shift": (lambda: TimeShiftOperator(TimeShiftConfig(shift=5)), 1, r"\(n_time_steps,\)", CLIPS),
    "additive_noise": (
        lambda: AdditiveNoiseOperator(AdditiveNoiseConfig(), rngs=rngs()),
        1,
        r"\(n_time_steps,\)",
        CLIPS,
    ),
    "random_crop": (lambda: RandomCropOperator(RandomCropConfig(length=100)), 1, r"\(n_time_steps,\)", CLIPS),
    "time_mask": (lambda: TimeMaskOperator(MaskConfig(), rngs=rngs()), 2, r"\(n_freq, n_frames\)", SPECS),
    "frequency_mask": (lambda: FrequencyMaskOperator(MaskConfig(), rngs=rngs()), 2, r"\(n_freq, n_frames\)", SPECS),
}


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_each_operator_declares_its_element_rank(name: str) -> None:
    make, rank, axes, batch = OPERATORS[name]
    op = make()
    assert type(op).element_ndim == rank and re.fullmatch(axes, type(op).element_axes)
    assert np.asarray(op({"audio": batch})["audio"]).shape[0] == batch.shape[0]  # a batch works
    shape = re.escape(str(batch[0].shape))
    expected = (
        rf"{type(op).__name__}: field 'audio' has shape {shape}, expected a batch of elements of rank {rank} {axes}"
    )
    with pytest.raises(DataError, match=expected + r".*add the batch axis \(x\[None\]\) for one element"):
        op({"audio": batch[0]})  # one element without its batch axis
    with pytest.raises(DataError, match=rf"rank {rank + 1} with the leading batch axis") as err:
        op({"audio": batch[:, None]})  # an extra axis: no hint to add one
    assert "add the batch axis" not in str(err.value)


OUT_OF_RANGE: list[tuple[str, Callable[[], Any], str]] = [
    ("gain 1000 dB", lambda: GainConfig(gain_db=1000.0), r"GainConfig.gain_db: got 1000.0, expected -120 to 120 dB"),
    ("gain -1000 dB", lambda: GainConfig(gain_db=-1000.0), r"GainConfig.gain_db: got -1000.0, expected -120 to 120"),
    ("gain NaN", lambda: GainConfig(gain_db=float("nan")), r"GainConfig.gain_db: got nan, expected a finite number"),
    (
        "gain range top",
        lambda: GainConfig(max_gain_db=500.0),
        r"GainConfig.max_gain_db: got 500.0, expected -120 to 120",
    ),
    ("gain range bottom", lambda: GainConfig(min_gain_db=-121.0), r"GainConfig.min_gain_db: got -121.0"),
    ("gain range order", lambda: GainConfig(min_gain_db=3.0, max_gain_db=-3.0), r"min_gain_db=3.0 > max_gain_db=-3.0"),
    (
        "snr -500 dB",
        lambda: AdditiveNoiseConfig(snr_db=-500.0),
        r"AdditiveNoiseConfig.snr_db: got -500.0, expected -120",
    ),
    ("snr inf", lambda: AdditiveNoiseConfig(snr_db=float("inf")), r"snr_db: got inf, expected a finite number"),
    ("snr range", lambda: AdditiveNoiseConfig(min_snr_db=0.0, max_snr_db=200.0), r"max_snr_db: got 200.0"),
    (
        "shift past int32",
        lambda: TimeShiftConfig(shift=2**40),
        r"TimeShiftConfig.shift: got 1099511627776, expected -2147483647 to 2147483647",
    ),
    (
        "max_shift past int32",
        lambda: TimeShiftConfig(max_shift=2**31 - 1),
        r"TimeShiftConfig.max_shift: got 2147483647, expected 0 to 2147483646",
    ),
    ("negative max_shift", lambda: TimeShiftConfig(max_shift=-1), r"max_shift: got -1, expected 0 to"),
    (
        "shift not an int",
        lambda: TimeShiftConfig(shift=1.5),
        r"TimeShiftConfig.shift: got 1.5 \(float\), expected an int",
    ),
    (
        "too many masks",
        lambda: MaskConfig(num_masks=MAX_MASKS + 1),
        rf"MaskConfig.num_masks: got {MAX_MASKS + 1}, expected 1 to {MAX_MASKS}",
    ),
    ("no masks", lambda: MaskConfig(num_masks=0), r"num_masks: got 0, expected 1 to"),
    (
        "mask width past int32",
        lambda: MaskConfig(max_width=2**31),
        r"max_width: got 2147483648, expected 0 to 2147483647",
    ),
    (
        "mask value past float32",
        lambda: MaskConfig(mask_value=1e39),
        r"MaskConfig.mask_value: got 1e\+39, expected .*finite in float32",
    ),
    ("mask value NaN", lambda: MaskConfig(mask_value=float("nan")), r"mask_value: got nan, expected a finite number"),
    (
        "crop length past int32",
        lambda: RandomCropConfig(length=2**31),
        r"RandomCropConfig.length: got 2147483648, expected 1 to 2147483647",
    ),
    (
        "crop duration past int32",
        lambda: RandomCropConfig(duration=1e6, sample_rate=48000),
        r"RandomCropConfig.duration: got 1000000.0 s at 48000 Hz, which is 48000000000 samples; "
        r"expected 1 to 2147483647",
    ),
    (
        "crop under a sample",
        lambda: RandomCropConfig(duration=1e-6, sample_rate=48000),
        r"which is 0 samples; expected 1 to",
    ),
]


@pytest.mark.parametrize(("what", "make", "message"), OUT_OF_RANGE, ids=[c[0] for c in OUT_OF_RANGE])
def test_parameters_that_could_overflow_are_refused(what: str, make: Callable[[], Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()


def test_the_limits_themselves_are_accepted_and_finite() -> None:
    x = CLIPS.astype(np.float64)
    for gain in (-DB_LIMIT, DB_LIMIT):
        out = np.asarray(GainOperator(GainConfig(gain_db=gain))({"audio": CLIPS})["audio"], np.float64)
        np.testing.assert_allclose(out, x * 10 ** (gain / 20), rtol=1e-6)
    for snr in (-DB_LIMIT, DB_LIMIT):
        out = np.asarray(AdditiveNoiseOperator(AdditiveNoiseConfig(snr_db=snr), rngs=rngs())({"audio": CLIPS})["audio"])
        noise = out.astype(np.float64) - x
        assert np.all(np.isfinite(out))
        if snr < 0:  # at +120 dB the noise is below float32's resolution of the clip
            np.testing.assert_allclose(10 * np.log10(np.mean(x**2, -1) / np.mean(noise**2, -1)), snr, atol=1e-3)


@pytest.mark.parametrize("dtype", [np.float16, jnp.bfloat16])
def test_half_precision_input_computes_in_float32(dtype: Any) -> None:
    half = jnp.asarray(CLIPS, dtype)
    out = GainOperator(GainConfig(gain_db=100.0))({"audio": half})["audio"]  # 0.5 * 1e5 overflows float16
    assert out.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(out)))
    np.testing.assert_allclose(np.asarray(out), np.asarray(half, np.float32) * 1e5, rtol=1e-6)
    noisy = AdditiveNoiseOperator(AdditiveNoiseConfig(snr_db=-100.0), rngs=rngs())({"audio": half})["audio"]
    assert noisy.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(noisy)))


def test_noise_on_loud_clips_does_not_overflow_the_power() -> None:
    loud = CLIPS * np.float32(1e20)  # squares overflow float32; root mean squares do not
    out = np.asarray(AdditiveNoiseOperator(AdditiveNoiseConfig(snr_db=10.0), rngs=rngs())({"audio": loud})["audio"])
    assert np.all(np.isfinite(out))
    noise = out.astype(np.float64) - loud.astype(np.float64)
    measured = 10 * np.log10(np.mean(loud.astype(np.float64) ** 2, -1) / np.mean(noise**2, -1))
    np.testing.assert_allclose(measured, 10.0, atol=1e-3)


@pytest.mark.parametrize(
    ("dtype", "value", "message"),
    [
        (
            jnp.float16,
            -1e5,
            r"TimeMaskOperator.mask_value: got -100000.0 for field 'audio' of dtype float16; "
            r"expected a value within \+-65504",
        ),
        (
            jnp.int16,
            0.5,
            r"mask_value: got 0.5 for field 'audio' of dtype int16; expected an integer in \[-32768, 32767\]",
        ),
        (jnp.int16, 40000.0, r"got 40000.0 .* int16; expected an integer in \[-32768, 32767\]"),
    ],
)
def test_a_mask_value_must_fit_the_fields_dtype(dtype: Any, value: float, message: str) -> None:
    op = TimeMaskOperator(MaskConfig(mask_value=value), rngs=rngs())
    with pytest.raises(ConfigError, match=message):
        op({"audio": jnp.ones((2, 8, 20), dtype)})
    assert TimeMaskOperator(MaskConfig(mask_value=-80.0), rngs=rngs())({"audio": jnp.ones((2, 8, 20), dtype)})


def test_nan_passes_clip_range_through() -> None:
    # jnp.clip keeps NaN (every comparison with NaN is false); inf is clipped to the bound.
    x = np.array([[np.nan, 0.9, np.inf, -np.inf]], np.float32)
    out = np.asarray(GainOperator(GainConfig(gain_db=6.0, clip_range=(-1.0, 1.0)))({"audio": x})["audio"])
    assert np.isnan(out[0, 0]) and out[0, 1:].tolist() == [1.0, 1.0, -1.0]
