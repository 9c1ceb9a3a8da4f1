"""Real image and audio files of every awkward kind, and the modality decoders HF sources use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

#: The one decode path each modality plugin registers on its ModalityRecord.
DECODERS = {"image": "modalax_image.decode:decode_image", "audio": "modalax_audio.decode:decode_audio"}


@contextmanager
def registered_decoders() -> Iterator[None]:
    """The image and audio modalities with their decoders (registered here while a plugin lacks it)."""
    from modalax._src.registry import current

    registry = current()
    saved = []
    for name, target in DECODERS.items():
        record, owner = registry.get("modalities", (name,), label="modality")
        if record.decoder is None:
            registry.add(replace(record, decoder=target), owner=owner, override=True)
            saved.append((record, owner))
    try:
        yield
    finally:
        for record, owner in saved:
            registry.add(record, owner=owner, override=True)


def write_images(folder: Path) -> list[Path]:
    """Greyscale, RGBA, LA, palette with transparency, 16-bit, CMYK and EXIF-rotated files, of several sizes."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    files = {
        "grey.png": Image.fromarray(rng.integers(0, 256, (20, 30), dtype=np.uint8)),
        "rgba.png": Image.fromarray(rng.integers(0, 256, (18, 24, 4), dtype=np.uint8)),
        "la.png": Image.fromarray(rng.integers(0, 256, (12, 9, 2), dtype=np.uint8)),
        "deep.png": Image.fromarray(rng.integers(0, 65536, (16, 16), dtype=np.uint16)),
        "big.png": Image.fromarray(rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)),
        "cmyk.jpg": Image.fromarray(rng.integers(0, 256, (22, 14, 3), dtype=np.uint8)).convert("CMYK"),
    }
    palette = Image.fromarray(rng.integers(0, 8, (10, 15), dtype=np.uint8)).convert("P")
    palette.putpalette(list(rng.integers(0, 256, 8 * 3, dtype=np.uint8).tolist()))
    palette.info["transparency"] = 0
    files["palette.png"] = palette
    paths = []
    for name, img in files.items():
        img.save(folder / name)
        paths.append(folder / name)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    gradient = np.linspace(0, 255, 20 * 32 * 3).reshape(20, 32, 3).astype(np.uint8)
    Image.fromarray(gradient).save(folder / "rotated.jpg", exif=exif, quality=95)
    paths.append(folder / "rotated.jpg")
    modes = {p.name: Image.open(p).mode for p in paths}
    assert modes["grey.png"] == "L" and modes["la.png"] == "LA" and modes["deep.png"].startswith("I;16"), modes
    assert modes["palette.png"] == "P" and modes["rgba.png"] == "RGBA" and modes["cmyk.jpg"] == "CMYK", modes
    return sorted(paths)


def audio_column(paths: list[Path]) -> list[dict[str, object]]:
    """Audio cells as ``datasets`` stores them (encoding through ``datasets`` itself needs torchcodec)."""
    return [{"bytes": None, "path": str(p)} for p in paths]


def write_audio(folder: Path) -> tuple[list[Path], Path]:
    """``(good files, truncated WAV)``: 16-bit WAV, stereo FLAC at 22.05 kHz, float WAV; a WAV cut short."""
    import soundfile

    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(4000) / 8000
    tone = (0.4 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    soundfile.write(folder / "tone.wav", tone, 8000, subtype="PCM_16")
    stereo = np.stack([tone[:3000], -0.5 * tone[:3000]], axis=1)
    soundfile.write(folder / "stereo.flac", stereo, 22050)
    soundfile.write(folder / "float.wav", tone[:1500] * 0.1, 16000, subtype="FLOAT")
    soundfile.write(folder / "whole.wav", tone, 8000, subtype="PCM_16")
    data = (folder / "whole.wav").read_bytes()
    (folder / "whole.wav").unlink()
    truncated = folder / "truncated.wav"
    truncated.write_bytes(data[: len(data) * 3 // 5])  # the header still promises every sample
    return sorted([folder / "tone.wav", folder / "stereo.flac", folder / "float.wav"]), truncated
