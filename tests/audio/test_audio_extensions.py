"""Extensions come from soundfile.available_formats(): every file libsndfile writes is found and read by
the folder dataset, and every extension listed names a format that opens."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from modalax_audio import AudioFolderDataset, AudioModalityConfig, audio_extensions
from modalax_audio.decode import FORMAT_EXTENSIONS

RATE = 8000
CLIP = (0.5 * np.sin(2 * np.pi * 440 * np.arange(RATE // 10) / RATE)).astype(np.float32)
CONFIG = AudioModalityConfig(sample_rate=RATE, duration=0.1, normalize=False)


def _writable() -> list[tuple[str, str, str]]:
    """(format, subtype, extension) for each extension of each format this libsndfile writes."""
    cases = []
    for fmt in sf.available_formats():
        if fmt == "RAW":  # header-less: read only with rate, channels and encoding given, never by name
            continue
        subtypes = [sf.default_subtype(fmt), *sf.available_subtypes(fmt)]
        subtype = next((s for s in subtypes if s and sf.check_format(fmt, s)), None)
        for ext in FORMAT_EXTENSIONS.get(fmt, ("." + fmt.lower(),)):
            if ext == ".opus":
                if "OPUS" in sf.available_subtypes("OGG"):
                    cases.append((fmt, "OPUS", ext))
            elif subtype is not None:
                cases.append((fmt, subtype, ext))
    return cases


CASES = _writable()


def test_the_list_is_every_formats_extensions() -> None:
    formats = sf.available_formats()
    want = {ext for fmt in formats for ext in FORMAT_EXTENSIONS.get(fmt, ("." + fmt.lower(),))}
    if "OPUS" not in sf.available_subtypes("OGG"):
        want.discard(".opus")
    assert set(audio_extensions()) == want and list(audio_extensions()) == sorted(want)
    assert ".8svx" in audio_extensions() and ".raw" not in audio_extensions()
    assert all(ext == ext.lower() and ext.startswith(".") for ext in audio_extensions())


def test_every_writable_format_is_found_and_read_by_the_folder(tmp_path: Path) -> None:
    written: dict[str, tuple[str, str]] = {}
    for i, (fmt, subtype, ext) in enumerate(CASES):
        rate = 48000 if subtype == "OPUS" else RATE  # Opus encodes at 8, 12, 16, 24 or 48 kHz; 48 kHz is safest
        data = CLIP if rate == RATE else np.repeat(CLIP, 6)
        name = f"{i:03d}_{fmt.lower()}{ext}"
        sf.write(tmp_path / name, data, rate, format=fmt, subtype=subtype)
        written[name] = (fmt, subtype)
    found = {p.name for p in AudioFolderDataset(CONFIG, tmp_path, labels=False).paths}
    assert set(written) <= found, f"not listed: {sorted(set(written) - found)}"
    # Off macOS, libsndfile keeps an SD2 file's resource fork in an AppleDouble "._" file beside it,
    # which the scan lists too (it has the extension) and which is not audio by itself.
    assert {name for name in found - set(written)} <= {f"._{name}" for name in written if name.endswith(".sd2")}
    ds = AudioFolderDataset(CONFIG, files=[tmp_path / name for name in sorted(written)])
    batch = ds.get_records(np.arange(len(ds)))
    for i, path in enumerate(ds.paths):
        fmt, subtype = written[path.name]
        ref, rate = sf.read(path, dtype="float32", always_2d=True)
        assert int(batch["source_sample_rate"][i]) == rate, path.name
        if rate == RATE:
            n = min(len(ref), CONFIG.n_time_steps)
            np.testing.assert_allclose(batch["audio"][i][:n], ref[:n, 0], atol=1e-6, err_msg=f"{fmt}/{subtype}")
    every_listed = {ext for _, _, ext in CASES}
    assert every_listed == set(audio_extensions()), "a listed extension no format could write here"
    assert len(ds) == len(written)


@pytest.mark.parametrize("ext", [".8svx", ".16sv", ".svx", ".iff"])
def test_amiga_iff_files_by_every_name(tmp_path: Path, ext: str) -> None:
    sf.write(tmp_path / f"clip{ext}", CLIP, RATE, format="SVX", subtype="PCM_16")
    ds = AudioFolderDataset(CONFIG, tmp_path)
    assert [p.name for p in ds.paths] == [f"clip{ext}"]
    np.testing.assert_allclose(ds[0]["audio"], CLIP, atol=1e-4)
