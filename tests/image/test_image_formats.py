"""decode_image on real files written by Pillow in every common format, checked against an independent read."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from modalax import DataError
from modalax_image import ImageModalityConfig, decode_image, kernels, pillow_extensions

RNG = np.random.default_rng(5)
H, W = 12, 10
TOL = 1 / 255 + 1e-6


def rgb8() -> np.ndarray:
    return RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)


def cfg(representation: str = "rgb", height: int = H, width: int = W) -> ImageModalityConfig:
    return ImageModalityConfig(representation=representation, height=height, width=width)


def pillow_rgb(path: Path, mode: str = "RGB") -> np.ndarray:
    """The independent reference: Pillow's own decode, converted, divided by 255."""
    with Image.open(path) as img:
        out = np.asarray(img.convert(mode), np.float64) / 255.0
    return out[..., None] if out.ndim == 2 else out


# (file name, writer) for 8-bit formats whose Pillow decode is the reference
EIGHT_BIT = [
    ("rgb.png", lambda p: Image.fromarray(rgb8()).save(p)),
    ("gray.png", lambda p: Image.fromarray(rgb8()[..., 0]).save(p)),
    ("photo.jpg", lambda p: Image.fromarray(rgb8()).save(p, quality=90)),
    ("photo.jpeg", lambda p: Image.fromarray(rgb8()).save(p, quality=70)),
    ("cmyk.jpg", lambda p: Image.fromarray(rgb8()).convert("CMYK").save(p)),
    ("image.bmp", lambda p: Image.fromarray(rgb8()).save(p)),
    ("lossless.webp", lambda p: Image.fromarray(rgb8()).save(p, lossless=True)),
    ("lossy.webp", lambda p: Image.fromarray(rgb8()).save(p, quality=80)),
    ("rgb8.tif", lambda p: Image.fromarray(rgb8()).save(p)),
    ("cmyk.tiff", lambda p: Image.fromarray(rgb8()).convert("CMYK").save(p)),
    ("palette.png", lambda p: Image.fromarray(rgb8()).quantize(16).save(p)),
    ("palette.gif", lambda p: Image.fromarray(rgb8()).quantize(64).save(p)),
    ("bilevel.png", lambda p: Image.fromarray(rgb8()[..., 0] > 128).save(p)),
    ("gray.pgm", lambda p: Image.fromarray(rgb8()[..., 1]).save(p)),
]


@pytest.mark.parametrize(("name", "write"), EIGHT_BIT, ids=[n for n, _ in EIGHT_BIT])
@pytest.mark.parametrize(("representation", "mode"), [("rgb", "RGB"), ("grayscale", "L")])
def test_eight_bit_formats_equal_pillows_decode(tmp_path, name, write, representation, mode):
    path = tmp_path / name
    write(path)
    got = decode_image(path, cfg(representation))["images"]
    assert got.dtype == np.float32 and got.shape == (H, W, 3 if mode == "RGB" else 1)
    np.testing.assert_allclose(got, pillow_rgb(path, mode), atol=TOL)


def test_bytes_file_objects_and_paths_decode_alike(tmp_path):
    path = tmp_path / "a.png"
    Image.fromarray(rgb8()).save(path)
    by_path = decode_image(path, cfg())["images"]
    np.testing.assert_array_equal(decode_image(str(path), cfg())["images"], by_path)
    np.testing.assert_array_equal(decode_image(path.read_bytes(), cfg())["images"], by_path)
    with open(path, "rb") as f:
        np.testing.assert_array_equal(decode_image(f, cfg())["images"], by_path)
    np.testing.assert_array_equal(decode_image(io.BytesIO(path.read_bytes()), cfg())["images"], by_path)


SIXTEEN = RNG.integers(0, 65536, (H, W), dtype=np.uint16)


@pytest.mark.parametrize(
    ("name", "write"),
    [
        ("deep.png", lambda p: Image.fromarray(SIXTEEN).save(p)),
        ("deep.tif", lambda p: Image.fromarray(SIXTEEN).save(p)),
        ("deep_be.tif", lambda p: Image.frombytes("I;16B", (W, H), SIXTEEN.astype(">u2").tobytes()).save(p)),
        ("deep_int32.tif", lambda p: Image.fromarray(SIXTEEN.astype(np.int32)).save(p)),
        ("deep_float.tif", lambda p: Image.fromarray(SIXTEEN.astype(np.float32) / 65535).save(p)),
    ],
)
def test_high_bit_depths_are_scaled_by_their_own_range(tmp_path, name, write):
    path = tmp_path / name
    write(path)
    with Image.open(path) as img:
        assert img.mode in ("I;16", "I;16B", "I", "F")  # the case under test, not an 8-bit fallback
    expected = SIXTEEN.astype(np.float64) / 65535.0
    gray = decode_image(path, cfg("grayscale"))["images"]
    np.testing.assert_allclose(gray[..., 0], expected, atol=1e-6)
    assert (gray >= 0.999).mean() < 0.01  # not saturated (the old 8-bit convert clipped to 1.0)
    rgba = decode_image(path, cfg("rgba"))["images"]
    np.testing.assert_allclose(rgba[..., :3], np.repeat(expected[..., None], 3, -1), atol=1e-6)
    np.testing.assert_array_equal(rgba[..., 3], 1.0)


def test_sixteen_bit_resize_matches_the_float_resize_kernel(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(SIXTEEN).save(path)
    got = decode_image(path, cfg("grayscale", height=7, width=15))["images"]
    plane = SIXTEEN.astype(np.float32)[None, ..., None] / np.float32(65535)
    np.testing.assert_allclose(got, np.asarray(kernels.resize(plane, 7, 15))[0], atol=1e-5)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        (np.full((H, W), 2.5, np.float32), r"float image with values in \[2\.5, 2\.5\], expected values in \[0, 1\]"),
        (np.full((H, W), np.nan, np.float32), r"float image with values in \[nan, nan\]"),
        (np.full((H, W), 70_000, np.int32), r"integer image with values in \[70000, 70000\]"),
        (np.full((H, W), -3, np.int32), r"integer image with values in \[-3, -3\]"),
    ],
)
def test_out_of_range_high_bit_files_are_data_errors_naming_the_file(tmp_path, values, match):
    path = tmp_path / "odd.tif"
    Image.fromarray(values).save(path)
    with pytest.raises(DataError, match=r"odd\.tif.*" + match):
        decode_image(path, cfg("grayscale"))


def alpha_image() -> np.ndarray:
    a = rgb8()
    alpha = np.tile(np.array([0, 64, 128, 255, 0], np.uint8), 2)[None, :].repeat(H, 0)
    return np.dstack([a, alpha])


@pytest.mark.parametrize("background", [(255, 255, 255), (0, 0, 0), (10, 200, 30)])
@pytest.mark.parametrize("fmt", ["png", "webp", "tif"])
def test_transparency_is_composited_over_the_background(tmp_path, background, fmt):
    rgba = alpha_image()
    path = tmp_path / f"alpha.{fmt}"
    Image.fromarray(rgba, "RGBA").save(path, **({"lossless": True} if fmt == "webp" else {}))
    with Image.open(path) as img:  # the file's own pixels (webp may alter hidden colours)
        stored = np.asarray(img.convert("RGBA"), np.float64) / 255.0
    a = stored[..., 3:]
    expected = stored[..., :3] * a + np.asarray(background) / 255.0 * (1 - a)
    got = decode_image(path, cfg(), background=background)["images"]
    np.testing.assert_allclose(got, expected, atol=TOL)
    kept = decode_image(path, cfg("rgba"), background=background)["images"]
    np.testing.assert_allclose(kept, stored, atol=TOL)  # RGBA keeps the alpha, ignores the background


def test_grey_alpha_and_palette_transparency(tmp_path):
    la = np.dstack([rgb8()[..., 0], alpha_image()[..., 3]])
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    got = decode_image(tmp_path / "la.png", cfg("grayscale"), background=(0, 0, 0))["images"][..., 0]
    np.testing.assert_allclose(got, la[..., 0] / 255.0 * (la[..., 1] / 255.0), atol=TOL)
    palette = Image.fromarray(rgb8()).quantize(8)
    palette.info["transparency"] = 0  # palette index 0 is transparent
    palette.save(tmp_path / "p.png", transparency=0)
    index = np.asarray(Image.open(tmp_path / "p.png"))
    assert 0 < (index == 0).sum() < index.size  # both transparent and opaque pixels are checked
    out = decode_image(tmp_path / "p.png", cfg(), background=(0, 255, 0))["images"]
    np.testing.assert_allclose(out[index == 0], np.tile([0.0, 1.0, 0.0], ((index == 0).sum(), 1)), atol=TOL)
    opaque = pillow_rgb(tmp_path / "p.png")[index != 0]
    np.testing.assert_allclose(out[index != 0], opaque, atol=TOL)


def test_gif_gives_its_first_frame(tmp_path):
    frames = [Image.fromarray(np.full((H, W, 3), v, np.uint8)) for v in (30, 220)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    with Image.open(tmp_path / "anim.gif") as img:
        assert img.n_frames == 2
    got = decode_image(tmp_path / "anim.gif", cfg("grayscale"))["images"]
    np.testing.assert_allclose(got, 30 / 255.0, atol=TOL)


@pytest.mark.parametrize(
    ("orientation", "turn"),
    [(1, lambda a: a), (3, lambda a: np.rot90(a, 2)), (6, lambda a: np.rot90(a, -1)), (8, lambda a: np.rot90(a, 1))],
)
def test_exif_orientation_is_applied(tmp_path, orientation, turn):
    stored = np.zeros((H, W, 3), np.uint8)
    stored[: H // 2, : W // 2] = 255  # a bright top-left quadrant survives JPEG and shows the turn
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "camera.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    upright = turn(pillow_rgb(path))
    h, w = upright.shape[:2]
    got = decode_image(path, cfg(height=h, width=w))["images"]
    np.testing.assert_allclose(got, upright, atol=TOL)
    raw = decode_image(path, cfg(), exif_transpose=False)["images"]
    np.testing.assert_allclose(raw, pillow_rgb(path), atol=TOL)


def test_default_extensions_are_what_pillow_decodes():
    exts = pillow_extensions()
    for ext in (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"):
        assert ext in exts
    assert ".mpg" not in exts and ".h5" not in exts  # Pillow reads no pixels from these
