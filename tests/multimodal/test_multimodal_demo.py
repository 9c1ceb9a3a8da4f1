"""`modalax demo` end to end (short): figures beat chance and every promised file is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

from PIL import Image


def test_demo_trains_beats_chance_and_writes_outputs(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    cmd = [
        sys.executable,
        "-m",
        "modalax",
        "demo",
        "--out",
        str(out),
        "--steps",
        "150",
        "--samples",
        "1024",
        "--eval-samples",
        "256",
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
    assert summary["text_to_image_mse"]["last"] < summary["text_to_image_mse"]["first"]
    assert summary["data"]["stream"]["samples"] == 1024
    assert {p["id"] for p in summary["plugins"]} >= {"image", "text", "audio", "multimodal"}
    for name in (
        "pattern_random",
        "pattern_gradient",
        "pattern_checkerboard",
        "pattern_circles",
        "text_to_image",
        "loss_contrastive",
        "loss_text_to_image",
    ):
        with Image.open(out / f"{name}.png") as img:
            assert img.width > 32 and img.height > 32
    wavs = sorted((out / "audio").glob("*.wav")) + sorted((out / "aligned").glob("*.wav"))
    assert len(wavs) >= 6
    with wave.open(str(wavs[0])) as f:
        assert f.getnframes() > 0 and f.getframerate() == 16000
    assert any(p.suffix == ".png" and "mel" in p.name for p in (out / "audio").iterdir())
