"""Non-square images: ``resize_mode`` stretch / pad / crop, against Pillow's ``ImageOps.pad`` and ``ImageOps.fit``."""

from __future__ import annotations

import io
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx
from PIL import Image, ImageOps

import modalax
from modalax import ConfigError
from modalax_image import ImageModality, ImageModalityConfig, ResizeMode, decode_image, kernels
from modalax_image.geometry import placement
from modalax_image.operator_configs import ResizeConfig
from modalax_image.operators import ResizeOperator

RNG = np.random.default_rng(17)
BG = (10, 200, 30)
PIL_METHOD = {"bilinear": Image.Resampling.BILINEAR, "nearest": Image.Resampling.NEAREST}
# (source height, width) -> (target height, width): wider, taller, same aspect, tiny strip
SHAPES = [((30, 50), (24, 20)), ((50, 21), (16, 16)), ((20, 40), (10, 20)), ((3, 40), (12, 12))]


def png(array: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode).save(buf, "PNG")
    return buf.getvalue()


def as_float(img: Image.Image) -> np.ndarray:
    a = np.asarray(img, np.float32) / np.float32(255.0)
    return a[..., None] if a.ndim == 2 else a


def pil_fill(mode: str) -> int | tuple[int, ...]:
    """The background colour as Pillow converts it to ``mode`` (luma for L, opaque for RGBA)."""
    return Image.new("RGB", (1, 1), BG).convert(mode).getpixel((0, 0))  # type: ignore[return-value]


def test_the_config_option():
    assert ImageModalityConfig().resize_mode == "stretch"
    cfg = ImageModalityConfig(resize_mode="PAD")
    assert cfg.resize_mode is ResizeMode.PAD
    assert ImageModalityConfig.from_dict(cfg.to_dict()) == cfg and cfg.to_dict()["resize_mode"] == "pad"
    with pytest.raises(ConfigError, match=r"resize_mode: got 'letterbox', expected one of 'stretch', 'pad', 'crop'"):
        ImageModalityConfig(resize_mode="letterbox")


@pytest.mark.parametrize(("src", "dst"), SHAPES)
@pytest.mark.parametrize("representation", ["rgb", "grayscale", "rgba"])
@pytest.mark.parametrize("method", ["bilinear", "nearest"])
def test_decode_pad_and_crop_equal_imageops(src, dst, representation, method):
    array = RNG.integers(0, 256, (*src, 3), dtype=np.uint8)
    data = png(array)
    cfg = {"representation": representation, "height": dst[0], "width": dst[1], "resize_method": method}
    mode = ImageModalityConfig(representation=representation).representation.pil_mode
    img = Image.fromarray(array).convert(mode)
    size = (dst[1], dst[0])
    padded = decode_image(data, ImageModalityConfig(**cfg, resize_mode="pad"), background=BG)["images"]
    np.testing.assert_array_equal(padded, as_float(ImageOps.pad(img, size, PIL_METHOD[method], color=pil_fill(mode))))
    cropped = decode_image(data, ImageModalityConfig(**cfg, resize_mode="crop"))["images"]
    np.testing.assert_array_equal(cropped, as_float(ImageOps.fit(img, size, PIL_METHOD[method])))
    stretched = decode_image(data, ImageModalityConfig(**cfg))["images"]
    np.testing.assert_array_equal(stretched, as_float(img.resize(size, PIL_METHOD[method])))
    if src[0] * dst[1] != src[1] * dst[0]:  # another aspect: the three modes differ
        assert not np.array_equal(padded, cropped) and not np.array_equal(padded, stretched)


def test_sixteen_bit_images_are_padded_with_the_background_colour():
    plane = RNG.integers(0, 65536, (20, 44), dtype=np.uint16)
    data = png(plane)
    cfg = ImageModalityConfig(height=16, width=16, resize_mode="pad")
    got = decode_image(data, cfg, background=BG)["images"]
    ref = ImageOps.pad(Image.fromarray(plane.astype(np.float32) / 65535, "F"), (16, 16), Image.Resampling.BILINEAR)
    top = placement(20, 44, 16, 16, "pad").offset[0]
    assert top == 4  # 44 -> 16 wide, 20 -> round(7.27) = 7 high, bars of 4 and 5
    rows = slice(top, top + 7)
    for c in range(3):  # gray data repeated over RGB; the bars in the colour
        np.testing.assert_allclose(got[rows, :, c], np.asarray(ref)[rows], atol=1e-7)
        np.testing.assert_array_equal(got[:top, :, c], np.float32(BG[c]) / np.float32(255))
    crop = decode_image(data, ImageModalityConfig(height=16, width=16, resize_mode="crop", representation="grayscale"))
    fit = ImageOps.fit(Image.fromarray(plane.astype(np.float32) / 65535, "F"), (16, 16), Image.Resampling.BILINEAR)
    np.testing.assert_allclose(crop["images"][..., 0], np.asarray(fit), atol=1e-7)


def test_folder_and_packed_datasets_decode_with_the_mode(tmp_path: Path):
    pytest.importorskip("array_record")
    arrays = [RNG.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((30, 50), (50, 30), (16, 16))]
    for i, a in enumerate(arrays):
        (tmp_path / "imgs").mkdir(exist_ok=True)
        Image.fromarray(a).save(tmp_path / "imgs" / f"{i}.png")
    cfg = ImageModalityConfig(height=12, width=12, resize_mode="pad")
    folder = modalax.create_dataset("image", "folder", config=cfg, root=tmp_path / "imgs", background=BG)
    images = folder.get_records(np.arange(3))["images"]
    for got, path in zip(images, folder.paths, strict=True):
        np.testing.assert_array_equal(got, decode_image(path, cfg, background=BG)["images"])
    assert images[0, 0, 6, 1] == np.float32(200) / np.float32(255)  # a bar above the wide image
    modalax.pack(folder, tmp_path / "packed", progress=False)
    packed = modalax.create_dataset("image", "packed", root=tmp_path / "packed")
    assert packed.config.resize_mode == "pad"
    np.testing.assert_array_equal(packed.get_records(np.arange(3))["images"], images)


@pytest.mark.parametrize(("src", "dst"), SHAPES)
def test_the_resize_kernel_modes_equal_pillow_float_images(src, dst):
    x = RNG.random((2, *src, 2), dtype=np.float32)

    def per_plane(fn) -> np.ndarray:
        return np.stack(
            [np.stack([np.asarray(fn(Image.fromarray(x[i, ..., c], "F"))) for c in range(2)], -1) for i in range(2)]
        )

    size = (dst[1], dst[0])
    pad_ref = per_plane(lambda im: ImageOps.pad(im, size, Image.Resampling.BILINEAR, color=0.25))
    fit_ref = per_plane(lambda im: ImageOps.fit(im, size, Image.Resampling.BILINEAR))
    resize = modalax.get_kernel("image.resize")
    np.testing.assert_allclose(np.asarray(resize(x, *dst, mode="pad", fill=0.25)), pad_ref, atol=2e-6)
    np.testing.assert_allclose(np.asarray(resize(x, *dst, mode="crop")), fit_ref, atol=2e-6)


def test_kernel_fill_per_channel_and_for_integer_images():
    x = np.full((1, 10, 40, 3), 200, np.uint8)
    out = np.asarray(kernels.resize(x, 20, 20, "nearest", mode="pad", fill=(1.0, 0.5, 0.0)))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 0, 0], [255, 128, 0])  # [0, 1] fill, converted like cutout's
    np.testing.assert_array_equal(out[0, 10, 0], [200, 200, 200])
    with pytest.raises(modalax.DataError, match=r"image.resize.fill: got 2 values \(1.0, 0.5\), expected 1 or 3"):
        kernels.resize(x, 20, 20, "nearest", mode="pad", fill=(1.0, 0.5))
    with pytest.raises(ConfigError, match=r"image.resize.mode: got 'fit', expected one of 'stretch', 'pad', 'crop'"):
        kernels.resize(x, 20, 20, mode="fit")


def test_resize_operator_modes_move_masks_with_their_image():
    x = RNG.random((3, 8, 24, 3), dtype=np.float32)
    mask = np.broadcast_to(np.arange(1, 25, dtype=np.int32), (3, 8, 24)).copy()  # column + 1, never 0
    pad = ResizeOperator(ResizeConfig(height=12, width=12, mode="pad", fill=0.5, auxiliary_fields=("seg",)))
    out = pad.apply_batch({"images": x, "seg": mask})
    np.testing.assert_allclose(
        np.asarray(out["images"]), np.asarray(kernels.resize(x, 12, 12, mode="pad", fill=0.5)), atol=1e-6
    )
    seg = np.asarray(out["seg"])
    assert (seg[:, :4] == 0).all() and (seg[:, 8:] == 0).all() and (seg[:, 4:8] > 0).all()  # bars: 0 in masks
    crop = ResizeOperator(ResizeConfig(height=8, width=8, mode="crop", auxiliary_fields=("seg",)))
    seg = np.asarray(crop.apply_batch({"images": x, "seg": mask})["seg"])
    np.testing.assert_array_equal(seg[0, 0], 9 + np.arange(8))  # the centre 8 of 24 columns
    with pytest.raises(ConfigError, match=r"ResizeConfig.mode: unknown value 'fill'; available: crop, pad, stretch"):
        ResizeConfig(mode="fill")
    with pytest.raises(ConfigError, match=r"ResizeConfig.fill: got nan, expected a finite number"):
        ResizeConfig(fill=(0.0, float("nan")))


def test_process_fits_arrays_as_decode_fits_files():
    array = RNG.integers(0, 256, (30, 50, 3), dtype=np.uint8)
    cfg = ImageModalityConfig(height=16, width=16, resize_mode="pad", normalize=False)
    modality = ImageModality(cfg, rngs=nnx.Rngs(0))
    out = np.asarray(modality.process(array, background=BG))
    ref = decode_image(png(array), cfg, background=BG)["images"] * 2 - 1  # the [-1, 1] range
    bars = placement(30, 50, 16, 16, "pad")
    assert bars.offset == (3, 0) and bars.size == (10, 16)
    np.testing.assert_allclose(out[:3], ref[:3], atol=1e-6)  # the bars: the background colour
    np.testing.assert_allclose(out, ref, atol=2 / 255 + 1e-6)  # the image: Pillow rounds 8-bit resizes
    crop = ImageModality(ImageModalityConfig(height=16, width=16, resize_mode="crop"), rngs=nnx.Rngs(0))
    fitted = decode_image(png(array), crop.config)["images"]
    np.testing.assert_allclose(np.asarray(crop.process(array)), fitted, atol=2 / 255 + 1e-6)
    jitted = jax.jit(lambda a: crop.process(a, nan_policy="propagate"))(array)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(crop.process(array)), atol=1e-6)
