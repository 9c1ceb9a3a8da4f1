"""`modalax preview` on a user's own folder: a seeded draw spread over the classes, tiles named by
class, the resize mode stated; audio previews without the padded-edge bars of a centred STFT."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modalax._src.cli import main
from modalax._src.cli_preview import choose_indices

pytest.importorskip("modalax_image")
Image = pytest.importorskip("PIL.Image")


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """cat: 12 photos, dog: 5, frog: 5; every other one wider than tall."""
    for name, count, colour in (("cat", 12, (200, 120, 40)), ("dog", 5, (60, 90, 200)), ("frog", 5, (40, 170, 60))):
        folder = tmp_path / "photos" / name
        folder.mkdir(parents=True)
        for i in range(count):
            size = (60, 30) if i % 2 else (30, 40)
            Image.new("RGB", size, colour).save(folder / f"{name}_{i:02d}.png")
    return tmp_path / "photos"


def _dataset(root: Path, **config: Any) -> Any:
    from modalax_image import ImageFolderDataset, ImageModalityConfig

    return ImageFolderDataset(ImageModalityConfig(height=16, **config), root, split=None)


def test_a_labelled_folder_gives_a_seeded_draw_over_every_class(photos: Path) -> None:
    ds = _dataset(photos)
    labels = np.asarray(ds.files.labels)
    picks = choose_indices(ds, 16, seed=0)
    assert len(set(picks.tolist())) == 16
    assert np.bincount(labels[picks], minlength=3).tolist() == [6, 5, 5]  # turns: 5 rounds of 3, then cat
    assert (np.diff(labels[picks]) >= 0).all()  # grouped by class, as the tiles are drawn
    assert choose_indices(ds, 16, seed=0).tolist() == picks.tolist()  # the same files for the same seed
    assert choose_indices(ds, 16, seed=1).tolist() != picks.tolist()  # another seed, other cats
    assert np.bincount(labels[choose_indices(ds, 3, seed=5)], minlength=3).tolist() == [1, 1, 1]
    assert choose_indices(ds, 99, seed=0).tolist() == sorted(range(22), key=lambda i: (labels[i], i))


def test_other_datasets_give_their_first_records(photos: Path) -> None:
    from modalax_image import ImageFolderDataset, ImageModalityConfig

    unlabelled = ImageFolderDataset(ImageModalityConfig(height=16), photos / "cat", split=None)
    assert choose_indices(unlabelled, 4, seed=3).tolist() == [0, 1, 2, 3]
    assert choose_indices(np.zeros(7), 99, seed=3).tolist() == list(range(7))


@pytest.mark.parametrize(("mode", "stated"), [("stretch", "aspect ratio NOT kept"), ("pad", "aspect ratio kept")])
def test_the_image_preview_names_classes_and_says_how_photos_were_resized(
    photos: Path, tmp_path: Path, mode: str, stated: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    import modalax_image.preview as image_preview

    drawn: dict[str, Any] = {}

    def capture(images: Any, path: Path, **kwargs: Any) -> Path:
        drawn.update(kwargs, images=np.asarray(images))
        Path(path).write_bytes(b"png")
        return Path(path)

    monkeypatch.setattr(image_preview, "have_matplotlib", lambda: True)
    monkeypatch.setattr(image_preview, "plot_image_grid", capture)
    out = tmp_path / mode
    args = ["preview", "image", "folder", "--set", f"root={photos}", "--set", f"resize_mode={mode}", "--out", str(out)]
    assert main([*args, "--set", "height=16"]) == 0
    assert capsys.readouterr().out.split() == [str(out / "images.png"), str(out / "labels.txt")]
    assert drawn["labels"] == ["cat"] * 6 + ["dog"] * 5 + ["frog"] * 5
    assert drawn["title"].startswith("16 of 22 images, 3 classes, 16x16 pixels") and stated in drawn["title"]
    assert drawn["images"].shape == (16, 16, 16, 3)
    rows = (out / "labels.txt").read_text().splitlines()
    assert rows[0].split(":", 1)[1].strip() == "0 cat" and rows[-1].split(":", 1)[1].strip() == "2 frog"
    if mode == "pad":  # a 60x30 photo letterboxed into 16x16 keeps white bars above and below
        wide = [i for i, img in enumerate(drawn["images"]) if np.allclose(img[0], 1.0) and not np.allclose(img[8], 1.0)]
        assert wide


def test_audio_previews_have_no_bright_edges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("modalax_audio")
    import modalax_audio.preview as audio_preview

    specs: list[np.ndarray] = []
    titles: list[str] = []

    def capture(spec: Any, path: Path, **kwargs: Any) -> Path:
        specs.append(np.asarray(spec))
        titles.append(kwargs["title"])
        assert kwargs["sample_rate"] == 8000 and kwargs["hop_length"] > 0  # a figure with time and Hz axes
        return Path(path)

    monkeypatch.setattr(audio_preview, "save_spectrogram_png", capture)
    t = np.arange(8000) / 8000
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)  # starts and ends mid-cycle: a centred STFT pads a click there
    audio_preview.preview({"audio": tone[None].astype(np.float32), "sample_rate": 8000}, tmp_path)
    (spec,) = specs
    high = spec[spec.shape[0] // 2 :]  # 2-4 kHz: nothing there but edge artefacts
    assert high.max() < spec.max() - 60.0, "the first or last frames show broadband energy the clip does not have"
    assert titles == ["clip 00: 1.00 s at 8000 Hz, peak 0.50"]
