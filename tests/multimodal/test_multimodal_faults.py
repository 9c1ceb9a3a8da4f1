"""Fault injection for the multimodal plugin: each bad input is a clear error naming the field and value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from modalax import ConfigError, DataError
from modalax_multimodal import MultiModalModality, MultiModalPairedDataset, contrastive_loss, symmetric_info_nce

N = 6
PAIRS = [("image", "audio")]


def _paired(**changes: Any) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    data = {"image": rng.random((N, 4, 4, 3), dtype=np.float32), "audio": rng.random((N, 32), dtype=np.float32)}
    for name, (index, value) in changes.items():
        data[name][index] = value
    return data


def _emb(rows: int = 4) -> np.ndarray:
    return np.random.default_rng(1).standard_normal((rows, 8)).astype(np.float32)


_MODALITY = MultiModalModality(rngs=nnx.Rngs(0))
_IMG, _AUD, _TXT = np.zeros((32, 32, 3), np.float32), np.zeros((400,), np.float32), np.full((12,), 5, np.int32)


def _process(**data: Any) -> Callable[[], Any]:
    return lambda: _MODALITY.process(data)


CASES: list[tuple[str, Callable[[], Any], type[Exception], tuple[str, ...]]] = [
    ("temperature 0", lambda: contrastive_loss(_emb(), _emb(), temperature=0.0), ConfigError, ("temperature", "0.0")),
    ("temperature < 0", lambda: contrastive_loss(_emb(), _emb(), temperature=-1), ConfigError, ("temperature", "-1")),
    ("temperature nan", lambda: contrastive_loss(_emb(), _emb(), temperature=np.nan), ConfigError, ("nan",)),
    ("temperature inf", lambda: symmetric_info_nce(_emb(), _emb(), np.inf), ConfigError, ("temperature", "inf")),
    ("temperature text", lambda: contrastive_loss(_emb(), _emb(), temperature="hot"), ConfigError, ("'hot'",)),
    ("temperature vector", lambda: contrastive_loss(_emb(), _emb(), temperature=[0.1, 0.2]), ConfigError, ("0.2",)),
    ("empty embeddings", lambda: contrastive_loss(_emb(0), _emb(0)), DataError, ("0 rows",)),
    (
        "paired image NaN",
        lambda: MultiModalPairedDataset(PAIRS, _paired(image=(3, np.nan))),
        DataError,
        ("data['image']", "sample 3", "nan"),
    ),
    (
        "paired audio inf",
        lambda: MultiModalPairedDataset(PAIRS, _paired(audio=(5, -np.inf))),
        DataError,
        ("data['audio']", "sample 5", "-inf"),
    ),
    (
        "process mixed ranks",
        _process(image=_IMG, audio=np.zeros((2, 400), np.float32)),
        DataError,
        ("(32, 32, 3)", "(2, 400)", "mix"),
    ),
    (
        "process batch sizes differ",
        _process(image=np.zeros((2, 32, 32, 3), np.float32), audio=np.zeros((3, 400), np.float32)),
        DataError,
        ("'image': 2", "'audio': 3"),
    ),
    (
        "process empty batch",
        _process(image=np.zeros((0, 32, 32, 3), np.float32), text=np.zeros((0, 12), np.int32)),
        DataError,
        ("empty", "'image': 0"),
    ),
    ("process image rank 2", _process(image=np.zeros((32, 32), np.float32)), DataError, ("'image'", "(32, 32)")),
    ("process audio rank 3", _process(audio=np.zeros((1, 2, 400), np.float32)), DataError, ("'audio'", "(1, 2, 400)")),
    ("process NaN audio", _process(audio=np.where(np.arange(400) == 7, np.nan, _AUD)), DataError, ("'audio'", "nan")),
    (
        "process inf image in batch",
        _process(image=np.stack([_IMG, np.full_like(_IMG, np.inf)])),
        DataError,
        ("'image'", "sample 1", "inf"),
    ),
    ("process token id too big", _process(text=np.array([[5, 1000]], np.int32)), DataError, ("1000", "vocab")),
    ("process negative token", _process(text=np.array([5, -2], np.int32)), DataError, ("'text'", "-2")),
    ("process float tokens", _process(text=np.ones((2, 4), np.float32)), DataError, ("'text'", "float32")),
    ("process no modality", _process(labels=np.zeros(3)), DataError, ("labels", "image")),
    ("process not a dict", lambda: _MODALITY.process(_IMG), DataError, ("ndarray", "dict")),
]


@pytest.mark.parametrize(("fn", "error", "needles"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_error(fn: Callable[[], Any], error: type[Exception], needles: tuple[str, ...]) -> None:
    with pytest.raises(error) as info:
        fn()
    message = str(info.value)
    for needle in needles:
        assert needle in message, (needle, message)


def test_one_unbatched_sample_is_processed_as_a_batch_of_one() -> None:
    rng = np.random.default_rng(0)
    sample = {
        "image": rng.random((32, 32, 3), dtype=np.float32),
        "text": rng.integers(4, 1000, 12).astype(np.int32),
        "audio": rng.standard_normal(16000).astype(np.float32),
    }
    one = _MODALITY.process(sample)
    batch = _MODALITY.process({k: v[None] for k, v in sample.items()})
    assert {k: v.shape for k, v in one.items()} == {"image": (192,), "text": (1000,), "audio": (128,)}
    for name in sample:
        np.testing.assert_allclose(one[name], batch[name][0], rtol=1e-6)


def test_temperature_inside_jit_is_not_inspected() -> None:
    # a traced (e.g. learnt) temperature cannot be checked; the loss must still trace and be finite
    loss = jax.jit(lambda t: contrastive_loss(jnp.asarray(_emb()), jnp.asarray(_emb()), temperature=t))(0.1)
    assert np.isfinite(float(loss))
