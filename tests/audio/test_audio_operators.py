"""Audio operators: values of each transform, per-record randomness, loader integration."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import modalax
from modalax import ConfigError, DataError
from modalax_audio import (
    AdditiveNoiseConfig,
    AdditiveNoiseOperator,
    AudioModalityConfig,
    FrequencyMaskOperator,
    GainConfig,
    GainOperator,
    MaskConfig,
    RandomCropConfig,
    RandomCropOperator,
    SyntheticAudioDataset,
    TimeMaskOperator,
    TimeShiftConfig,
    TimeShiftOperator,
)

X = np.random.default_rng(0).uniform(-0.5, 0.5, (4, 1000)).astype(np.float32)


def rngs() -> nnx.Rngs:
    return nnx.Rngs(0, augment=1)


def test_operators_are_registered() -> None:
    assert modalax.list_operators("audio") == [
        "audio/additive_noise",
        "audio/frequency_mask",
        "audio/gain",
        "audio/random_crop",
        "audio/time_mask",
        "audio/time_shift",
    ]
    assert modalax.get_operator("audio", "gain") is GainOperator


def test_gain_in_db() -> None:
    out = GainOperator(GainConfig(gain_db=-6.0))({"audio": X})["audio"]
    np.testing.assert_allclose(out, X * 10 ** (-6 / 20), rtol=1e-6)
    op = GainOperator(
        GainConfig(stochastic=True, stream_name="augment", min_gain_db=-3.0, max_gain_db=3.0), rngs=rngs()
    )
    ratio = np.asarray(op({"audio": X})["audio"])[:, 0] / X[:, 0]
    db = 20 * np.log10(ratio)
    assert np.all((db >= -3 - 1e-4) & (db <= 3 + 1e-4)) and np.ptp(db) > 0.1


@pytest.mark.parametrize("shift", [3, -5])
def test_time_shift_roll_and_zero(shift: int) -> None:
    rolled = TimeShiftOperator(TimeShiftConfig(shift=shift))({"audio": X})["audio"]
    np.testing.assert_array_equal(rolled, np.roll(X, shift, axis=-1))
    zeroed = np.asarray(TimeShiftOperator(TimeShiftConfig(shift=shift, mode="zero"))({"audio": X})["audio"])
    expected = np.roll(X, shift, axis=-1)
    if shift > 0:
        expected[:, :shift] = 0
    else:
        expected[:, shift:] = 0
    np.testing.assert_array_equal(zeroed, expected)


def test_random_time_shift_moves_auxiliary_fields_alike() -> None:
    op = TimeShiftOperator(
        TimeShiftConfig(stochastic=True, stream_name="augment", max_shift=50, auxiliary_fields=("mask",)), rngs=rngs()
    )
    out = op({"audio": X, "mask": X * 2})
    np.testing.assert_allclose(out["mask"], 2 * np.asarray(out["audio"]), rtol=1e-6)
    assert not np.allclose(out["audio"], X)


@pytest.mark.parametrize("snr", [0.0, 10.0, 30.0])
def test_noise_hits_the_target_snr(snr: float) -> None:
    out = AdditiveNoiseOperator(AdditiveNoiseConfig(snr_db=snr), rngs=rngs())({"audio": X})["audio"]
    noise = np.asarray(out) - X
    measured = 10 * np.log10(np.mean(X**2, axis=-1) / np.mean(noise**2, axis=-1))
    np.testing.assert_allclose(measured, snr, atol=1e-3)
    assert abs(np.corrcoef(noise[0], noise[1])[0, 1]) < 0.15  # each record draws its own noise


def test_noise_snr_range_and_silence() -> None:
    op = AdditiveNoiseOperator(AdditiveNoiseConfig(min_snr_db=5.0, max_snr_db=15.0), rngs=rngs())
    out = np.asarray(op({"audio": X})["audio"])
    measured = 10 * np.log10(np.mean(X**2, axis=-1) / np.mean((out - X) ** 2, axis=-1))
    assert np.all((measured > 5 - 1e-3) & (measured < 15 + 1e-3))
    silent = op({"audio": np.zeros((2, 100), np.float32)})["audio"]
    assert np.all(np.asarray(silent) == 0)


def test_spec_augment_masks() -> None:
    spec = jnp.ones((8, 40, 60))
    out = np.asarray(
        FrequencyMaskOperator(MaskConfig(max_width=10, num_masks=2), rngs=rngs())({"audio": spec})["audio"]
    )
    masked_rows = (out == 0).all(axis=-1)
    assert np.all((out == 0) | (out == 1))
    assert np.all(masked_rows.sum(-1) <= 20) and masked_rows.sum() > 0
    assert np.array_equal((out == 0).any(axis=-1), masked_rows)  # whole channels, never partial
    out = np.asarray(TimeMaskOperator(MaskConfig(max_width=15, mask_value=-1.0), rngs=rngs())({"audio": spec})["audio"])
    masked_cols = (out == -1).all(axis=-2)
    assert np.all(masked_cols.sum(-1) <= 15) and masked_cols.sum() > 0
    for row in masked_cols:  # one contiguous band per example
        idx = np.nonzero(row)[0]
        assert idx.size == 0 or np.array_equal(idx, np.arange(idx[0], idx[-1] + 1))
    with pytest.raises(DataError, match=r"elements of rank 2 \(n_freq, n_frames\), i.e. rank 3"):
        FrequencyMaskOperator(MaskConfig(), rngs=rngs())({"audio": X})


def test_crop_random_and_centred() -> None:
    centred = RandomCropOperator(RandomCropConfig(length=100))({"audio": X})["audio"]
    np.testing.assert_array_equal(centred, X[:, 450:550])
    op = RandomCropOperator(
        RandomCropConfig(duration=0.01, sample_rate=16000, stochastic=True, stream_name="augment"), rngs=rngs()
    )
    out = np.asarray(op({"audio": X})["audio"])
    assert out.shape == (4, 160)
    for row, src in zip(out, X, strict=True):
        starts = [s for s in range(1000 - 160 + 1) if np.array_equal(src[s : s + 160], row)]
        assert len(starts) == 1
    with pytest.raises(DataError, match="at least 2000 samples"):
        RandomCropOperator(RandomCropConfig(length=2000))({"audio": X})


def test_bad_operator_configs() -> None:
    with pytest.raises(ConfigError, match="min_gain_db"):
        GainConfig(min_gain_db=3.0, max_gain_db=-3.0)
    with pytest.raises(ConfigError, match="mode"):
        TimeShiftConfig(mode="wrap")
    with pytest.raises(ConfigError, match="stochastic"):
        AdditiveNoiseConfig(stochastic=False)
    with pytest.raises(ConfigError, match="both or neither"):
        AdditiveNoiseConfig(min_snr_db=3.0)
    with pytest.raises(ConfigError, match="exactly one"):
        RandomCropConfig()
    with pytest.raises(ConfigError, match="sample_rate"):
        RandomCropConfig(duration=0.5)
    with pytest.raises(ConfigError, match="augment"):
        AdditiveNoiseOperator(AdditiveNoiseConfig(), rngs=nnx.Rngs(0))


def test_operator_chain_in_the_loader_is_deterministic() -> None:
    ds = SyntheticAudioDataset(AudioModalityConfig(sample_rate=8000, duration=0.25), n_samples=8, seed=0)

    def ops() -> list:
        return [
            GainOperator(GainConfig(stochastic=True, stream_name="augment"), rngs=rngs()),
            AdditiveNoiseOperator(AdditiveNoiseConfig(snr_db=20.0), rngs=rngs()),
            RandomCropOperator(RandomCropConfig(length=1000, stochastic=True, stream_name="augment"), rngs=rngs()),
        ]

    a = [b["audio"] for b in modalax.DataLoader(ds, 4, seed=3, shuffle=False, operators=ops())]
    b = [b["audio"] for b in modalax.DataLoader(ds, 4, seed=3, shuffle=False, operators=ops())]
    assert a[0].shape == (4, 1000)
    np.testing.assert_array_equal(np.concatenate(a), np.concatenate(b))
    clean = np.asarray(ds.get_records(np.arange(8))["audio"])
    ratio = np.std(np.concatenate(a), axis=1) / np.std(clean, axis=1)
    assert np.ptp(ratio) > 0.1  # each record got its own gain


def _records(batch_size: int, data: np.ndarray, op) -> dict[int, np.ndarray]:
    loader = modalax.DataLoader(
        modalax.ArraySource({"audio": data}), batch_size, seed=0, operators=[op], with_indices=True, drop_last=True
    )
    return {int(i): a for b in loader for i, a in zip(np.asarray(b["index"]), np.asarray(b["audio"]), strict=True)}


EVERY_OPERATOR = {
    "additive_noise": (
        lambda: AdditiveNoiseOperator(AdditiveNoiseConfig(min_snr_db=0.0, max_snr_db=20.0), rngs=rngs()),
        (1000,),
    ),
    "gain": (lambda: GainOperator(GainConfig(stochastic=True, stream_name="augment"), rngs=rngs()), (1000,)),
    "time_shift": (
        lambda: TimeShiftOperator(TimeShiftConfig(max_shift=300, stochastic=True, stream_name="augment"), rngs=rngs()),
        (1000,),
    ),
    "random_crop": (
        lambda: RandomCropOperator(RandomCropConfig(length=300, stochastic=True, stream_name="augment"), rngs=rngs()),
        (1000,),
    ),
    "frequency_mask": (lambda: FrequencyMaskOperator(MaskConfig(max_width=5), rngs=rngs()), (20, 50)),
    "time_mask": (lambda: TimeMaskOperator(MaskConfig(max_width=9), rngs=rngs()), (20, 50)),
}


@pytest.mark.parametrize("name", sorted(EVERY_OPERATOR))
def test_every_operator_gives_a_record_the_same_bits_in_any_batch_size(name: str) -> None:
    # 1,000-sample clips: XLA:CPU's jnp.mean of the signal power gave other last bits in batches of 16.
    make, shape = EVERY_OPERATOR[name]
    data = np.random.default_rng(1).uniform(-0.5, 0.5, (48, *shape)).astype(np.float32)
    small, large = _records(3, data, make()), _records(16, data, make())
    assert sorted(small) == sorted(large) == list(range(48))
    for i in range(48):
        np.testing.assert_array_equal(small[i], large[i], err_msg=f"{name}, record {i}")
    assert any(not np.array_equal(small[i], data[i]) for i in range(48))  # the operator did something
