"""The plugin as installed: discovery, a light hook module, the registry factory, previews."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from flax import nnx

import modalax
from modalax import ConfigError
from modalax.plugin import get_modality_record, have_matplotlib
from modalax_image import ImageDataset, ImageModalityConfig, create_image_dataset


def test_discovered_through_the_entry_point():
    assert "image" in modalax.list_modalities()
    info = next(p for p in modalax.list_plugins() if p.id == "image")
    assert info.distribution == "modalax-image" and info.status == "loaded"
    assert info.registered["modalities"] == ["image"]
    assert sorted(info.registered["datasets"]) == [
        "image/folder",
        "image/mnist_like",
        "image/packed",
        "image/synthetic",
    ]
    assert modalax.list_adapters("image") == ["image/default"]


def test_hook_module_and_package_import_no_jax():
    code = textwrap.dedent("""
        import sys
        import modalax, modalax_image, modalax_image.plugin
        assert "image" in modalax.list_modalities()
        modalax.list_kernels(); modalax.list_operators()
        print(sorted(m for m in ("jax", "flax", "PIL") if m in sys.modules))
    """)
    env = {**os.environ, "MODALAX_LOAD_PLUGINS": "image"}  # other installed plugins are not under test
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120, env=env)
    assert out.stdout.strip() == "[]"


def test_create_image_dataset_dispatches_through_the_registry():
    ds = create_image_dataset(
        "synthetic", ImageModalityConfig(height=8), pattern_type="gradient", dataset_size=10, rngs=nnx.Rngs(0)
    )
    assert len(ds) == 10 and ds.pattern_type == "gradient"
    mnist = create_image_dataset("mnist_like", dataset_size=5, rngs=nnx.Rngs(0))
    assert mnist.image_shape == (28, 28, 1)
    with pytest.raises(
        ConfigError,
        match=r"unknown image dataset type 'mnist'; available: folder, mnist_like, packed, "
        r"synthetic; did you mean 'mnist_like'\?",
    ):
        create_image_dataset("mnist", rngs=nnx.Rngs(0))


class ConstantImages(ImageDataset):
    """A third-party dataset type: every record is a constant grey image."""

    traceable = True

    def __init__(self, config=None, split="train", *, rngs=None, value=0.5):
        super().__init__(config, split, rngs=rngs)
        self.value = value

    def __len__(self):
        return 3

    def get_records(self, indices):
        import jax.numpy as jnp

        n = jnp.shape(indices)[0]
        return {"images": jnp.full((n, *self.image_shape), self.value)}


def test_third_party_dataset_types_work_through_the_factory():
    modalax.register_dataset("image", "constant", ConstantImages)
    try:
        ds = create_image_dataset("constant", ImageModalityConfig(height=4), rngs=nnx.Rngs(0), value=0.25)
        np.testing.assert_array_equal(np.asarray(ds.get_batch(2)["images"]), np.full((2, 4, 4, 3), 0.25))
    finally:
        modalax._src.registry.current().remove("datasets", ("image", "constant"))


def test_previewer_writes_a_png_grid_and_labels(tmp_path):
    from PIL import Image

    preview = modalax._src.records.resolve(get_modality_record("image").previewer)
    ds = create_image_dataset("mnist_like", dataset_size=16, rngs=nnx.Rngs(0))
    batch = ds.get_records(np.arange(16))
    written = preview(batch, tmp_path)
    assert [p.name for p in written] == ["images.png", "labels.txt"]
    with Image.open(written[0]) as img:  # a titled figure with matplotlib, else a grey Pillow grid
        assert img.size[0] >= 4 * 28 and img.mode == ("RGBA" if have_matplotlib() else "L")
    lines = written[1].read_text().splitlines()
    assert len(lines) == 16 and lines[0].split(":")[1].strip() == str(int(batch["labels"][0]))
