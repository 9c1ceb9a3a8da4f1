"""`modalax demo` end to end (short): training beats chance, every stage shows progress, every
file written is announced with what to look for, pictures are figures, sounds do not clip."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from modalax.plugin import ConfigError
from modalax_multimodal import demo
from modalax_multimodal.demo_pictures import CAPTIONS

FIGURES = [
    "glyph_retrieval",
    "caption_to_image",
    "glyph_samples",
    "loss_contrastive",
    "loss_glyph_contrastive",
    "loss_caption_to_image_mse",
]


def _demo(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "modalax", "demo", "--out", str(out), "--quick", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ})


@pytest.mark.slow
def test_demo_trains_beats_chance_and_writes_outputs(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    res = _demo(out)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert "OK: mean recall@1" in res.stdout
    # six numbered stages, each announced before its work
    assert re.findall(r"^\[(\d)/6\] ", res.stdout, re.M) == ["1", "2", "3", "4", "5", "6"]
    summary = json.loads((out / "summary.json").read_text())
    chance = summary["chance_recall_at_1"]
    assert chance == 1 / 256
    for pair, after in summary["recall_at_1_after"].items():
        assert after > 20 * chance > summary["recall_at_1_before"][pair] / 2, pair
    assert summary["contrastive_loss"]["last"] < summary["contrastive_loss"]["first"]
    assert 0.5 < summary["data"]["stream"]["audio_peak"] <= 1.0  # the gain operator only attenuates
    glyphs = summary["glyphs"]
    retrieval = glyphs["caption_to_image_retrieval"]
    assert retrieval["recall@1"] > 20 * retrieval["chance_recall@1"]
    assert retrieval["factors_match@1"] >= retrieval["recall@1"]
    correlation = glyphs["generator_correlation"]
    assert correlation["held_out_samples"] == 256
    assert correlation["mean"] >= 0.8, correlation
    assert 0.0 <= correlation["min"] <= correlation["median"] <= 1.0
    assert glyphs["generator_mse"]["last"] < glyphs["generator_mse"]["first"]
    assert glyphs["stream"]["samples"] == 2048
    assert summary["plots"] == "matplotlib"
    assert summary["data"]["stream"]["samples"] == 1024
    assert {p["id"] for p in summary["plugins"]} >= {"image", "text", "audio", "multimodal"}
    for name in FIGURES:  # figures (title, axes), not bare pictures; each announced with its caption
        with Image.open(out / f"{name}.png") as img:
            assert img.width > 400 and img.height > 250, name
        assert f"  {name}.png" in res.stdout and CAPTIONS[f"{name}.png"] in res.stdout, name
    assert CAPTIONS["sounds"] in res.stdout
    # exactly what was announced was written: no picture nobody explains
    listed = {Path(p).relative_to(out).as_posix() for p in summary["files"]}
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert on_disk == listed | {"summary.json"}
    assert {f"{name}.png" for name in FIGURES} <= listed
    wavs = sorted((out / "sounds").glob("*.wav"))
    assert len(wavs) == 6 and all(re.fullmatch(r"sound_\d_[a-z_]+\.wav", w.name) for w in wavs)
    for wav in wavs:
        audio, rate = sf.read(wav)
        assert rate == 8000 and audio.size > 0
        assert 0.05 < np.abs(audio).max() < 1.0, wav.name  # audible, and never at the clipping rail


def test_demo_refuses_to_start_without_matplotlib_unless_asked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    monkeypatch.setattr(demo, "_HAVE_PLOTS", False)
    with pytest.raises(ConfigError, match=r'python -m pip install "matplotlib>=3\.8".*--no-figures'):
        demo.run(parser.parse_args([]))
    assert capsys.readouterr().out == ""  # refused before any work
    demo._check_figures(parser.parse_args(["--no-figures"]))  # asked for numbers and sounds only: goes ahead


def test_every_demo_option_says_what_it_does_and_its_default() -> None:
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    for action in parser._actions:
        if action.dest == "help":
            continue
        assert action.help, action.dest
        if action.default not in (None, False):
            assert "default" in action.help, action.dest
