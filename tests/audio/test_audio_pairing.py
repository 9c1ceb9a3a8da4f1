"""The audio pairing (``AudioModality.pairing``): rendering, features, encoder and quality, as multimodal sees them."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import modalax
from modalax import ConfigError, DataError
from modalax.plugin import ModalityPairing, pairing_of
from modalax_audio.evaluation import log_spectral_distance
from modalax_audio.pairing import AUDIO_STD, AudioEncoder, AudioPairing, audio_period, render_audio_reference

KEY = jax.random.key(7)
RATE = 8000


@pytest.fixture(scope="module")
def pairing() -> AudioPairing:
    p = pairing_of("audio", {"sample_rate": RATE, "duration": 0.25})
    assert isinstance(p, AudioPairing)
    return p


def test_reached_through_the_registry_with_its_keys_and_options(pairing: AudioPairing) -> None:
    assert modalax.get_modality("audio").pairing().sample_shape == (16000,)  # the API reference's default
    assert isinstance(pairing, ModalityPairing) and pairing.field == "audio"
    assert pairing.batch_keys == ("audio",) and pairing.dtype == "float32" and pairing.sample_shape == (2000,)
    assert pairing.options() == {"sample_rate": RATE, "duration": 0.25, "n_fft": 1024, "hop_length": 256}
    assert pairing_of("audio", pairing.options()).options() == pairing.options()


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"sample_rate": 0}, r"AudioPairing\.sample_rate: got 0"),
        ({"duration": 0.0}, r"duration: got 0.0, expected a positive number"),
        ({"duration": 0.0005}, r"\(8 samples\), expected at least 16 samples"),
        ({"n_fft": 0}, r"n_fft: got 0"),
        ({"rate": 8000}, r"AudioPairing: unknown option\(s\) 'rate'"),
    ],
)
def test_bad_options_are_config_errors(options: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        pairing_of("audio", options)


def test_partials_make_whole_cycles_per_period_and_are_distinct(pairing: AudioPairing) -> None:
    freqs = pairing.partials(32)
    period = audio_period(2000, RATE)
    assert period == 1000 and len(freqs) == 16 and len(np.unique(freqs)) == 16
    np.testing.assert_allclose(freqs * period / RATE, np.round(freqs * period / RATE), atol=1e-9)
    assert freqs.min() >= 200 and freqs.max() <= 0.45 * RATE
    ratios = np.diff(np.log(freqs))
    assert ratios.std() < 0.25 * ratios.mean()  # roughly log-spaced (rounded to the period's grid)
    short = pairing_of("audio", {"duration": 0.001})  # 16 samples: a valid clip, too short for 16 partials
    with pytest.raises(ConfigError, match=r"duration: got 0.001 s at 16000 Hz, too short to hold 16 distinct"):
        short.make_world(KEY, 32)


def test_render_matches_the_one_sinusoid_at_a_time_reference(pairing: AudioPairing) -> None:
    world = pairing.make_world(KEY, 12)
    u = np.random.default_rng(0).standard_normal((4, 12))
    clips = np.asarray(pairing.render(world, jnp.asarray(u, jnp.float32), None))
    assert clips.shape == (4, 2000) and clips.dtype == np.float32
    for i in range(4):
        np.testing.assert_allclose(clips[i], render_audio_reference(world, u[i], RATE), atol=2e-5)
    again = pairing.make_world(KEY, 12)
    np.testing.assert_array_equal(world.basis, again.basis)
    # the mix has orthonormal rows (every direction of u equally audible), scaled to AUDIO_STD
    mix = np.asarray(world.mix, np.float64)
    np.testing.assert_allclose(mix @ mix.T, np.eye(12) * AUDIO_STD**2 * 2 / 12, atol=1e-7)


def test_clips_have_the_set_loudness_and_energy_only_at_the_partials(pairing: AudioPairing) -> None:
    world = pairing.make_world(KEY, 32)
    u = jax.random.normal(jax.random.key(1), (256, 32))
    clips = np.asarray(pairing.render(world, u, None), np.float64)
    assert np.abs(clips).max() <= 1.0
    assert np.std(clips[:, 100:-100]) == pytest.approx(AUDIO_STD, rel=0.1)
    spectrum = np.abs(np.fft.rfft(clips[:, 500:1500], axis=-1)) ** 2  # one whole period, past the fades
    bins = np.round(np.asarray(world.freqs) * 1000 / RATE).astype(int)
    assert spectrum[:, bins].sum() / spectrum.sum() > 0.999


def test_features_are_a_fixed_random_projection(pairing: AudioPairing) -> None:
    x = np.random.default_rng(2).standard_normal((3, 2000)).astype(np.float32)
    proj = np.asarray(jax.random.normal(jax.random.key(2000), (2000, 128))) / np.sqrt(2000)
    np.testing.assert_allclose(pairing.features(x), x @ proj, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(pairing.features(x[..., None]), pairing.features(x), rtol=1e-6)
    with pytest.raises(DataError, match=r"features: got shape \(2000,\)"):
        pairing.features(x[0])


def test_encoder_sees_sign_and_phase_not_only_the_magnitude_spectrum() -> None:
    # the rendered clips carry the latent in the amplitudes of sin/cos partials: a magnitude
    # spectrum alone maps x and -x (and every phase of a partial) to the same embedding
    t = np.arange(2048) / 16000.0
    sine, cosine = np.sin(2 * np.pi * 500 * t), np.cos(2 * np.pi * 500 * t)
    clips = jnp.asarray(np.stack([sine, -sine, cosine]) * 0.2, jnp.float32)
    enc = pairing_of("audio", {"duration": 0.128}).encoder(8, rngs=nnx.Rngs(0))
    assert isinstance(enc, AudioEncoder) and enc.frame_length == 256
    emb = np.asarray(enc(clips))
    for other in (1, 2):
        gap = np.linalg.norm(emb[0] - emb[other]) / np.linalg.norm(emb[0])
        assert gap > 1e-2, (other, gap)
    short = pairing_of("audio", {"duration": 0.005}).encoder(8, rngs=nnx.Rngs(0), hidden_dim=16)
    assert short.frame_length == 80 and short.filterbank.out_features == 16  # frames never longer than the clip


def test_quality_is_the_plugins_log_spectral_distance() -> None:
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(2, 2048)).astype(np.float32)
    gen = (ref + 0.1 * rng.normal(size=ref.shape)).astype(np.float32)
    p = pairing_of("audio", {"n_fft": 512, "hop_length": 128})
    lsd = log_spectral_distance(gen, ref, n_fft=512, hop_length=128)
    assert p.quality(gen, ref) == {"log_spectral_distance": pytest.approx(float(np.mean(lsd)), rel=1e-6)}
    assert p.quality(ref, ref)["log_spectral_distance"] == pytest.approx(0.0, abs=1e-3)
    with pytest.raises(DataError, match=r"audio shapes \(2, 2048\) and \(3, 2048\)"):
        p.quality(gen, np.zeros((3, 2048), np.float32))
