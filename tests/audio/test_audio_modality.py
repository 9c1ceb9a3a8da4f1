"""AudioModalityConfig validation and AudioModality shapes, processing, generation, inverse and loss."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import modalax
from modalax import ConfigError, DataError
from modalax_audio import kernels as K
from modalax_audio.adapter import AudioModelAdapter
from modalax_audio.config import AudioModalityConfig, AudioRepresentation, MelScale, SpectrogramType
from modalax_audio.modality import AudioModality

signal = pytest.importorskip("scipy.signal")

SMALL = {"sample_rate": 8000, "duration": 0.25, "n_fft": 256, "hop_length": 64, "n_mel_channels": 32}


def test_config_defaults_follow_the_seed() -> None:
    cfg = AudioModalityConfig()
    assert cfg.representation is AudioRepresentation.RAW_WAVEFORM
    assert (cfg.sample_rate, cfg.n_mel_channels, cfg.hop_length, cfg.n_fft, cfg.duration, cfg.normalize) == (
        16000,
        80,
        256,
        1024,
        2.0,
        True,
    )
    assert cfg.n_time_steps == 32000 and cfg.n_time_frames == 1 + 32000 // 256


def test_n_mels_is_an_alias_of_n_mel_channels() -> None:
    assert AudioModalityConfig(n_mels=64).n_mel_channels == 64
    assert AudioModalityConfig(n_mel_channels=64).n_mels == 64
    cfg = AudioModalityConfig(n_mels=64)
    assert cfg.replace(n_mel_channels=40).n_mels == 40
    assert cfg.replace(n_mels=20).n_mel_channels == 20
    assert AudioModalityConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="n_mels is an alias"):
        AudioModalityConfig(n_mel_channels=40, n_mels=64)


def test_spectrogram_type_follows_or_must_agree_with_the_representation() -> None:
    assert AudioModalityConfig().spectral_kind is SpectrogramType.MEL
    assert AudioModalityConfig(representation="stft").spectral_kind is SpectrogramType.STFT
    assert AudioModalityConfig(spectrogram_type="stft").spectral_kind is SpectrogramType.STFT
    with pytest.raises(ConfigError, match="spectrogram_type"):
        AudioModalityConfig(representation=AudioRepresentation.MEL_SPECTROGRAM, spectrogram_type="stft")


def test_config_round_trips_through_a_dict() -> None:
    cfg = AudioModalityConfig(representation="MEL_SPECTROGRAM", mel_scale="htk", f_min=20.0, f_max=3800.0, **SMALL)
    assert cfg.mel_scale is MelScale.HTK
    assert AudioModalityConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sample_rate": 0}, "sample_rate: got 0"),
        ({"n_fft": -2}, "n_fft"),
        ({"hop_length": 2048}, "hop_length <= n_fft"),
        ({"duration": 0.0}, "duration"),
        ({"duration": 1e-6}, "at least one sample"),
        ({"normalize": "yes"}, "normalize"),
        ({"representation": "spectrum"}, "representation"),
        ({"f_max": 9000.0}, "f_max"),
        ({"representation": "stft", "duration": 0.01}, "more than n_fft // 2"),
    ],
)
def test_config_rejects_bad_values(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        AudioModalityConfig(**kwargs)


@pytest.mark.parametrize("rep", list(AudioRepresentation))
def test_output_shape_equals_what_the_kernels_return(rep: AudioRepresentation) -> None:
    m = AudioModality(AudioModalityConfig(representation=rep, **SMALL), rngs=nnx.Rngs(0))
    out = m.generate(3)
    assert out.shape == (3, *m.output_shape)
    audio = jnp.zeros((2, m.n_time_steps))
    assert m.compute_stft(audio).shape == (2, 129, m.n_time_frames)
    assert m.compute_mel_spectrogram(audio).shape == (2, 32, m.n_time_frames)
    assert bool(jnp.all(jnp.isfinite(out)))


def test_modality_is_registered_and_follows_the_protocol() -> None:
    assert "audio" in modalax.list_modalities()
    cls = modalax.get_modality("audio")
    assert cls is AudioModality and cls.name == "audio"
    m = cls(rngs=nnx.Rngs(0))
    assert modalax.validate_modality_interface(m, raise_on_error=True)
    assert m.get_extensions(None, rngs=nnx.Rngs(0)) == {}
    assert isinstance(m.get_adapter(None), AudioModelAdapter)


def test_compute_features_match_the_kernels() -> None:
    m = AudioModality(AudioModalityConfig(**SMALL))
    x = np.random.default_rng(1).uniform(-1, 1, (2, m.n_time_steps)).astype(np.float32)
    np.testing.assert_allclose(m.compute_mel_spectrogram(x), K.mel_spectrogram(x, 8000, 256, 64, 32), rtol=1e-6)
    np.testing.assert_allclose(m.compute_spectrogram(x), m.compute_mel_spectrogram(x))
    stft_m = AudioModality(AudioModalityConfig(spectrogram_type="stft", **SMALL))
    np.testing.assert_allclose(stft_m.compute_spectrogram(x), jnp.abs(K.stft(x, 256, 64)), rtol=1e-6)


def test_generate_is_deterministic_given_the_key() -> None:
    m = AudioModality(AudioModalityConfig(**SMALL))
    a = m.generate(4, rngs=nnx.Rngs(7))
    b = m.generate(4, rngs=nnx.Rngs(7))
    c = m.generate(4, rngs=nnx.Rngs(8))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert m.generate(2, duration=0.1, audio_type="noise").shape == (2, 800)
    np.testing.assert_allclose(np.max(np.abs(np.asarray(a)), axis=-1), 1.0, rtol=1e-5)  # normalize=True


def test_process_resamples_pads_trims_and_normalises() -> None:
    m = AudioModality(AudioModalityConfig(**SMALL))
    t = np.arange(11025) / 44100
    x = (0.25 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    y = np.asarray(m.process(x, sample_rate=44100))
    ref = signal.resample_poly(x.astype(np.float64), 80, 441)[: m.n_time_steps]
    ref = ref / np.max(np.abs(ref))
    assert y.shape == (m.n_time_steps,)
    assert 10 * np.log10(np.sum(ref**2) / np.sum((ref - y) ** 2)) > 60
    short = np.asarray(m.process(np.full((2, 100), 0.5, np.float32)))
    assert short.shape == (2, 2000) and np.all(short[:, :100] == 1.0) and np.all(short[:, 100:] == 0.0)
    pcm = np.asarray(m.process(np.full((3000,), 16384, np.int16)))
    assert pcm.shape == (2000,) and np.allclose(pcm, 1.0)
    raw = AudioModality(AudioModalityConfig(normalize=False, **SMALL)).process(np.full((3000,), 16384, np.int16))
    assert np.allclose(raw, 0.5)


def test_bad_audio_gives_clear_errors() -> None:
    m = AudioModality(AudioModalityConfig(**SMALL))
    with pytest.raises(DataError, match=r"shape \(2, 3, 4\), expected \(n_samples,\) or \(batch, n_samples\)"):
        m.process(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(DataError, match="empty audio"):
        m.process(np.zeros((0,), np.float32))
    bad = np.zeros(500, np.float32)
    bad[3] = np.nan
    with pytest.raises(DataError, match="NaN or inf"):
        m.process(bad)
    with pytest.raises(DataError, match="at 16000 Hz, expected 8000 Hz"):
        m.compute_mel_spectrogram(np.zeros(2000, np.float32), sample_rate=16000)
    with pytest.raises(ConfigError, match=r"process\.sample_rate"):
        m.process(np.zeros(100, np.float32), sample_rate=-5)
    with pytest.raises(ConfigError, match="n_samples"):
        m.generate(0)


@pytest.mark.parametrize("rep", [AudioRepresentation.STFT, AudioRepresentation.MEL_SPECTROGRAM])
def test_to_waveform_inverts_spectral_representations(rep: AudioRepresentation) -> None:
    cfg = AudioModalityConfig(representation=rep, **SMALL)
    m = AudioModality(cfg)
    t = np.arange(m.n_time_steps) / 8000
    x = (0.5 * np.sin(2 * np.pi * 500 * t)).astype(np.float32)[None]
    y = m.to_waveform(m.represent(x), n_iter=32, key=jax.random.key(0))
    assert y.shape == (1, m.n_time_steps)
    target = jnp.abs(K.stft(x, 256, 64))
    rebuilt = jnp.abs(K.stft(y, 256, 64))
    assert float(jnp.linalg.norm(rebuilt - target) / jnp.linalg.norm(target)) < 0.35
    spectrum = np.abs(np.fft.rfft(np.asarray(y[0])))
    assert abs(np.argmax(spectrum) * 8000 / m.n_time_steps - 500) < 20  # the tone survives


def test_loss_fn_values() -> None:
    m = AudioModality(AudioModalityConfig(**SMALL))
    x = m.generate(2, rngs=nnx.Rngs(0))
    assert float(m.loss_fn({"audio": x}, x)) == pytest.approx(0.0, abs=1e-6)
    noisy = x + 0.1
    mse = float(jnp.mean((noisy - x) ** 2))
    assert float(m.loss_fn({"audio": x}, noisy, spectral_weight=0.0)) == pytest.approx(mse, rel=1e-5)
    assert float(m.loss_fn({"audio": x}, noisy)) > mse
    mel = AudioModality(AudioModalityConfig(representation="mel_spectrogram", **SMALL))
    feats = mel.represent(x)
    assert float(mel.loss_fn({"audio": x}, feats)) == pytest.approx(0.0, abs=1e-4)
    with pytest.raises(DataError, match="loss_fn"):
        m.loss_fn({"audio": x}, x[:, :10])
