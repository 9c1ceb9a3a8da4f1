"""`modalax demo` end to end (short): figures beat chance and every promised file is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from PIL import Image


@pytest.mark.slow
def test_demo_trains_beats_chance_and_writes_outputs(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    cmd = [
        sys.executable,
        "-m",
        "modalax",
        "demo",
        "--out",
        str(out),
        "--quick",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ})
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    assert "OK: mean recall@1" in res.stdout
    summary = json.loads((out / "summary.json").read_text())
    chance = summary["chance_recall_at_1"]
    assert chance == 1 / 256
    for pair, after in summary["recall_at_1_after"].items():
        assert after > 20 * chance > summary["recall_at_1_before"][pair] / 2, pair
    assert summary["contrastive_loss"]["last"] < summary["contrastive_loss"]["first"]
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
    promised = [
        "pattern_random",
        "pattern_gradient",
        "pattern_checkerboard",
        "pattern_circles",
        "glyph_retrieval",
        "caption_to_image",
        "glyph_samples",
        "loss_contrastive",
        "loss_glyph_contrastive",
        "loss_caption_to_image_mse",
        "aligned/overview",
        "aligned/images",
        "aligned/audio_00_spec",
    ]
    for name in promised:
        with Image.open(out / f"{name}.png") as img:
            assert img.width > 200 and img.height > 100, name
    # summary.json lists every figure written, and every listed file exists
    listed = {Path(p).relative_to(out).as_posix() for p in summary["files"]}
    assert {f"{name}.png" for name in promised} <= listed
    assert all(Path(p).exists() for p in summary["files"])
    assert {p.relative_to(out).as_posix() for p in out.rglob("*.png")} <= listed
    wavs = sorted((out / "audio").glob("*.wav")) + sorted((out / "aligned").glob("*.wav"))
    assert len(wavs) >= 6
    with wave.open(str(wavs[0])) as f:
        assert f.getnframes() > 0 and f.getframerate() == 16000
    assert any(p.suffix == ".png" and "mel" in p.name for p in (out / "audio").iterdir())
