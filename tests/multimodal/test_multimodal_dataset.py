"""The synthetic aligned dataset: shapes, ranges, numerics vs the numpy reference, determinism.

Rendering is each modality's pairing (image, text and audio reached through the registry); the
per-sample numpy reference (``reference.py``) renders with the same pairings and worlds.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import jax
import numpy as np
import pytest
from flax import nnx

import modalax
from modalax import ConfigError
from modalax_multimodal.config import MultiModalConfig
from modalax_multimodal.datasets import MultiModalDataset, create_synthetic_multi_modal_dataset
from modalax_multimodal.reference import numpy_params, render_sample_reference

SMALL = {"audio_duration": 0.125, "text_sequence_length": 20, "text_vocab_size": 300}
RESERVED_TOKENS = 4  # ids 0-3 are the text plugin's pad/unk/bos/eos: rendered text never uses them


@pytest.fixture(scope="module")
def dataset() -> MultiModalDataset:
    return create_synthetic_multi_modal_dataset(["image", "text", "audio"], 64, 0.8, rngs=nnx.Rngs(0), **SMALL)


def test_seed_api_shapes_dtypes_and_ranges(dataset: MultiModalDataset) -> None:
    sample = dataset[0]
    assert set(sample) == {"image", "text", "audio", "latent", "alignment_score"}
    assert sample["image"].shape == (32, 32, 3) and sample["image"].dtype == np.float32
    assert sample["text"].shape == (20,) and sample["text"].dtype == np.int32
    assert sample["audio"].shape == (2000,) and sample["audio"].dtype == np.float32
    assert sample["latent"].shape == (32,)
    assert float(sample["alignment_score"]) == pytest.approx(0.8)
    batch = dataset.get_batch(batch_size=16)
    assert batch["image"].shape == (16, 32, 32, 3) and batch["latent"].shape == (16, 32)
    full = dataset.get_records(np.arange(64))
    img, txt, aud = (np.asarray(full[k]) for k in ("image", "text", "audio"))
    assert img.min() > 0.0 and img.max() < 1.0 and img.std() > 0.15
    assert txt.min() >= RESERVED_TOKENS and txt.max() < 300
    assert np.abs(aud).max() <= 1.0 and 0.1 < aud.std() < 0.3
    # the latent is standard normal
    z = np.asarray(full["latent"])
    assert abs(z.mean()) < 0.1 and 0.85 < z.std() < 1.15
    assert len(dataset) == dataset.num_samples == 64


def test_text_is_varied_and_not_a_repeated_token(dataset: MultiModalDataset) -> None:
    txt = np.asarray(dataset.get_records(np.arange(64))["text"])
    assert min(len(set(row)) for row in txt) >= 15  # 20 positions, almost all distinct tokens
    assert len(np.unique(txt)) > 100  # many words over the dataset
    assert (txt[:, None, :] != txt[None, :, :]).any(axis=-1).sum() == 64 * 63  # no two samples share a sentence


def test_matches_per_sample_numpy_reference(dataset: MultiModalDataset) -> None:
    idx = np.arange(6)
    batch = dataset.get_records(idx)
    latents, nuisance = (np.asarray(x, np.float64) for x in dataset.latents(idx))
    params = numpy_params(dataset.render_params)
    assert list(params) == ["image", "text", "audio"]
    for i in idx:
        ref = render_sample_reference(latents[i], nuisance[i], 0.8, params)
        np.testing.assert_allclose(batch["image"][i], ref["image"], atol=2e-5)
        np.testing.assert_allclose(batch["audio"][i], ref["audio"], atol=2e-5)
        # a projection within float32 rounding of a level edge may flip; allow one position
        assert np.sum(np.asarray(batch["text"][i]) != ref["text"]) <= 1
        np.testing.assert_array_equal(batch["latent"][i], latents[i].astype(np.float32))


def test_alignment_extremes_are_exact() -> None:
    one = create_synthetic_multi_modal_dataset(["image", "audio"], 8, 1.0, rngs=3, **SMALL)
    latents, _ = (np.asarray(x, np.float64) for x in one.latents(np.arange(8)))
    params = numpy_params(one.render_params)
    got = one.get_records(np.arange(8))
    for i in range(8):  # at strength 1 the nuisance plays no part: render z itself
        ref = render_sample_reference(latents[i], np.zeros((2, 32)), 1.0, params, modalities=("image", "audio"))
        np.testing.assert_allclose(got["image"][i], ref["image"], atol=2e-5)
    zero = create_synthetic_multi_modal_dataset(["image"], 8, 0.0, rngs=3, **SMALL)
    latents0, nuisance0 = (np.asarray(x, np.float64) for x in zero.latents(np.arange(8)))
    changed = render_sample_reference(latents0[0] + 5.0, nuisance0[0], 0.0, params, modalities=("image",))
    np.testing.assert_allclose(zero[0]["image"], changed["image"], atol=2e-5)  # at 0 the latent plays no part


def test_same_sample_whatever_modalities_are_included() -> None:
    full = create_synthetic_multi_modal_dataset(["image", "text", "audio"], 16, 0.5, rngs=1, **SMALL)
    part = create_synthetic_multi_modal_dataset(["text", "image"], 16, 0.5, rngs=1, **SMALL)
    a, b = full.get_records(np.arange(16)), part.get_records(np.arange(16))
    assert set(b) == {"image", "text", "latent", "alignment_score"}
    for key in ("image", "text", "latent"):
        np.testing.assert_array_equal(a[key], b[key])


def test_seeds_and_splits_differ_and_repeat() -> None:
    def first(seed: int, split: str = "train") -> np.ndarray:
        ds = create_synthetic_multi_modal_dataset(["image"], 8, 0.8, rngs=nnx.Rngs(seed), split=split, **SMALL)
        return np.asarray(ds.get_records(np.arange(8))["latent"])

    np.testing.assert_array_equal(first(0), first(0))
    assert not np.allclose(first(0), first(1))
    assert not np.allclose(first(0), first(0, "val"))


def test_loader_batches_equal_direct_records(dataset: MultiModalDataset) -> None:
    loader = modalax.DataLoader(dataset, 16, shuffle=True, seed=5, with_indices=True)
    seen = []
    for batch in loader:
        direct = dataset.get_records(np.asarray(batch["index"]))
        for key in ("image", "text", "audio", "latent"):
            np.testing.assert_allclose(batch[key], direct[key], atol=1e-6)
        seen.extend(np.asarray(batch["index"]).tolist())
    assert sorted(seen) == list(range(64))


_DIGEST = """
import hashlib, json, numpy as np
from modalax_multimodal.datasets import create_synthetic_multi_modal_dataset
ds = create_synthetic_multi_modal_dataset(["image", "text", "audio"], 32, 0.6, rngs=7, audio_duration=0.125)
b = ds.get_records(np.arange(5, 13))
print(json.dumps({k: hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest() for k, v in b.items()}))
"""


def test_identical_across_processes() -> None:
    outs = [
        subprocess.run([sys.executable, "-c", _DIGEST], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    ]
    assert outs[0] == outs[1]
    ds = create_synthetic_multi_modal_dataset(["image", "text", "audio"], 32, 0.6, rngs=7, audio_duration=0.125)
    here = {
        k: hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()
        for k, v in ds.get_records(np.arange(5, 13)).items()
    }
    assert json.loads(outs[0]) == here


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alignment_strength": 1.5}, r"alignment_strength: got 1.5, expected a number in \[0, 1\]"),
        ({"modalities": ["image", "video"]}, r"unknown modality 'video'"),
        ({"modalities": ["image", "image"]}, r"expected each modality once"),
        ({"modalities": []}, r"expected at least one"),
        # option errors come from the modality's pairing, prefixed with the modality and its options
        (
            {"text_vocab_size": 8},
            r"modality 'text' with options \{'vocab_size': 8\}: .*vocab_size: got 8, expected >= 12",
        ),
        ({"image_shape": (32, 32)}, r"'image' with .*shape: got \(32, 32\), expected \(height, width, channels\)"),
        ({"audio_duration": 0.0}, r"'audio' with .*duration: got 0.0, expected a positive number"),
        ({"audio_duration": 0.002}, r"'audio' with .*duration: .*too short to hold 16 distinct partials"),
        ({"modality_options": {"image": {"shape": (8, 8, 3)}}, "image_shape": (4, 4, 3)}, r"image_shape: .*one of"),
        ({"modality_options": {"image": {"size": 8}}}, r"ImagePairing: unknown option\(s\) 'size'"),
        ({"modality_options": {"vidoe": {}}}, r"modality_options: unknown modality 'vidoe'"),
    ],
)
def test_bad_config_is_named(kwargs: dict, match: str) -> None:
    args = {"modalities": ["image", "text", "audio"], "num_samples": 4, "alignment_strength": 0.5, **kwargs}
    with pytest.raises(ConfigError, match=match):
        create_synthetic_multi_modal_dataset(rngs=0, **args)


def test_config_round_trip_and_registry_factory() -> None:
    cfg = MultiModalConfig(modalities=["text", "image"], fusion="mean")
    assert cfg.modalities == ("text", "image")
    assert MultiModalConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    ds = modalax.create_dataset("multimodal", "synthetic", modalities=["image"], dataset_size=5, rngs=0)
    assert isinstance(ds, MultiModalDataset) and ds[4]["image"].shape == (32, 32, 3)
    assert jax.tree.map(lambda x: x.shape, ds.element_spec())["latent"] == (32,)
