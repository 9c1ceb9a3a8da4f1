"""The pairing protocol: ``timeseries`` is paired with ``image`` by modalax-multimodal, which knows neither."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import modalax
from modalax.plugin import ModalityPairing, pairing_of

mm = pytest.importorskip("modalax_multimodal")

OPTIONS = {"timeseries": {"length": 64, "channels": 2}, "image": {"shape": (16, 16, 3)}}


def _paired(num_samples: int, strength: float, split: str = "train") -> object:
    return mm.create_multimodal_dataset(
        ["timeseries", "image"], num_samples, strength, modality_options=OPTIONS, rngs=0, split=split
    )


def test_pairing_through_the_registry() -> None:
    pairing = pairing_of("timeseries", OPTIONS["timeseries"])
    assert isinstance(pairing, ModalityPairing) and type(pairing).__name__ == "TimeSeriesPairing"
    assert pairing.field == "timeseries" and pairing.batch_keys == ("timeseries", "series")
    assert pairing.sample_shape == (64, 2) and pairing.dtype == "float32"
    assert pairing.options() == {"length": 64, "channels": 2, "noise": 0.05}
    # render is u @ world (unit variance per step) plus the noise drawn from each sample's key
    world = pairing.make_world(jax.random.key(0), 8)
    np.testing.assert_allclose(jnp.sum(world**2, axis=0), 1.0, rtol=1e-5)
    u = jax.random.normal(jax.random.key(1), (3, 8))
    keys = jax.random.split(jax.random.key(2), 3)
    quiet = pairing_of("timeseries", {**OPTIONS["timeseries"], "noise": 0.0})
    np.testing.assert_allclose(quiet.render(world, u, keys), jnp.einsum("bd,dlc->blc", u, world), atol=1e-5)
    noisy = pairing.render(world, u, keys) - quiet.render(world, u, keys)
    assert 0.04 < float(jnp.std(noisy)) < 0.06


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"length": 0}, modalax.ConfigError, r"TimeSeriesPairing\.length: got 0"),
        ({"length": 3}, modalax.ConfigError, r"length: got 3, expected at least 4"),
        ({"noise": -1.0}, modalax.ConfigError, r"noise: got -1.0"),
        ({"size": 8}, modalax.ConfigError, r"TimeSeriesPairing: unknown option\(s\) 'size'"),
    ],
)
def test_bad_options_are_named(options: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        pairing_of("timeseries", options)
    with pytest.raises(error, match=match):  # the same error, with its modality, through multimodal
        mm.create_multimodal_dataset(["timeseries", "image"], 4, modality_options={"timeseries": options})


def test_paired_records_have_both_modalities() -> None:
    ds = _paired(16, 0.8)
    batch = ds.get_records(np.arange(16))
    assert set(batch) == {"timeseries", "image", "latent", "alignment_score"}
    assert batch["timeseries"].shape == (16, 64, 2) and batch["image"].shape == (16, 16, 16, 3)
    np.testing.assert_array_equal(ds.get_records(np.array([5]))["timeseries"][0], batch["timeseries"][5])
    # a modality's sample depends on its name only: the image is the one of an image+text dataset
    other = mm.create_multimodal_dataset(["image", "text"], 16, 0.8, modality_options=OPTIONS, rngs=0)
    np.testing.assert_array_equal(other.get_records(np.arange(16))["image"], batch["image"])


def _probe_correlations(strength: float) -> tuple[float, float]:
    """Mean correlation of the two modalities' latent predictions, for paired and for unpaired samples."""
    from modalax_multimodal.evaluation import fit_linear_probe

    ds = _paired(900, strength)
    batch = ds.get_records(np.arange(900))
    z = np.asarray(batch["latent"])
    preds = []
    for pairing in ds.pairings.values():  # each modality's own fixed features
        f = np.asarray(pairing.features(batch[pairing.field]))
        preds.append(fit_linear_probe(f[:600], z[:600]).predict(f[600:]))
    a, b = (p - p.mean(0, keepdims=True) for p in preds)  # centred over samples: the shared mean says nothing

    def corr(x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(np.sum(x * y, 1) / np.sqrt(np.sum(x * x, 1) * np.sum(y * y, 1))))

    return corr(a, b), corr(a, np.roll(b, 1, axis=0))


def test_features_of_paired_samples_correlate_more_than_unpaired_ones() -> None:
    paired, unpaired = _probe_correlations(0.9)
    assert paired > 0.6 and abs(unpaired) < 0.1, (paired, unpaired)
    paired, unpaired = _probe_correlations(0.0)  # no alignment: pairs are as unrelated as strangers
    assert abs(paired) < 0.1 and abs(unpaired) < 0.1, (paired, unpaired)


def test_contrastive_model_trains_through_the_loader() -> None:
    import optax

    train, val = _paired(512, 1.0), _paired(128, 1.0, split="val")
    model = mm.MultiModalModel(train.config.replace(embed_dim=16), rngs=nnx.Rngs(0))
    assert set(model.encoders) == {"timeseries", "image"}
    optimizer = nnx.Optimizer(model, optax.adam(3e-3), wrt=nnx.Param)

    @nnx.jit
    def step(model: nnx.Module, optimizer: nnx.Optimizer, batch: dict) -> jax.Array:
        loss, grads = nnx.value_and_grad(lambda m: m.loss_fn(batch, m(batch)))(model)
        optimizer.update(model, grads)
        return loss

    losses = []
    for batch in modalax.DataLoader(train, 64, shuffle=True, seed=0, drop_last=True, num_epochs=3):
        losses.append(float(step(model, optimizer, {"timeseries": batch["timeseries"], "image": batch["image"]})))
    assert len(losses) == 24 and losses[-1] < 0.5 * losses[0], losses
    recall = mm.evaluate_retrieval(model, val, 128, ks=(1,))
    assert recall["timeseries->image"]["recall@1"] > 0.3, recall  # chance: 1 / 128
