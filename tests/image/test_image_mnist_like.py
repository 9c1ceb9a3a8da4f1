"""MNISTLikeDataset: labelled glyphs that a linear classifier separates (>= 95%)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from modalax import ConfigError
from modalax_image import ImageModalityConfig, MNISTLikeDataset


def _fit_softmax_regression(x: np.ndarray, y: np.ndarray, steps: int = 300, lr: float = 0.5) -> tuple:
    """Multinomial logistic regression by full-batch gradient descent (small L2)."""
    x, y = jnp.asarray(x), jnp.asarray(y)

    def loss(p):
        logits = x @ p[0] + p[1]
        return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(y.shape[0]), y]) + 1e-4 * jnp.sum(p[0] ** 2)

    @jax.jit
    def train(p):
        def step(p, _):
            return jax.tree.map(lambda a, g: a - lr * g, p, jax.grad(loss)(p)), None

        return jax.lax.scan(step, p, None, length=steps)[0]

    return train((jnp.zeros((x.shape[1], 10)), jnp.zeros(10)))


def test_default_config_is_28x28_grayscale_with_labels():
    ds = MNISTLikeDataset(dataset_size=100, rngs=nnx.Rngs(0))
    batch = ds.get_batch(16)
    assert batch["images"].shape == (16, 28, 28, 1) and batch["labels"].shape == (16,)
    assert batch["labels"].dtype == jnp.int32
    x = np.asarray(batch["images"])
    assert x.min() == 0.0 and x.max() == 1.0  # black background, full-ink strokes
    ink = x.mean(axis=(1, 2, 3))
    assert np.all((ink > 0.04) & (ink < 0.4))  # a glyph, not an empty or filled square


def test_a_linear_classifier_reaches_95_percent_on_held_out_samples():
    train = MNISTLikeDataset(dataset_size=2000, split="train", rngs=nnx.Rngs(0))
    test = MNISTLikeDataset(dataset_size=1000, split="test", rngs=nnx.Rngs(0))
    a, b = train.get_records(np.arange(2000)), test.get_records(np.arange(1000))
    x_train, y_train = np.asarray(a["images"]).reshape(2000, -1), np.asarray(a["labels"])
    x_test, y_test = np.asarray(b["images"]).reshape(1000, -1), np.asarray(b["labels"])
    assert np.bincount(y_train, minlength=10).min() > 150  # all ten classes, roughly balanced
    w, bias = _fit_softmax_regression(x_train, y_train)
    accuracy = float(np.mean(np.argmax(x_test @ np.asarray(w) + np.asarray(bias), axis=1) == y_test))
    assert accuracy >= 0.95, accuracy
    # the glyphs vary: two samples of one class are never identical
    same = x_train[y_train == 3][:2]
    assert not np.allclose(same[0], same[1])


def test_num_classes_limits_labels_and_rgb_configs_repeat_the_ink():
    ds = MNISTLikeDataset(ImageModalityConfig(height=20, width=24), dataset_size=50, num_classes=3, rngs=nnx.Rngs(1))
    batch = ds.get_records(np.arange(50))
    assert set(np.asarray(batch["labels"]).tolist()) == {0, 1, 2}
    x = np.asarray(batch["images"])
    assert x.shape == (50, 20, 24, 3)
    np.testing.assert_array_equal(x[..., 0], x[..., 2])


@pytest.mark.parametrize("num_classes", [0, 11, 2.0])
def test_bad_num_classes(num_classes):
    with pytest.raises(ConfigError, match=r"num_classes: got .*, expected an int in \[1, 10\]"):
        MNISTLikeDataset(num_classes=num_classes, rngs=nnx.Rngs(0))
