"""Multimodal is driven by the registry: any modality with the pairing protocol pairs; one without is named.

A stranger's modality (``dots``, registered at run time below) goes through every door the
image, text and audio pairings go through: aligned data, the config, the alignment probe, the
models, modality dropout, paired data and the quality metrics.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import modalax
from modalax import ConfigError, PluginError
from modalax.plugin import ModalityPairing, check_positive
from modalax.testing import discovering_registry
from modalax_multimodal import (
    ModalityDropout,
    ModalityDropoutConfig,
    MultiModalConfig,
    MultiModalEvaluationSuite,
    MultiModalModel,
    MultiModalPairedDataset,
    create_multimodal_dataset,
    measure_alignment,
)

SRC = Path(__file__).resolve().parents[2] / "plugins" / "multimodal" / "src"


class DotsPairing(ModalityPairing):
    """``(size,)`` float32 vectors: a fixed random linear map of ``u`` (deterministic)."""

    aliases = ("dot_vectors",)

    def __init__(self, size: int = 6, **options: Any) -> None:
        super().__init__(**options)
        self.size = int(check_positive("DotsPairing", "size", size))

    def options(self) -> dict[str, Any]:
        return {"size": self.size}

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return (self.size,)

    def make_world(self, key: jax.Array, latent_dim: int) -> jax.Array:
        return jax.random.normal(key, (latent_dim, self.size)) / np.sqrt(latent_dim)

    def render(self, world: jax.Array, u: jax.Array, keys: jax.Array) -> jax.Array:
        return u @ world

    def features(self, x: jax.Array) -> jax.Array:
        return jnp.asarray(x, jnp.float32)

    def encoder(self, embed_dim: int, *, rngs: nnx.Rngs) -> nnx.Module:
        return nnx.Linear(self.size, embed_dim, rngs=rngs)

    def quality(self, generated: jax.Array, reference: jax.Array) -> dict[str, float]:
        return {"mse": float(jnp.mean((jnp.asarray(generated) - jnp.asarray(reference)) ** 2))}


class Dots(modalax.GenerativeModel):
    name = "dots"

    @classmethod
    def pairing(cls, **options: Any) -> DotsPairing:
        return DotsPairing(**options)


class BadShape(Dots):
    @classmethod
    def pairing(cls, **options: Any) -> DotsPairing:
        class Wrong(DotsPairing):
            def render(self, world: jax.Array, u: jax.Array, keys: jax.Array) -> jax.Array:
                return (u @ world)[:, :-1]

        return Wrong(**options)


class Plain(modalax.GenerativeModel):
    """A registered modality that does not implement the pairing protocol."""

    name = "plain"


@pytest.fixture
def registry() -> Iterator[Any]:
    with discovering_registry(isolate=False) as reg:  # the installed plugins, plus the runtime ones below
        modalax.register_modality("dots", Dots)
        modalax.register_modality("plain", Plain)
        modalax.register_modality("badshape", BadShape)
        yield reg


def test_no_module_of_the_plugin_imports_a_sibling_plugin() -> None:
    pattern = re.compile(r"modalax_(image|text|audio)\b")
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_a_modality_without_the_protocol_is_a_plugin_error_naming_the_method(registry: Any) -> None:
    assert "plain" in modalax.list_modalities()
    for build in (
        lambda: create_multimodal_dataset(["plain", "image"], 4),
        lambda: MultiModalModel(MultiModalConfig(modalities=("image", "plain")), rngs=nnx.Rngs(0)),
        lambda: ModalityDropoutConfig(modalities=("image", "plain")),
    ):
        with pytest.raises((PluginError, ConfigError), match=r"'plain'.*no method 'pairing'"):
            build()
    with pytest.raises(ConfigError, match=r"unknown modality 'pointcloud'"):
        create_multimodal_dataset(["pointcloud", "image"], 4)


def test_a_strangers_modality_pairs_with_image(registry: Any) -> None:
    ds = create_multimodal_dataset(["dots", "image"], 600, 1.0, modality_options={"dots": {"size": 40}}, rngs=0)
    batch = ds.get_records(np.arange(4))
    assert set(batch) == {"dots", "image", "latent", "alignment_score"} and batch["dots"].shape == (4, 40)
    # dots render u exactly (a linear map of full rank): a linear probe recovers the latent
    report = measure_alignment(ds, num_train=400, num_test=200, ks=(1,))
    assert report["r2"]["dots"] > 0.999 and report["retrieval"]["dots->image"]["recall@1"] > 0.9, report
    # the model builds each encoder from its pairing; a hidden_dim the pairing cannot take is refused
    model = MultiModalModel(ds.config.replace(embed_dim=8, num_heads=2), rngs=nnx.Rngs(0))
    out = model({"dot_vectors": batch["dots"], "images": batch["image"]})  # aliases are batch keys too
    assert out["embeddings"]["dots"].shape == (4, 8) and out["fused"].shape == (4, 8)
    with pytest.raises(ConfigError, match=r"modality 'dots'.*takes no hidden_dim"):
        MultiModalModel(ds.config, rngs=nnx.Rngs(0), hidden_dim=32)


def test_dropout_paired_data_and_quality_reach_the_stranger(registry: Any) -> None:
    config = ModalityDropoutConfig(modalities=("dots", "image"), probability={"dots": 1.0, "image": 0.0})
    assert config.default_keys == {"dots": ("dots", "dot_vectors"), "image": ("image", "images")}
    ds = create_multimodal_dataset(["dots", "image"], 8, 0.5, rngs=0)
    out = ModalityDropout(config, rngs=nnx.Rngs(augment=0)).apply_batch(ds.get_records(np.arange(8)))
    assert (np.asarray(out["dots"]) == 0).all() and np.asarray(out["modality_mask"])[:, 1].all()
    data = {"dots": np.ones((3, 6), np.float32), "image": np.zeros((3, 4, 4, 3), np.float32)}
    assert MultiModalPairedDataset([("dots", "image")], data).modalities == ("dots", "image")
    scores = MultiModalEvaluationSuite().evaluate(
        generated={"dots": np.ones((2, 6))}, reference={"dot_vectors": np.zeros((2, 6))}
    )
    assert scores == {"quality/dots/mse": 1.0}


def test_render_output_is_checked_against_the_declared_shape(registry: Any) -> None:
    ds = create_multimodal_dataset(["badshape", "image"], 4, rngs=0)
    with pytest.raises(PluginError, match=r"modality 'badshape': Wrong\.render returned float32\(4, 5\), expected"):
        ds.get_records(np.arange(4))


def test_config_options_shorthands_and_round_trip() -> None:
    cfg = MultiModalConfig(
        modalities=("image", "audio"),
        modality_options={"image": {"shape": [8, 8, 3], "data_range": 1.0}},
        audio_sample_rate=8000,
        audio_duration=0.25,
    )
    assert cfg.options_for("image") == {"shape": (8, 8, 3), "data_range": 1.0}
    assert cfg.options_for("audio") == {"sample_rate": 8000, "duration": 0.25}
    assert cfg.options_for("text") == {}
    again = MultiModalConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and hash(again) == hash(cfg)
    assert cfg.pairing("image") is again.pairing("image")  # one pairing per (modality, options): one compilation
    assert cfg.pairings()["audio"].sample_shape == (2000,)
    for bad, match in (
        ({"modality_options": {"image": 3}}, r"modality_options\['image'\]: got 3"),
        ({"modality_options": [("image", {})]}, r"modality_options: got \["),
        ({"modalities": ("image", "multimodal")}, r"unknown modality 'multimodal'"),
        ({"group_dim": 8}, r"group_dim: got 8, but fusion is 'attention'"),
    ):
        with pytest.raises(ConfigError, match=match):
            MultiModalConfig(**bad)


def test_field_collisions_are_config_errors(registry: Any) -> None:
    class Clash(DotsPairing):
        field = "latent"

    class ClashModality(Dots):
        @classmethod
        def pairing(cls, **options: Any) -> DotsPairing:
            return Clash(**options)

    modalax.register_modality("clash", ClashModality)
    with pytest.raises(ConfigError, match=r"modality 'clash' writes field 'latent'"):
        create_multimodal_dataset(["clash", "image"], 4)
