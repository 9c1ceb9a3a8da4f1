"""The plugin through the registry: discovery, light hook module, kernels, adapters, previewer, docs."""

from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import modalax
from modalax import ConfigError
from modalax_multimodal.adapters import (
    ImageToTextAdapter,
    MultiModalAdapter,
    TextToAudioAdapter,
    TextToImageAdapter,
    shapes_from,
)
from modalax_multimodal.config import MultiModalConfig
from modalax_multimodal.datasets import create_synthetic_multi_modal_dataset
from modalax_multimodal.generators import ImageToTextGenerator, TextToAudioGenerator, TextToImageGenerator
from modalax_multimodal.modality import MultiModalModality
from modalax_multimodal.models import MultiModalModel

ROOT = Path(__file__).resolve().parents[2]


def test_registered_through_the_entry_point() -> None:
    assert "multimodal" in modalax.list_modalities()
    assert modalax.get_modality("multimodal") is MultiModalModality
    assert set(modalax.list_datasets("multimodal")) == {"synthetic", "glyphs", "paired"}
    assert set(modalax.list_adapters("multimodal")) == {
        "multimodal/default",
        "multimodal/text_to_image",
        "multimodal/image_to_text",
        "multimodal/text_to_audio",
    }
    info = next(p for p in modalax.list_plugins() if p.id == "multimodal")
    assert info.status == "loaded" and info.distribution == "modalax-multimodal"
    assert modalax.validate_modality_interface(MultiModalModality(rngs=nnx.Rngs(0)))


def test_hook_module_imports_no_jax() -> None:
    code = "import sys, modalax_multimodal.plugin, modalax_multimodal; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_kernels_and_pairings_match_the_dataset() -> None:
    # rendering moved to each modality's pairing; multimodal keeps the mixing kernel
    ds = create_synthetic_multi_modal_dataset(["image", "text", "audio"], 8, 0.7, rngs=0, audio_duration=0.0625)
    z, n = ds.latents(np.arange(8))
    batch = ds.get_records(np.arange(8))
    aligned = modalax.get_kernel("multimodal.aligned_inputs")
    for m, name in enumerate(ds.modalities):
        pairing, world = ds.render_params[name]
        assert type(pairing).__name__ == f"{name.capitalize()}Pairing"  # the sibling plugin's, via the registry
        rendered = pairing.render(world, aligned(z, n[:, m], 0.7), None)
        np.testing.assert_allclose(rendered, batch[name], atol=1e-6)
    assert "multimodal.render_image" not in modalax.list_kernels("multimodal")
    ranks = modalax.get_kernel("multimodal.retrieval_ranks")(jnp.eye(3), jnp.eye(3))
    np.testing.assert_array_equal(ranks, [0, 0, 0])
    assert float(modalax.get_kernel("multimodal.info_nce")(jnp.eye(4), jnp.eye(4), 0.05)) < 1e-3


def test_adapters_build_models_from_modality_configs() -> None:
    from modalax_audio.config import AudioModalityConfig
    from modalax_image.config import ImageModalityConfig
    from modalax_text.params import text_config

    image_cfg = ImageModalityConfig(height=16, width=24)
    text_cfg = text_config(vocab_size=120, max_length=12)
    audio_cfg = AudioModalityConfig(sample_rate=8000, duration=0.25)
    shapes = shapes_from({"image": image_cfg, "text": text_cfg, "audio": audio_cfg})
    assert (shapes.image_shape, shapes.vocab_size, shapes.max_length, shapes.audio_length) == (
        (16, 24, 3),
        120,
        12,
        2000,
    )
    rngs = nnx.Rngs(0)
    t2i = modalax.get_adapter("multimodal", "text_to_image")().create(
        text_config=text_cfg, image_config=image_cfg, rngs=rngs, embed_dim=16, hidden_dim=16
    )
    assert isinstance(t2i, TextToImageGenerator) and t2i(jnp.arange(12) + 4).shape == (16, 24, 3)
    i2t = ImageToTextAdapter().create({"image": image_cfg, "text": text_cfg}, rngs=rngs, hidden_dim=16)
    assert isinstance(i2t, ImageToTextGenerator) and (i2t.image_shape, i2t.vocab_size, i2t.max_length) == (
        (16, 24, 3),
        120,
        12,
    )
    t2a = TextToAudioAdapter().create(
        text_config=text_cfg, audio_config=audio_cfg, rngs=rngs, embed_dim=8, hidden_dim=8
    )
    assert isinstance(t2a, TextToAudioGenerator) and t2a.audio_length == 2000
    model = MultiModalAdapter().create({"image": image_cfg, "text": text_cfg}, rngs=rngs, embed_dim=16, num_heads=2)
    assert isinstance(model, MultiModalModel) and model.modalities == ("image", "text")
    out = model({"images": jnp.zeros((2, 16, 24, 3)), "text_tokens": jnp.ones((2, 12), jnp.int32) * 5})
    assert out["fused"].shape == (2, 16)
    direct = MultiModalAdapter().create(MultiModalConfig(embed_dim=8, num_heads=2), rngs=rngs)
    assert direct.modalities == ("image", "text", "audio")
    modality = MultiModalModality(rngs=rngs)
    assert isinstance(modality.get_adapter(TextToImageGenerator), TextToImageAdapter)
    with pytest.raises(ConfigError, match=r"expected modalax_image\.ImageModalityConfig"):
        shapes_from(image_config=text_cfg)
    with pytest.raises(ConfigError, match=r"unknown modality key\(s\) \['video'\]"):
        shapes_from({"video": image_cfg})
    with pytest.raises(ConfigError, match=r"model_cls: got dict, expected an nnx model class"):
        modality.get_adapter(dict)


def test_modality_generates_and_extends() -> None:
    modality = MultiModalModality(MultiModalConfig(audio_duration=0.0625, embed_dim=8, num_heads=2), rngs=nnx.Rngs(0))
    batch = modality.generate(3)
    assert batch["image"].shape == (3, 32, 32, 3) and batch["audio"].shape == (3, 1000)
    again = modality.generate(3, rngs=nnx.Rngs(5))
    assert not np.allclose(batch["latent"], again["latent"])
    feats = modality.process(batch)
    assert feats["image"].shape == (3, 192) and feats["text"].shape == (3, 1000) and feats["audio"].shape == (3, 128)
    ext = modality.get_extensions(None, rngs=nnx.Rngs(0))
    assert set(ext["encoders"]) == {"image", "text", "audio"}
    emb = [ext["encoders"][m](batch[m]) for m in ("image", "text", "audio")]
    assert ext["fusion"](*emb).shape == (3, 8)


def test_previewer_writes_pictures_sounds_and_tokens(tmp_path: Path) -> None:
    ds = create_synthetic_multi_modal_dataset(["image", "text", "audio"], 4, 0.9, rngs=0, audio_duration=0.25)
    batch = ds.fetch(np.arange(4))
    record = modalax._src.registry.get_modality_record("multimodal")
    written = modalax._src.records.resolve(record.previewer)(batch, tmp_path)
    names = {p.name for p in written}
    assert {"images.png", "tokens.txt", "overview.png", "audio_00.wav", "audio_03_spec.png"} <= names
    with wave.open(str(tmp_path / "audio_01.wav")) as f:
        assert f.getframerate() == 16000 and f.getnframes() == 4000
    lines = (tmp_path / "tokens.txt").read_text().splitlines()
    assert len(lines) == 4 and "alignment=0.90" in lines[0]
    assert lines[2].split("tokens: ")[1].split() == [str(t) for t in np.asarray(batch["text"][2])]
    from PIL import Image

    with Image.open(tmp_path / "overview.png") as overview:  # a figure: one row (image, tokens, spectrogram) each
        assert overview.size[0] > 600 and overview.size[1] >= 4 * 100
    with Image.open(tmp_path / "audio_00_spec.png") as spec:  # axes and a colour bar around the spectrogram
        assert spec.size[0] > 300


def test_previewer_shows_caption_words_beside_token_ids(tmp_path: Path) -> None:
    from modalax_multimodal.datasets.glyphs import create_glyph_caption_dataset

    ds = create_glyph_caption_dataset(3, 1.0, seed=0)
    batch = ds.fetch(np.arange(3))
    record = modalax._src.registry.get_modality_record("multimodal")
    modalax._src.records.resolve(record.previewer)(batch, tmp_path, dataset=ds)
    lines = (tmp_path / "tokens.txt").read_text().splitlines()
    words = ds.captions(batch["text"])[1].split()
    ids = np.asarray(batch["text"][1])
    assert " ".join(f"{w}({i})" for w, i in zip(words, ids[1:], strict=False)) in lines[1]
    with wave.open(str(tmp_path / "audio_00.wav")) as f:
        assert f.getframerate() == 8000
