"""Pairwise sums and means: values against float64 sums, fixed bits in any batch, bad axes."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from modalax import ConfigError
from modalax.plugin import pairwise_mean, pairwise_sum

RNG = np.random.default_rng(0)


@pytest.mark.parametrize(
    ("shape", "axis"),
    [
        ((4, 12, 12, 3), (1, 2)),  # per-channel image mean
        ((4, 13, 7, 1), (1, 2, 3)),  # odd lengths set elements aside at several halvings
        ((3, 1000), -1),
        ((5, 1), 1),
        ((2, 3, 5), 0),
        ((6,), 0),
    ],
)
@pytest.mark.parametrize("keepdims", [False, True])
def test_values_match_a_float64_sum(shape, axis, keepdims):
    x = RNG.standard_normal(shape).astype(np.float32)
    expected = x.astype(np.float64).sum(axis=axis, keepdims=keepdims)
    got = np.asarray(pairwise_sum(jnp.asarray(x), axis, keepdims=keepdims))
    assert got.shape == expected.shape and got.dtype == np.float32
    count = math.prod(x.shape[a] for a in ((axis,) if isinstance(axis, int) else axis))
    np.testing.assert_allclose(got, expected, rtol=0, atol=16 * np.finfo(np.float32).eps * math.sqrt(count))
    np.testing.assert_allclose(
        np.asarray(pairwise_mean(x, axis, keepdims=keepdims)), expected / count, rtol=2e-6, atol=1e-7
    )


def test_the_order_is_the_pairwise_tree():
    # Element i pairs with i + L/2.  1 + 2**-24 rounds to 1, so a left-to-right sum loses both
    # small terms; the tree adds them to each other first and keeps them.
    x = jnp.asarray([1.0, 2.0**-24, 0.0, 2.0**-24], jnp.float32)
    assert float(pairwise_sum(x, 0)) == 1.0 + 2.0**-23
    np.testing.assert_array_equal(np.asarray(pairwise_sum(jnp.arange(7.0), 0)), 21.0)


@pytest.mark.parametrize(("shape", "axis"), [((48, 12, 12, 3), (1, 2)), ((48, 1000), -1), ((48, 9, 11, 1), (1, 2, 3))])
def test_a_row_gets_the_same_bits_in_any_batch(shape, axis):
    # The shapes where XLA:CPU's jnp.mean changed the last bit between batches of 8 and 16.
    x = RNG.random(shape, dtype=np.float32)
    mean = jax.jit(lambda v: pairwise_mean(v, axis, keepdims=True))
    alone = np.concatenate([np.asarray(mean(x[i : i + 1])) for i in range(48)])
    for size in (3, 8, 16, 48):
        batched = np.concatenate([np.asarray(mean(x[i : i + size])) for i in range(0, 48, size)])
        np.testing.assert_array_equal(batched, alone, err_msg=f"batch of {size}")


def test_empty_axes_sum_to_zero_and_mean_to_nan():
    x = jnp.zeros((3, 0, 2))
    np.testing.assert_array_equal(np.asarray(pairwise_sum(x, 1)), np.zeros((3, 2)))
    mean = pairwise_mean(x, 1, keepdims=True)
    assert mean.shape == (3, 1, 2) and np.isnan(np.asarray(mean)).all()
    assert pairwise_sum(jnp.zeros((0, 4, 4, 3)), (1, 2), keepdims=True).shape == (0, 1, 1, 3)


@pytest.mark.parametrize(
    ("axis", "message"),
    [
        ((), r"got axis \(\), expected axes of an array with 3 dims"),
        (3, "got axis 3, expected axes of an array with 3 dims"),
        ((0, -4), r"got axis \(0, -4\), expected axes"),
        ((0, 2), r"got axis \(0, 2\), expected distinct adjacent axes"),
        ((1, -2), r"got axis \(1, -2\), expected distinct adjacent axes"),
    ],
)
def test_bad_axes_are_config_errors(axis, message):
    with pytest.raises(ConfigError, match=message):
        pairwise_sum(jnp.zeros((2, 3, 4)), axis)
