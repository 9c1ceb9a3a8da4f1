"""Fault injection for the image plugin: each bad input gets a clear modalax error naming the field or file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flax import nnx
from PIL import Image

from modalax import ConfigError, DataError, MissingFieldError
from modalax_image import ImageFolderDataset, ImageModalityConfig, decode_image
from modalax_image.operator_configs import BrightnessConfig, CropConfig, FlipConfig, ResizeConfig, RotateConfig
from modalax_image.operators import BrightnessOperator, CropOperator, FlipOperator, ResizeOperator, RotateOperator

CFG = ImageModalityConfig(height=4, width=4)


def png(path: Path, value: int = 100, size: tuple[int, int] = (4, 4)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((*size, 3), value, np.uint8)).save(path)
    return path


def classes(root: Path) -> Path:
    for name in ("cat", "dog"):
        png(root / name / "a.png")
    return root


def folder(root: Path, **kwargs: Any) -> Any:
    return ImageFolderDataset(CFG, root=root, rngs=nnx.Rngs(0), **kwargs)


def read_all(root: Path, **kwargs: Any) -> Any:
    ds = folder(root, **kwargs)
    return ds.get_records(np.arange(len(ds)))


def with_file(name: str, content: bytes) -> Callable[[Path], Any]:
    def run(root: Path) -> Any:
        classes(root)
        (root / "cat" / name).write_bytes(content)
        return read_all(root)

    return run


def loose_file(root: Path) -> Any:
    classes(root)
    png(root / "stray.png")
    return folder(root)


def dangling_link(root: Path) -> Any:
    classes(root)
    os.symlink(root / "gone.png", root / "cat" / "link.png")
    return folder(root)


def missing_split(root: Path) -> Any:
    classes(root / "train")
    return folder(root, split="val")


def unlisted_class(root: Path) -> Any:
    classes(root)
    return folder(root, class_names=["cat"])


def float_tiff(root: Path) -> Any:
    Image.fromarray(np.full((4, 4), 3.0, np.float32)).save(root / "hdr.tif")
    return decode_image(root / "hdr.tif", CFG)


def from_files(paths: Any, labels: Any = None, **kwargs: Any) -> Callable[[Path], Any]:
    def run(root: Path) -> Any:
        made = [str(png(root / f"{i}.png")) for i in range(2)]
        given = made if paths == "made" else paths(made) if callable(paths) else paths
        return ImageFolderDataset.from_files(given, labels, CFG, rngs=nnx.Rngs(0), **kwargs)

    return run


def op_call(op: Callable[[], Any], batch: dict[str, Any]) -> Callable[[Path], Any]:
    return lambda _root: op().apply_batch(batch)


def augment() -> nnx.Rngs:
    return nnx.Rngs(0, augment=1)


IMAGES = np.zeros((2, 6, 6, 3), np.float32)

FAULTS = [
    # (case, action on a fresh folder, error class, regex naming the field or file)
    ("garbage bytes", with_file("junk.png", b"not an image at all"), DataError, r"cannot decode '.*junk\.png'"),
    ("empty file", with_file("empty.png", b""), DataError, r"cannot decode '.*empty\.png'"),
    ("truncated png", with_file("cut.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), DataError, r"'.*cut\.png'"),
    ("file beside class folders", loose_file, DataError, r"1 file\(s\) directly in .*first: '.*stray\.png'"),
    ("dangling symlink", dangling_link, DataError, r"'.*link\.png' is a broken link"),
    (
        "missing split folder",
        missing_split,
        DataError,
        r"split: got 'val'.*split folders \['train'\]",
    ),
    ("class not in class_names", unlisted_class, DataError, r"class folder\(s\) \['dog'\] .* not in class_names"),
    ("no root", lambda root: ImageFolderDataset(CFG, rngs=0), DataError, r"ImageFolderDataset\.root: got None"),
    ("root is not a folder", lambda root: folder(root / "nowhere"), DataError, r"root: got '.*nowhere'"),
    ("empty extensions", lambda root: folder(classes(root), extensions=()), ConfigError, r"extensions: got an empty"),
    ("extension not a str", lambda root: folder(classes(root), extensions=[3]), ConfigError, r"extensions: got 3"),
    ("negative num_threads", lambda root: folder(classes(root), num_threads=-1), ConfigError, r"num_threads: got -1"),
    ("unknown on_error", lambda root: folder(classes(root), on_error="ignore"), ConfigError, r"on_error: got 'ignore'"),
    ("background out of range", lambda r: folder(classes(r), background=(300, 0, 0)), ConfigError, r"background: got"),
    ("background a name", lambda r: folder(classes(r), background="white"), ConfigError, r"background: got 'white'"),
    ("exif_transpose not bool", lambda r: folder(classes(r), exif_transpose="yes"), ConfigError, r"exif_transpose"),
    ("float image out of [0, 1]", float_tiff, DataError, r"'.*hdr\.tif'.*values in \[3\.0, 3\.0\]"),
    ("decode of a number", lambda root: decode_image(123, CFG), DataError, r"decode_image\.src: got int"),
    ("decode with a bad config", lambda root: decode_image(b"x", {"height": 4}), ConfigError, r"decode_image\.config"),
    ("from_files of one string", from_files("a.png"), ConfigError, r"files: got 'a\.png', expected a list of paths"),
    ("from_files of nothing", from_files([]), DataError, r"files: got an empty list"),
    ("from_files missing path", from_files(lambda m: [*m, "nope.png"]), DataError, r"'nope\.png' is not a file"),
    ("from_files short labels", from_files("made", [0]), ConfigError, r"labels: got shape \(1,\), expected \(2,\)"),
    ("from_files negative label", from_files("made", [0, -1]), ConfigError, r"labels: got -1"),
    ("from_files float labels", from_files("made", [0.5, 1.0]), ConfigError, r"labels: got dtype float64"),
    (
        "from_files label past class_names",
        from_files("made", [0, 2], class_names=["a", "b"]),
        ConfigError,
        r"labels: got 2 .*expected labels < 2",
    ),
    ("from_files names without labels", from_files("made", class_names=["a"]), ConfigError, r"without labels"),
    ("config height a float", lambda root: ImageModalityConfig(height=np.float64(32)), ConfigError, r"height: got"),
    (
        "stochastic operator, field missing",
        op_call(lambda: FlipOperator(FlipConfig(), rngs=augment()), {"image": IMAGES}),
        MissingFieldError,
        r"FlipOperator: the data has no field 'images'; fields present: \['image'\]",
    ),
    (
        "crop, field missing",
        op_call(lambda: CropOperator(CropConfig(height=2), rngs=augment()), {"pixels": IMAGES}),
        MissingFieldError,
        r"no field 'images'; fields present: \['pixels'\]",
    ),
    (
        "auxiliary field missing",
        op_call(lambda: ResizeOperator(ResizeConfig(height=3, auxiliary_fields=("seg",))), {"images": IMAGES}),
        MissingFieldError,
        r"no field 'seg'; fields present: \['images'\]",
    ),
    (
        "mask of another size",
        op_call(
            lambda: RotateOperator(RotateConfig(auxiliary_fields=("seg",)), rngs=augment()),
            {"images": IMAGES, "seg": np.zeros((2, 5, 6), np.int32)},
        ),
        DataError,
        r"auxiliary field 'seg' has per-element shape \(5, 6\), but field 'images' has \(6, 6, 3\)",
    ),
    (
        "int32 pixels to brightness",
        op_call(lambda: BrightnessOperator(BrightnessConfig(), rngs=augment()), {"images": IMAGES.astype(np.int32)}),
        DataError,
        r"image\.brightness: got images of dtype int32",
    ),
]


@pytest.mark.parametrize(("case", "action", "error", "match"), FAULTS, ids=[f[0] for f in FAULTS])
def test_image_fault(tmp_path, case, action, error, match):
    with pytest.raises(error, match=match):
        action(tmp_path)


def test_missing_field_error_is_also_a_key_error():
    with pytest.raises(KeyError):
        FlipOperator(FlipConfig(), rngs=augment()).apply_batch({"image": IMAGES})


def test_loss_without_an_image_field_is_a_missing_field_error():
    from modalax_image import ImageModality

    modality = ImageModality(ImageModalityConfig(height=4), rngs=nnx.Rngs(0))
    with pytest.raises(MissingFieldError, match=r"loss_fn\.batch: got a dict with keys \['image'\].*'images'"):
        modality.loss_fn({"image": np.zeros((1, 4, 4, 3))}, np.zeros((1, 4, 4, 3)))


def test_metrics_of_an_empty_batch():
    from modalax_image import ImageEvaluationSuite

    suite = ImageEvaluationSuite(["mse", "psnr", "ssim"], config=ImageModalityConfig(height=16))
    empty = np.zeros((0, 16, 16, 3), np.float32)
    assert all(v.shape == (0,) for v in suite.per_image(empty, empty).values())
    with pytest.raises(DataError, match=r"evaluate_batch: got an empty batch of shape \(0, 16, 16, 3\)"):
        suite.evaluate_batch(empty, empty)
