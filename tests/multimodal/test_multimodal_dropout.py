"""ModalityDropout: rates, fills, presence mask, per-record keys through the loader, errors."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

import modalax
from modalax import ConfigError, DataError, MissingFieldError
from modalax.plugin import record_keys
from modalax_multimodal import ModalityDropout, ModalityDropoutConfig
from modalax_multimodal.dropout import expected_drop_rates

MODS = ("image", "text", "audio")


def _source(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "image": rng.uniform(0.1, 1.0, (n, 4, 4, 3)).astype(np.float32),
        "text": rng.integers(4, 50, (n, 5)).astype(np.int32),
        "audio": rng.uniform(0.1, 1.0, (n, 16)).astype(np.float32),
        "latent": rng.normal(size=(n, 3)).astype(np.float32),
    }


def _op(**kw) -> ModalityDropout:
    return ModalityDropout(ModalityDropoutConfig(**kw), rngs=nnx.Rngs(augment=0))


def _masks(loader: modalax.DataLoader) -> tuple[np.ndarray, np.ndarray]:
    """(indices, modality_mask) of one epoch, in record order."""
    idx, masks = [], []
    for batch in loader:
        keep = np.asarray(batch["mask"])
        idx.append(np.asarray(batch["index"])[keep])
        masks.append(np.asarray(batch["modality_mask"])[keep])
    idx, masks = np.concatenate(idx), np.concatenate(masks)
    order = np.argsort(idx)
    return idx[order], masks[order]


def _fold(keys: jax.Array, position: int = 0) -> jax.Array:
    return jax.vmap(lambda k: jax.random.fold_in(k, position))(keys)


PROBS = {"image": 0.2, "text": 0.5, "audio": 0.7}


@pytest.mark.parametrize("min_present", [0, 1])
def test_drop_rates_match_the_configured_probabilities(min_present):
    n = 4000
    op = _op(probability=PROBS, min_present=min_present)
    loader = modalax.DataLoader(_source(n), 1000, operators=op, seed=5, with_indices=True)
    _, masks = _masks(loader)
    expected = expected_drop_rates(op.config)
    if min_present == 0:
        assert expected == pytest.approx(PROBS)
    else:  # the all-dropped draws (prob 0.07) give one modality back, uniformly
        assert expected == pytest.approx({m: p - 0.2 * 0.5 * 0.7 / 3 for m, p in PROBS.items()})
        assert masks.any(axis=1).all()
    for i, m in enumerate(MODS):
        rate, p = 1.0 - masks[:, i].mean(), expected[m]
        assert abs(rate - p) < 4 * np.sqrt(p * (1 - p) / n), (m, rate, p)
    if min_present == 0:  # some samples lose everything when allowed
        assert (~masks.any(axis=1)).sum() == pytest.approx(0.07 * n, abs=4 * np.sqrt(0.07 * 0.93 * n))


def test_dropped_fields_are_filled_and_kept_fields_untouched():
    src = _source(64)
    op = _op(probability=0.5, fill={"image": 0.5, "text": 0, "audio": -1.0}, present_keys=True)
    batch = {k: v for k, v in src.items()}
    out = op.apply_batch(batch, rng=jax.random.key(3))
    mask = np.asarray(out["modality_mask"])
    assert mask.shape == (64, 3) and mask.dtype == bool
    assert not mask.all() and mask.any()
    for i, (m, fill) in enumerate(zip(MODS, (0.5, 0, -1.0), strict=True)):
        got, orig = np.asarray(out[m]), src[m]
        np.testing.assert_array_equal(got[mask[:, i]], orig[mask[:, i]])
        assert (got[~mask[:, i]] == fill).all()
        assert got.dtype == orig.dtype
        np.testing.assert_array_equal(np.asarray(out[f"{m}_present"]), mask[:, i])
    np.testing.assert_array_equal(np.asarray(out["latent"]), src["latent"])  # not a modality field


def test_same_seed_same_drops_from_the_record_keys_and_epochs_differ():
    src = _source(96)
    op = _op(probability=0.5)
    a = modalax.DataLoader(src, 16, operators=op, seed=11, with_indices=True)
    b = modalax.DataLoader(src, 7, operators=_op(probability=0.5), seed=11, with_indices=True, shuffle=False)
    _, masks_a = _masks(a)
    _, masks_b = _masks(b)
    np.testing.assert_array_equal(masks_a, masks_b)  # batch size, order and operator instance do not matter
    # each record's drops are a function of its key only: fold_in(epoch key, record index),
    # folded with the operator's position in the chain (0 here)
    keys = _fold(record_keys(a.epoch_key(0), np.arange(96)))
    direct = op.apply_batch({k: v for k, v in src.items()}, keys=keys)
    np.testing.assert_array_equal(np.asarray(direct["modality_mask"]), masks_a)
    epoch1 = op.apply_batch({k: v for k, v in src.items()}, keys=_fold(record_keys(a.epoch_key(1), np.arange(96))))
    assert (np.asarray(epoch1["modality_mask"]) != masks_a).any()
    other_seed = modalax.DataLoader(src, 16, operators=op, seed=12, with_indices=True)
    assert (_masks(other_seed)[1] != masks_a).any()


def test_existing_mask_is_respected_and_never_restored():
    src = _source(200)
    src["modality_mask"] = np.tile(np.array([True, False, True]), (200, 1))
    out = _op(probability=0.9, min_present=1).apply_batch(dict(src), rng=jax.random.key(0))
    mask = np.asarray(out["modality_mask"])
    assert not mask[:, 1].any()  # text was absent and stays absent
    assert mask.any(axis=1).all()  # one of image/audio always kept
    assert (np.asarray(out["text"])[:, :] == 0).all()


def test_deterministic_mode_keeps_everything():
    src = _source(8)
    op = ModalityDropout(ModalityDropoutConfig(probability=1.0, stochastic=False, min_present=0))
    out = op.apply_batch(dict(src))
    assert np.asarray(out["modality_mask"]).all()
    np.testing.assert_array_equal(np.asarray(out["image"]), src["image"])


def test_subset_of_modalities_and_custom_fields():
    src = _source(32)
    src["caption_mask"] = np.ones((32, 5), np.int32)
    op = _op(
        modalities=("image", "text"), probability={"image": 0.0, "text": 1.0}, fields={"text": ["text", "caption_mask"]}
    )
    out = op.apply_batch(dict(src), rng=jax.random.key(1))
    mask = np.asarray(out["modality_mask"])
    assert mask.shape == (32, 2)
    # text always drawn, but min_present=1 gives it back only if image were gone; image never drops
    assert mask[:, 0].all() and not mask[:, 1].any()
    assert (np.asarray(out["caption_mask"]) == 0).all()
    np.testing.assert_array_equal(np.asarray(out["audio"]), src["audio"])


def test_registered_as_a_multimodal_operator():
    assert modalax.get_operator("multimodal", "modality_dropout") is ModalityDropout


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"probability": 1.5}, "probability"),
        ({"probability": {"image": 0.1}}, "missing"),
        ({"probability": {"image": 0.1, "text": 0.1, "audio": 0.1, "video": 0.1}}, "video"),
        ({"min_present": 4}, "min_present"),
        ({"min_present": -1}, "min_present"),
        ({"modalities": ()}, "modalities"),
        ({"modalities": ("image", "image")}, "modalities"),
        ({"modalities": ("image", "depth")}, "depth"),
        ({"fields": {"video": ["v"]}}, "video"),
        ({"fill": "zero"}, "fill"),
        ({"mask_key": ""}, "mask_key"),
    ],
)
def test_bad_config_is_a_config_error_naming_the_field(kwargs, names):
    with pytest.raises(ConfigError, match=names):
        ModalityDropoutConfig(**kwargs)


def test_bad_data_errors_name_the_field():
    src = _source(4)
    op = _op(probability=0.5)
    no_audio = {k: v for k, v in src.items() if k != "audio"}
    with pytest.raises(MissingFieldError, match="'audio'"):
        op.apply_batch(no_audio, rng=jax.random.key(0))
    with pytest.raises(DataError, match="modality_mask"):
        op.apply_batch({**src, "modality_mask": np.ones((4, 2), bool)}, rng=jax.random.key(0))
    with pytest.raises(DataError, match="'text'"):
        _op(fill=0.5).apply_batch(dict(src), rng=jax.random.key(0))
    with pytest.raises(ConfigError, match="rngs"):
        ModalityDropout(ModalityDropoutConfig())
