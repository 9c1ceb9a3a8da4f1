"""The plugin's registration: alone it lists ['audio'], its hook module is light, previews are written."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

import modalax
from modalax_audio import SyntheticAudioDataset
from modalax_audio.plugin import KERNELS


def _python(code: str, **env: str) -> str:
    full_env = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=full_env
    ).stdout.strip()


def test_the_plugin_alone_lists_audio() -> None:
    out = _python(
        "import modalax; print(modalax.list_modalities())", MODALAX_LOAD_PLUGINS="audio", MODALAX_STRICT_PLUGINS="1"
    )
    assert out == "['audio']"


def test_discovery_imports_no_jax() -> None:
    code = (
        "import sys, modalax, modalax_audio; modalax.list_kernels(); modalax.list_datasets(); "
        "modalax.get_modality_record('audio') if hasattr(modalax, 'get_modality_record') else None; "
        "print('jax' in sys.modules)"
    )
    assert _python(code, MODALAX_LOAD_PLUGINS="audio") == "False"


def test_registrations() -> None:
    info = next(p for p in modalax.list_plugins() if p.id == "audio")
    assert info.status == "loaded" and info.distribution == "modalax-audio"
    assert modalax.list_kernels("audio.") == sorted(f"audio.{k}" for k in KERNELS)
    for name in (
        "stft",
        "magnitude",
        "power",
        "mel_filterbank",
        "mel_spectrogram",
        "amplitude_to_db",
        "mfcc",
        "resample",
        "griffin_lim",
    ):
        assert f"audio.{name}" in modalax.list_kernels()
    assert modalax.list_datasets("audio") == ["folder", "packed", "synthetic"]
    assert modalax.list_adapters("audio") == ["audio/default"]


def test_previewer_writes_wav_and_spectrogram_pictures(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    from modalax.plugin import get_modality_record, resolve

    ds = SyntheticAudioDataset(None, n_samples=4, seed=0)
    idx = np.arange(3)
    batch = {**ds.get_records(idx), **ds.host_records(idx)}
    written = resolve(get_modality_record("audio").previewer)(batch, tmp_path)
    wavs = sorted(p.name for p in written if p.suffix == ".wav")
    assert wavs == ["00_sine.wav", "01_noise.wav", "02_chirp.wav"]
    assert len([p for p in written if p.suffix == ".png"]) == 3
    with wave.open(str(tmp_path / "02_chirp.wav")) as f:
        assert f.getframerate() == 16000 and f.getnframes() == ds.n_time_steps


def test_cli_preview(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    from modalax._src.cli import main

    assert main(["preview", "audio", "synthetic", "--n", "2", "--out", str(tmp_path), "--set", "n_samples=5"]) == 0
    assert (tmp_path / "00_sine.wav").exists() and (tmp_path / "01_noise_spec.png").exists()


def test_previews_never_write_a_clipping_wav(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    import soundfile as sf

    from modalax.plugin import get_modality_record, resolve

    t = np.arange(4000) / 8000
    loud = 2.5 * np.sin(2 * np.pi * 440 * t)  # peaks at 2.5: save_wav alone would cut it off at 1.0
    quiet = 0.5 * np.sin(2 * np.pi * 330 * t)
    broken = quiet.copy()
    broken[10] = np.nan
    batch = {"audio": np.stack([loud, quiet, broken]).astype(np.float32), "sample_rate": 8000}
    with pytest.warns(RuntimeWarning) as caught:
        written = resolve(get_modality_record("audio").previewer)(batch, tmp_path)
    messages = [str(w.message) for w in caught]
    assert any("clip 00 peaks at 2.5" in m and "scaled by 1/2.5" in m for m in messages)
    assert any("clip 02 holds NaN or inf; not written" in m for m in messages)
    assert sorted(p.name for p in written if p.suffix == ".wav") == ["00.wav", "01.wav"]
    # save_wav writes round(x * 32767); soundfile reads int16 / 32768
    back, rate = sf.read(tmp_path / "00.wav", dtype="int16")
    assert rate == 8000 and np.max(np.abs(back)) == 32767  # peak exactly at full scale, nothing beyond
    np.testing.assert_allclose(back / 32767 * 2.5, loud, atol=2.5 / 32767)  # the waveform's shape survives
    quiet_back, _ = sf.read(tmp_path / "01.wav", dtype="int16")
    np.testing.assert_allclose(quiet_back / 32767, quiet, atol=1 / 32767)  # in range: written as it is
    notes = (tmp_path / "clips.txt").read_text()
    assert "scaled by 1/2.5" in notes and "02: 4000 samples at 8000 Hz, holds NaN or inf: not written" in notes
