"""The audio plugin passes modalax's conformance kit, as any third-party plugin must.

The kit checks a kernel's batch independence and runs an operator on the examples the plugin
registers (``modalax_audio.examples``); the tests below keep those examples honest (every
per-record kernel has one, its records differ, each operator example makes the operator work)
and record the known defects the kit finds, as strict expected failures that turn into
failures once fixed.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import pytest
from flax import nnx

import modalax
from modalax.plugin import ConfigError, KernelRecord, OperatorRecord, resolve
from modalax.testing import conformance_tests
from modalax_audio import examples, plugin

#: Checks the kit fails on a known defect (XLA:CPU only: other backends multiply in one piece).
KNOWN_DEFECTS = {
    "kernel:audio.mfcc/batch-independent": (
        "audio.mel_spectrogram's filterbank product gives other float32 bits for a record alone than in "
        "its batch on XLA:CPU (about 1 ulp); the DCT's cancellation lifts it above the kit's 1e-6"
    ),
}

test_conformance = conformance_tests("audio", expected_failures=KNOWN_DEFECTS if jax.default_backend() == "cpu" else {})


#: Kernels without an example, and why the kit's batch check cannot apply to them.
WITHOUT_EXAMPLE = {"audio.mel_filterbank": "every argument is static: no batch"}


def _registered(hook: Any) -> list[Any]:
    records: list[Any] = []
    hook(records.append)
    return records


KERNELS: list[KernelRecord] = _registered(plugin.register_kernels)
OPERATORS: list[OperatorRecord] = _registered(plugin.register_operators)


def test_every_per_record_kernel_has_an_example() -> None:
    assert {r.name for r in KERNELS} == set(modalax.list_kernels("audio."))
    assert {r.name for r in KERNELS if r.example is None} == set(WITHOUT_EXAMPLE)


def _example_run(name: str) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    record = next(r for r in OPERATORS if r.name == name)
    config, batch = resolve(record.example)()
    op = modalax.get_operator("audio", name)(config, rngs=nnx.Rngs(0, augment=1))
    return config, batch, op.apply_batch(dict(batch))


def test_only_the_operators_the_clips_do_not_fit_have_examples() -> None:
    assert {r.name for r in OPERATORS if r.example} == {"time_mask", "frequency_mask", "random_crop"}


@pytest.mark.parametrize(("name", "axis"), [("time_mask", 1), ("frequency_mask", 2)])
def test_mask_examples_mask_bands_of_log_mel_features(name: str, axis: int) -> None:
    config, batch, out = _example_run(name)
    x, y = np.asarray(batch["audio"]), np.asarray(out["audio"])
    assert x.ndim == 3 and x.shape[1] == 80 and y.shape == x.shape
    assert not (x == config.mask_value).all(axis=axis).any(), "a band of the input already holds the mask value"
    masked = (y == config.mask_value).all(axis=axis)  # whole frames (time mask) or channels (frequency mask)
    assert masked.any(axis=1).sum() >= 3, "fewer than three records got a band"
    np.testing.assert_array_equal(y[y != config.mask_value], x[y != config.mask_value])


def test_random_crop_example_cuts_windows_of_the_clips() -> None:
    config, batch, out = _example_run("random_crop")
    x, y = np.asarray(batch["audio"]), np.asarray(out["audio"])
    assert y.shape == (x.shape[0], config.n_samples) and config.n_samples < x.shape[1]
    windows = np.lib.stride_tricks.sliding_window_view(x, config.n_samples, axis=1)  # (N, starts, n_samples)
    found = (windows == y[:, None, :]).all(axis=2).any(axis=1)
    assert found.all(), "a window is not a slice of its clip"


def test_griffin_lim_with_a_key_per_record_is_batch_independent() -> None:
    (mag, keys), kwargs = examples.griffin_lim()
    fn = modalax.get_kernel("audio.griffin_lim")
    full = np.asarray(fn(mag, keys, **kwargs))
    for i in range(len(mag)):
        alone = np.asarray(fn(mag[i : i + 1], keys[i : i + 1], **kwargs))[0]
        np.testing.assert_allclose(alone, full[i], rtol=1e-6, atol=1e-6)
    raw = jax.random.key_data(keys)  # raw uint32 keys (jax.random.PRNGKey) per record work the same
    np.testing.assert_allclose(np.asarray(fn(mag, raw, **kwargs)), full, rtol=1e-6, atol=1e-6)
    shared = np.asarray(fn(mag, keys[0], **kwargs))  # one key: one draw for the whole array
    assert not np.allclose(shared, full, atol=1e-3)


@pytest.mark.parametrize("shape", [(2,), (3, 1)], ids=["too few keys", "extra axis"])
def test_griffin_lim_refuses_keys_that_match_no_record_axis(shape: tuple[int, ...]) -> None:
    (mag, _), kwargs = examples.griffin_lim()
    keys = jax.random.split(jax.random.key(0), int(np.prod(shape))).reshape(shape)
    with pytest.raises(ConfigError, match=r"griffin_lim.key: got keys of shape \(.*\), expected one key or one per"):
        modalax.get_kernel("audio.griffin_lim")(mag, keys, **kwargs)
