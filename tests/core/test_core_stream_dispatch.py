"""``DataLoader`` of a stream is a ``StreamingLoader``; of anything random-access, a ``DataLoader``."""

from __future__ import annotations

import numpy as np
import pytest

import modalax
from modalax import ArraySource, ConfigError, DataLoader, IterableSource, StreamingLoader


def records():
    for i in range(10):
        yield {"x": np.array([i], np.float32)}


@pytest.mark.parametrize("source", [lambda: IterableSource(records), lambda: records()], ids=["factory", "generator"])
def test_a_stream_gets_the_streaming_loader_with_the_same_arguments(source) -> None:
    loader = DataLoader(source(), 4, seed=0, drop_last=False)
    assert isinstance(loader, StreamingLoader) and not isinstance(loader, DataLoader)
    batches = list(loader)
    got = [float(v) for b in batches for v, m in zip(np.asarray(b["x"]).ravel(), b["mask"], strict=True) if m]
    assert got == [float(i) for i in range(10)]
    assert [b["mask"].tolist() for b in batches][-1] == [True, True, False, False]


def test_an_explicit_global_shuffle_of_a_stream_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"StreamingLoader.shuffle: got True, but a stream has no global permutation"):
        DataLoader(IterableSource(records), 4, shuffle=True)


def test_random_access_sources_keep_the_data_loader() -> None:
    for source in (ArraySource({"x": np.zeros((5, 1))}), [{"x": np.zeros(1)}] * 5):
        assert type(DataLoader(source, 2)) is DataLoader
    assert type(modalax.create_data_loader(ArraySource({"x": np.zeros((5, 1))}), 2)) is DataLoader
