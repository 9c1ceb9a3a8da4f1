"""The image plugin passes modalax's conformance kit, as any third-party plugin must.

The kit checks a kernel's batch independence and runs an operator on the examples the plugin
registers (``modalax_image.examples``); the tests below keep those examples honest: every
per-record kernel has one, its records differ (else the check could not fail), and each
operator example makes the operator do its work.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from flax import nnx

import modalax
from modalax.plugin import KernelRecord, OperatorRecord, resolve
from modalax.testing import conformance_tests
from modalax_image import plugin

test_conformance = conformance_tests("image")

#: Kernels without an example, and why the kit's batch check cannot apply to them.
WITHOUT_EXAMPLE = {
    "image.render_glyph": "draws one glyph, no batch axis (callers vmap it)",
    "image.digit_segments": "a constant table, no arguments",
}


def _registered(hook: Any) -> list[Any]:
    records: list[Any] = []
    hook(records.append)
    return records


KERNELS: list[KernelRecord] = _registered(plugin.register_kernels)
OPERATORS: list[OperatorRecord] = _registered(plugin.register_operators)


def test_every_per_record_kernel_has_an_example() -> None:
    assert {r.name for r in KERNELS} == set(modalax.list_kernels("image."))
    assert {r.name for r in KERNELS if r.example is None} == set(WITHOUT_EXAMPLE)


def _example_run(name: str) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    record = next(r for r in OPERATORS if r.name == name)
    config, batch = resolve(record.example)()
    op = modalax.get_operator("image", name)(config, rngs=nnx.Rngs(0, augment=1))
    return config, batch, op.apply_batch(dict(batch))


def test_only_the_mixing_operators_need_examples() -> None:
    assert {r.name for r in OPERATORS if r.example} == {"mixup", "cutmix"}


@pytest.mark.parametrize("name", ["mixup", "cutmix"])
def test_mixing_example_mixes_images_and_labels(name: str) -> None:
    config, batch, out = _example_run(name)
    labels = np.asarray(out["labels"])
    assert labels.shape == (len(batch["labels"]), config.num_classes)
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, rtol=1e-6)
    assert (labels.max(axis=1) < 1.0).any(), "no record was mixed with a partner"
    assert not np.array_equal(np.asarray(out["images"]), batch["images"])


def test_cutmix_example_pastes_the_label_maps_with_the_images() -> None:
    _, batch, out = _example_run("cutmix")
    masks = np.asarray(out["masks"])
    assert masks.dtype == batch["masks"].dtype and not np.array_equal(masks, batch["masks"])
    # a pasted pixel takes image and label map from the same partner: ink stays where its class is
    ink = np.asarray(out["images"])[..., 0] > 0.5
    np.testing.assert_array_equal(masks > 0, ink)
