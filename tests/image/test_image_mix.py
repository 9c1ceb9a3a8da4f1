"""MixUp and CutMix: the papers' definitions in numpy, partners, validity masks, labels, determinism."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from scipy import stats

import modalax
from modalax import ConfigError, DataError, MissingFieldError
from modalax_image import mix_kernels
from modalax_image.mix_ops import CutMixConfig, CutMixOperator, MixUpConfig, MixUpOperator
from modalax_image.operator_configs import FlipConfig
from modalax_image.operators import FlipOperator

RNG = np.random.default_rng(11)
N, H, W, K = 10, 12, 16, 4
VALID = np.array([True] * 7 + [False] * 3)  # a last batch of 7 records padded to 10


def make(cls, **kwargs):
    config = (MixUpConfig if cls is MixUpOperator else CutMixConfig)(**kwargs)
    return cls(config, rngs=nnx.Rngs(0, augment=1))


def batch(n: int = N) -> dict[str, np.ndarray]:
    return {
        "images": RNG.random((n, H, W, 3), dtype=np.float32),
        "labels": RNG.integers(0, K, n).astype(np.int32),
        "mask": VALID[:n] if n == N else np.ones(n, bool),
    }


def keys(seed: int = 0, n: int = N) -> jax.Array:
    return jax.random.split(jax.random.key(seed), n)


def one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(K, dtype=np.float32)[labels]


def params_of(op, k: jax.Array, valid: np.ndarray) -> dict[str, np.ndarray]:
    return {name: np.asarray(v) for name, v in op.mix_params(k, valid, H, W).items()}


def check_partners(partners: np.ndarray, valid: np.ndarray) -> None:
    """A permutation of the valid records; every invalid record is its own (nobody's partner)."""
    idx = np.flatnonzero(valid)
    assert sorted(partners[idx]) == list(idx)
    np.testing.assert_array_equal(partners[~valid], np.flatnonzero(~valid))


# ------------------------------------------------------------ the papers, in numpy
def reference_mixup(x, y, lam, partners):
    """Zhang et al.: x = lam x_i + (1 - lam) x_perm(i), y likewise."""
    out = np.empty_like(x)
    soft = np.empty_like(y)
    for i, j in enumerate(partners):
        out[i] = lam[i] * x[i] + (1 - lam[i]) * x[j]
        soft[i] = lam[i] * y[i] + (1 - lam[i]) * y[j]
    return out, soft


def reference_cutmix(x, y, lam, centre, partners, valid):
    """Yun et al.: a box of area (1 - lam) H W at a uniform centre, clipped; labels by the box's area."""
    out, soft, weights = x.copy(), y.copy(), np.ones(len(x), np.float32)
    for i, j in enumerate(partners):
        if not valid[i]:
            continue
        ratio = np.sqrt(np.float32(1.0) - np.float32(lam[i]), dtype=np.float32)
        cut_h, cut_w = int(np.floor(np.float32(H) * ratio)), int(np.floor(np.float32(W) * ratio))
        cy = min(int(np.floor(np.float32(centre[i, 0]) * np.float32(H))), H - 1)
        cx = min(int(np.floor(np.float32(centre[i, 1]) * np.float32(W))), W - 1)
        top, left = cy - cut_h // 2, cx - cut_w // 2
        t, b = np.clip([top, top + cut_h], 0, H)
        l_, r = np.clip([left, left + cut_w], 0, W)
        out[i, t:b, l_:r] = x[j, t:b, l_:r]
        weights[i] = 1.0 - (b - t) * (r - l_) / (H * W)
        soft[i] = weights[i] * y[i] + (1 - weights[i]) * y[j]
    return out, soft, weights


@pytest.mark.parametrize("mode", ["batch", "record"])
def test_mixup_is_the_papers_definition(mode):
    data, k = batch(), keys(3)
    op = make(MixUpOperator, num_classes=K, mode=mode, alpha=0.4)
    p = params_of(op, k, VALID)
    check_partners(p["partners"], VALID)
    assert np.all(p["lam"][~VALID] == 1.0) and np.all((p["lam"] >= 0) & (p["lam"] <= 1))
    if mode == "batch":
        assert len(set(p["lam"][VALID])) == 1  # one weight for the batch, as in the papers
    else:
        assert len(set(p["lam"][VALID])) == VALID.sum()
    out = op.apply_batch(data, keys=k)
    ref_x, ref_y = reference_mixup(data["images"], one_hot(data["labels"]), p["lam"], p["partners"])
    np.testing.assert_allclose(np.asarray(out["images"]), ref_x, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.asarray(out["labels"]), ref_y, rtol=1e-6, atol=1e-7)
    assert out["images"].dtype == jnp.float32 and out["labels"].shape == (N, K)
    np.testing.assert_array_equal(np.asarray(out["images"])[~VALID], data["images"][~VALID])  # padding untouched


@pytest.mark.parametrize("mode", ["batch", "record"])
def test_cutmix_is_the_papers_definition(mode):
    data, k = batch(), keys(5)
    data["images"] = (data["images"] * 255).astype(np.uint8)
    op = make(CutMixOperator, num_classes=K, mode=mode)
    p = params_of(op, k, VALID)
    check_partners(p["partners"], VALID)
    out = op.apply_batch(data, keys=k)
    ref_x, ref_y, weights = reference_cutmix(
        data["images"], one_hot(data["labels"]), p["drawn"], p["centre"], p["partners"], VALID
    )
    assert out["images"].dtype == jnp.uint8  # CutMix moves pixels: the dtype stays
    np.testing.assert_array_equal(np.asarray(out["images"]), ref_x)
    np.testing.assert_allclose(p["lam"], weights, rtol=1e-6)  # lam adjusted to the clipped box
    np.testing.assert_allclose(np.asarray(out["labels"]), ref_y, rtol=1e-6, atol=1e-7)
    top, left, bottom, right = p["boxes"][VALID].T
    area = (bottom - top) * (right - left)
    np.testing.assert_allclose(1.0 - area / (H * W), p["lam"][VALID], rtol=1e-6)
    assert np.all(p["lam"][~VALID] == 1.0)
    if mode == "batch":
        assert len({tuple(b) for b in p["boxes"][VALID]}) == 1


@pytest.mark.parametrize("alpha", [0.2, 1.0, 4.0])
def test_the_weights_are_beta_distributed_and_cutmix_boxes_have_their_area(alpha):
    n = 4096
    drawn = params_of(make(MixUpOperator, alpha=alpha, mode="record", label_key=None), keys(1, n), np.ones(n, bool))
    assert stats.kstest(drawn["lam"], stats.beta(alpha, alpha).cdf).pvalue > 1e-3
    cut = make(CutMixOperator, alpha=alpha, mode="record", label_key=None)
    p = {k: np.asarray(v) for k, v in cut.mix_params(keys(2, n), np.ones(n, bool), 64, 64).items()}
    assert stats.kstest(p["drawn"], stats.beta(alpha, alpha).cdf).pvalue > 1e-3
    assert stats.kstest(p["centre"].ravel(), "uniform").pvalue > 1e-3  # uniform centres
    top, left, bottom, right = p["boxes"].T
    unclipped = np.floor(64 * np.sqrt(1 - p["drawn"])) ** 2
    assert np.all((bottom - top) * (right - left) <= unclipped)
    full = (top > 0) & (left > 0) & (bottom < 64) & (right < 64)  # boxes clear of the border keep their size
    np.testing.assert_array_equal(((bottom - top) * (right - left))[full], unclipped[full])


def test_partners_are_uniform_over_the_valid_records():
    counts = np.zeros(N, int)
    op = make(MixUpOperator, label_key=None)
    for seed in range(600):
        counts[params_of(op, keys(seed), VALID)["partners"][0]] += 1
    assert counts[~VALID].sum() == 0
    assert stats.chisquare(counts[VALID]).pvalue > 1e-3


@pytest.mark.parametrize("cls", [MixUpOperator, CutMixOperator])
def test_masked_out_records_never_leak_into_valid_ones(cls):
    data = batch()
    data["images"][~VALID] = np.nan  # padding or skipped files: garbage that must not show
    op = make(cls, num_classes=K, mode="record")
    for seed in range(20):
        out = op.apply_batch(data, keys=keys(seed))
        assert np.isfinite(np.asarray(out["images"])[VALID]).all()
    without_mask = {k: v for k, v in data.items() if k != "mask"}  # no mask field: every record is valid
    outs = [np.asarray(op.apply_batch(without_mask, keys=keys(s))["images"]) for s in range(20)]
    assert any(np.isnan(out[VALID]).any() for out in outs)


def test_given_one_hot_or_soft_labels_are_mixed_and_integers_can_be_kept():
    data = batch()
    soft = RNG.dirichlet(np.ones(K), N).astype(np.float32)
    data["labels"] = soft
    op = make(MixUpOperator, mode="record")  # no num_classes: float labels carry K
    p, out = params_of(op, keys(4), VALID), op.apply_batch(data, keys=keys(4))
    expected = reference_mixup(data["images"], soft, p["lam"], p["partners"])[1]
    np.testing.assert_allclose(np.asarray(out["labels"]), expected, rtol=1e-6)
    ints = batch()
    kept = make(MixUpOperator, num_classes=K, label_target_key="soft").apply_batch(ints, keys=keys(4))
    np.testing.assert_array_equal(np.asarray(kept["labels"]), ints["labels"])
    assert kept["soft"].shape == (N, K)


def test_out_of_range_integer_labels_become_nan_rows_when_traced():
    labels = jnp.asarray([0, 5, 2], jnp.int32)
    mixed = jax.jit(lambda y: mix_kernels.mix_labels(y, jnp.arange(3), jnp.ones(3), num_classes=3))(labels)
    assert np.isnan(np.asarray(mixed)[1]).all() and not np.isnan(np.asarray(mixed)[[0, 2]]).any()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": 0.0}, r"alpha: got 0.0, expected a finite number > 0"),
        ({"alpha": float("nan")}, r"alpha: got nan"),
        ({"alpha": True}, r"alpha: got True"),
        ({"mode": "pair"}, r"mode: unknown value 'pair'; available: batch, record"),
        ({"num_classes": 0}, r"num_classes: got 0, expected a positive int or None"),
        ({"stochastic": False}, r"stochastic: got False, expected True"),
        ({"label_key": None, "num_classes": 3}, r"num_classes/label_target_key with label_key=None"),
        ({"mask_key": "images"}, r"mask_key: got 'images', the image field"),
        ({"mask_key": ""}, r"mask_key: got '', expected a field name or None"),
        ({"auxiliary_fields": ("seg",)}, r"MixUpConfig.auxiliary_fields: got \['seg'\], expected none"),
    ],
)
def test_bad_configs(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        MixUpConfig(**kwargs)


@pytest.mark.parametrize(
    ("change", "kwargs", "error", "match"),
    [
        (lambda b: b.pop("labels"), {}, MissingFieldError, r"no label field 'labels'.*label_key=None"),
        (lambda b: None, {"num_classes": None}, ConfigError, r"num_classes: got None for integer labels"),
        (lambda b: b.update(labels=b["labels"] + K), {}, DataError, r"labels in \[4, 7\], expected .* in \[0, 4\)"),
        (lambda b: b.update(labels=np.ones((N, 5), np.float32)), {}, DataError, r"expected \(10, 4\) for num_classes"),
        (lambda b: b.update(labels=np.ones((N, 2, 2), np.int32)), {}, DataError, r"integer class indices \(N,\)"),
        (lambda b: b.update(mask=np.ones((N, H, W), bool)), {}, DataError, r"'mask' has shape \(10, 12, 16\), exp"),
        (lambda b: b.update(images=b["images"][0]), {}, DataError, r"add the batch axis"),
    ],
)
def test_bad_batches(change, kwargs, error, match):
    data = batch()
    change(data)
    op = make(MixUpOperator, **{"num_classes": K, **kwargs})
    with pytest.raises(error, match=match):
        op.apply_batch(data, keys=keys())


def test_cutmix_pastes_masks_with_the_same_box():
    data = batch()
    data["seg"] = np.broadcast_to(np.arange(N, dtype=np.int32)[:, None, None], (N, H, W)).copy()  # record id
    op = make(CutMixOperator, num_classes=K, mode="record", auxiliary_fields=("seg",))
    p, out = params_of(op, keys(8), VALID), op.apply_batch(data, keys=keys(8))
    seg = np.asarray(out["seg"])
    for i in range(N):
        t, l_, b, r = p["boxes"][i]
        inside = np.zeros((H, W), bool)
        inside[t:b, l_:r] = True
        expected = np.where(inside, p["partners"][i], i) if VALID[i] else np.full((H, W), i)
        np.testing.assert_array_equal(seg[i], expected)
    with pytest.raises(DataError, match=r"auxiliary field 'seg' has shape \(10, 6, 8\), expected \(N, 12, 16\)"):
        op.apply_batch({**data, "seg": data["seg"][:, :6, :8]}, keys=keys(8))


@pytest.mark.slow  # two loaders compile their pipelines
def test_the_loader_mixes_deterministically_for_a_seed_in_a_compose():
    data = {"images": RNG.random((24, H, W, 3), dtype=np.float32), "labels": RNG.integers(0, K, 24).astype(np.int32)}
    ops = [FlipOperator(FlipConfig(), rngs=nnx.Rngs(0, augment=1)), make(MixUpOperator, num_classes=K)]

    def run(seed: int) -> list[np.ndarray]:
        loader = modalax.DataLoader(modalax.ArraySource(data), 8, seed=seed, operators=ops, drop_last=True)
        return [np.asarray(b["labels"]) for b in loader]

    first, again, other = run(0), run(0), run(1)
    assert all(a.shape == (8, K) for a in first)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    assert any((a.max(axis=1) < 1).any() for a in first)  # records were mixed


@pytest.mark.parametrize("cls", [MixUpOperator, CutMixOperator])
def test_jitted_with_keys_equals_eager_and_compose_folds_keys(cls):
    data, k = batch(), keys(9)
    op = make(cls, num_classes=K)
    eager = op.apply_batch(data, keys=k)
    jitted = jax.jit(lambda b, kk: op.apply_batch(b, keys=kk))(data, k)
    for name in ("images", "labels"):
        np.testing.assert_array_equal(np.asarray(jitted[name]), np.asarray(eager[name]))
    chain = modalax.Compose([op])
    np.testing.assert_array_equal(
        np.asarray(chain.apply_batch(data, keys=k)["labels"]),
        np.asarray(op.apply_batch(data, keys=jax.vmap(lambda x: jax.random.fold_in(x, 0))(k))["labels"]),
    )
    with pytest.raises(ConfigError, match=r"inside jax.jit .* without keys= or rng="):
        jax.jit(lambda b: op.apply_batch(b))(data)


def test_structure_empty_batches_and_registered_kernels():
    op = make(MixUpOperator, num_classes=K)
    spec = {"images": jax.ShapeDtypeStruct((H, W, 3), jnp.uint8), "labels": jax.ShapeDtypeStruct((), jnp.int32)}
    out = op.output_spec(spec)
    assert out["images"].dtype == jnp.float32 and out["labels"].shape == (K,)
    empty = op.apply_batch({"images": np.zeros((0, H, W, 3), np.uint8), "labels": np.zeros(0, np.int32)})
    assert empty["images"].shape == (0, H, W, 3) and empty["labels"].shape == (0, K)
    with pytest.raises(ConfigError, match=r"mixes the records of a batch and has no per-element apply"):
        op.apply({"images": np.zeros((H, W, 3))}, {}, None)
    x, partners, lam = RNG.random((3, 4, 4, 1), dtype=np.float32), np.array([2, 0, 1]), np.array([0.25, 0.5, 1.0])
    np.testing.assert_allclose(
        np.asarray(modalax.get_kernel("image.mixup")(x, partners, lam)),
        reference_mixup(x, x, lam, partners)[0],
        rtol=1e-6,
    )
    boxes = np.array([[0, 0, 2, 2], [1, 1, 4, 4], [0, 0, 0, 0]])
    cut = np.asarray(modalax.get_kernel("image.cutmix")(x, partners, boxes))
    np.testing.assert_array_equal(cut[0, :2, :2], x[2, :2, :2])
    np.testing.assert_array_equal(cut[2], x[2])
    labels = modalax.get_kernel("image.mix_labels")(np.array([0, 1, 2]), partners, lam, num_classes=3)
    np.testing.assert_allclose(np.asarray(labels)[0], [0.25, 0.0, 0.75])
