"""The template plugin is discovered like any installed plugin and works end to end."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import modalax


def test_discovered_with_its_distribution() -> None:
    assert "timeseries" in modalax.list_modalities()
    info = next(p for p in modalax.list_plugins() if p.id == "timeseries")
    assert (info.distribution, info.version, info.status) == ("modalax-timeseries", "0.1.0", "loaded")
    assert info.registered["kernels"] == ["timeseries.zscore"]


def test_dataset_kernel_and_operator_through_the_loader() -> None:
    ds = modalax.create_dataset("timeseries", "synthetic", dataset_size=20, rngs=nnx.Rngs(0))
    zscore = modalax.get_kernel("timeseries.zscore")
    jitter_cls = modalax.get_operator("timeseries", "jitter")
    op = jitter_cls(_config(sigma=0.0), rngs=nnx.Rngs(0, augment=1))
    seen = []
    for batch in modalax.DataLoader(ds, 8, operators=[op], seed=1):
        z = zscore(batch["series"])
        np.testing.assert_allclose(jnp.mean(z, axis=1), 0.0, atol=1e-5)
        np.testing.assert_allclose(jnp.std(z, axis=1), 1.0, atol=1e-3)
        seen.extend(np.asarray(batch["series"][np.asarray(batch["mask"])][:, 0, 0]).tolist())
    expected = np.asarray(ds.get_records(np.arange(20))["series"][:, 0, 0])
    np.testing.assert_allclose(sorted(seen), sorted(expected.tolist()), rtol=1e-6)  # sigma 0: data unchanged


class TinyDecoder(nnx.Module):
    """A user's model: it needs the record shape, which the adapter supplies."""

    def __init__(self, width: int = 4, *, output_shape: tuple[int, int], rngs: nnx.Rngs) -> None:
        self.output_shape = output_shape
        self.width = width


def test_adapter_builds_the_model_with_the_series_shape() -> None:
    from modalax_timeseries.config import TimeSeriesConfig
    from modalax_timeseries.modality import TimeSeriesAdapter, TimeSeriesModality

    modality = TimeSeriesModality(TimeSeriesConfig(length=64, channels=2), rngs=nnx.Rngs(0))
    built = modality.get_adapter(TinyDecoder).create(8, rngs=nnx.Rngs(0))
    assert isinstance(modality.get_adapter(TinyDecoder), modalax.ModelAdapter)
    assert (type(built), built.output_shape, built.width) == (TinyDecoder, (64, 2), 8)
    registered = modalax.get_adapter("timeseries")
    assert registered is TimeSeriesAdapter
    assert registered(TinyDecoder).create(rngs=nnx.Rngs(0)).output_shape == (128, 1)
    with pytest.raises(modalax.ModalaxError, match=r"TimeSeriesAdapter\.model_cls: got 'decoder'"):
        TimeSeriesAdapter("decoder")  # type: ignore[arg-type]


def _config(sigma: float) -> object:
    from modalax_timeseries.modality import JitterConfig

    return JitterConfig(field_key="series", stochastic=True, stream_name="augment", sigma=sigma)
