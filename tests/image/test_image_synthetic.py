"""SyntheticImageDataset: value ranges, pattern structure, determinism, disjoint splits."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from flax import nnx

import modalax
from modalax import ConfigError
from modalax_image import ImageModalityConfig, SyntheticImageDataset
from modalax_image.datasets.patterns import tile_range

SMALL = ImageModalityConfig(height=16, width=12)


def records(pattern: str, n: int = 64, config: ImageModalityConfig = SMALL, **kwargs) -> np.ndarray:
    ds = SyntheticImageDataset(config, dataset_size=10_000, pattern_type=pattern, rngs=nnx.Rngs(0), **kwargs)
    return np.asarray(ds.get_records(np.arange(n))["images"])


@pytest.mark.parametrize("pattern", ["random", "gradient", "checkerboard", "circles"])
@pytest.mark.parametrize("representation", ["rgba", "grayscale"])  # RGB: the other tests
def test_every_pattern_and_channel_count_is_in_range(pattern, representation):
    cfg = ImageModalityConfig(representation=representation, height=9, width=11)
    x = records(pattern, 16, cfg)
    assert x.shape == (16, 9, 11, cfg.channels) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert np.unique(x.reshape(16, -1), axis=0).shape[0] == 16  # every record differs


def test_random_is_uniform():
    x = records("random", 64)
    assert abs(x.mean() - 0.5) < 0.01 and abs(x.var() - 1 / 12) < 0.003


def test_gradient_is_an_affine_ramp_spanning_its_two_colours():
    x = records("gradient", 32).astype(np.float64)
    h, w = x.shape[1:3]
    ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    design = np.stack([np.ones(h * w), xs.ravel(), ys.ravel()], axis=1)
    angles = []
    for img in x:
        for c in range(img.shape[-1]):
            coef, *_ = np.linalg.lstsq(design, img[..., c].ravel(), rcond=None)
            assert np.abs(design @ coef - img[..., c].ravel()).max() < 1e-5  # exactly linear in (x, y)
        coef, *_ = np.linalg.lstsq(design, img[..., 0].ravel(), rcond=None)
        angles.append(np.arctan2(coef[2], coef[1]))
        # the ramp reaches both end colours at opposite corners
        span = img.reshape(-1, img.shape[-1])
        assert np.all(span.max(0) - span.min(0) >= 0)
    assert np.std(angles) > 1.0  # directions vary


def test_checkerboard_tiles_are_square_alternating_and_of_random_size():
    ds = SyntheticImageDataset(SMALL, pattern_type="checkerboard", rngs=nnx.Rngs(0))
    x = np.asarray(ds.get_records(np.arange(48))["images"])
    params = ds.pattern_parameters(np.arange(48))
    tiles = np.asarray(params["tile"])
    lo, hi = tile_range(16, 12)
    assert tiles.min() >= lo and tiles.max() <= hi and len(set(tiles)) > 2
    rows, cols = np.meshgrid(np.arange(16), np.arange(12), indexing="ij")
    for img, tile, a, b in zip(x, tiles, np.asarray(params["color_a"]), np.asarray(params["color_b"]), strict=True):
        odd = ((rows // tile + cols // tile) % 2 == 1)[..., None]
        np.testing.assert_array_equal(img, np.where(odd, b, a))


def test_circles_are_discs_with_independent_random_centres_and_radii():
    ds = SyntheticImageDataset(
        ImageModalityConfig(height=32, width=24), pattern_type="circles", num_circles=1, rngs=nnx.Rngs(0)
    )
    n = 400
    x = np.asarray(ds.get_records(np.arange(n))["images"])
    p = {k: np.asarray(v) for k, v in ds.pattern_parameters(np.arange(n)).items()}
    cy, cx, r = p["center_y"][:, 0], p["center_x"][:, 0], p["radius"][:, 0]
    ys, xs = np.meshgrid(np.arange(32) + 0.5, np.arange(24) + 0.5, indexing="ij")
    for i in range(0, n, 20):
        disc = (ys - cy[i]) ** 2 + (xs - cx[i]) ** 2 <= r[i] ** 2
        np.testing.assert_allclose(x[i][disc], np.broadcast_to(p["color"][i, 0], (disc.sum(), 3)), atol=1e-6)
        assert np.all(x[i][~disc] == 0.0)
    # centres cover the image uniformly, radii within the documented range, no correlation.
    assert abs(cy.mean() - 16) < 1.5 and abs(cx.mean() - 12) < 1.2
    assert cy.min() < 2 and cy.max() > 30 and r.min() >= 2.4 and r.max() <= 0.35 * 24 + 0.75
    corr = np.corrcoef(np.stack([cy, cx, r]))
    assert np.abs(corr[np.triu_indices(3, 1)]).max() < 0.15


def test_splits_never_share_a_sample():
    digests = {}
    for split in ("train", "val", "test"):
        ds = SyntheticImageDataset(SMALL, dataset_size=200, pattern_type="gradient", split=split, rngs=nnx.Rngs(0))
        x = np.asarray(ds.get_records(np.arange(200))["images"])
        digests[split] = {hashlib.sha256(img.tobytes()).hexdigest() for img in x}
        assert len(digests[split]) == 200
    assert not digests["train"] & digests["val"] and not digests["train"] & digests["test"]
    assert not digests["val"] & digests["test"]


def test_record_i_is_the_same_in_another_process_and_in_any_batch():
    ds = SyntheticImageDataset(SMALL, dataset_size=10**9, pattern_type="circles", split="val", rngs=nnx.Rngs(3))
    idx = np.array([0, 5, 999_999_999])
    here = np.asarray(ds.get_records(idx)["images"])
    np.testing.assert_array_equal(np.asarray(ds[5]["images"]), here[1])  # same record alone or in a batch
    code = textwrap.dedent("""
        import hashlib, numpy as np
        from flax import nnx
        from modalax_image import ImageModalityConfig, SyntheticImageDataset
        ds = SyntheticImageDataset(ImageModalityConfig(height=16, width=12), dataset_size=10**9,
                                   pattern_type="circles", split="val", rngs=nnx.Rngs(3))
        x = np.asarray(ds.get_records(np.array([0, 5, 999_999_999]))["images"])
        print(hashlib.sha256(x.tobytes()).hexdigest())
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.strip() == hashlib.sha256(here.tobytes()).hexdigest()


def test_seed_changes_the_data_and_get_batch_advances():
    a = SyntheticImageDataset(SMALL, rngs=nnx.Rngs(0))
    b = SyntheticImageDataset(SMALL, rngs=nnx.Rngs(1))
    assert not np.allclose(np.asarray(a[0]["images"]), np.asarray(b[0]["images"]))
    first, second = a.get_batch(4)["images"], a.get_batch(4)["images"]
    assert first.shape == (4, 16, 12, 3) and not np.allclose(np.asarray(first), np.asarray(second))


def test_works_with_the_data_loader_exactly_once_per_epoch():
    ds = SyntheticImageDataset(SMALL, dataset_size=20, pattern_type="checkerboard", rngs=nnx.Rngs(0))
    loader = modalax.DataLoader(ds, 8, seed=1, with_indices=True)
    seen = []
    for batch in loader:
        assert batch["images"].shape == (8, 16, 12, 3)
        idx, valid = np.asarray(batch["index"]), np.asarray(batch["mask"])
        np.testing.assert_array_equal(np.asarray(batch["images"]), np.asarray(ds.get_records(idx)["images"]))
        seen += list(idx[valid])
    assert sorted(seen) == list(range(20))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"pattern_type": "stripes"},
            ConfigError,
            r"pattern_type: unknown pattern 'stripes'; available: "
            r"checkerboard, circles, gradient, random",
        ),
        ({"dataset_size": 0}, ConfigError, r"dataset_size: got 0"),
        ({"dataset_size": 2**31}, ConfigError, r"dataset_size: got 2147483648, expected an int in \[1, 2147483647\]"),
        ({"num_circles": 0}, ConfigError, r"num_circles: got 0"),
        ({"config": "rgb"}, ConfigError, r"config: got str, expected an ImageModalityConfig"),
        ({"split": ""}, ConfigError, r"split: got ''"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        SyntheticImageDataset(**{"rngs": nnx.Rngs(0), **kwargs})


def test_index_out_of_range():
    ds = SyntheticImageDataset(SMALL, dataset_size=5, rngs=nnx.Rngs(0))
    with pytest.raises(IndexError, match=r"index: got 5"):
        ds[5]
