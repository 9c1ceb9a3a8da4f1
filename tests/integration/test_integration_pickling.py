"""Every generated dataset type of every installed plugin pickles after it has been read.

Worker processes and grain receive datasets by pickle; a dataset that only pickles before
its first read (or not at all) fails there. File-backed datasets have their own round trips
in each plugin's tests (they need files on disk).
"""

from __future__ import annotations

import pickle

import jax
import numpy as np
import pytest

import modalax

GENERATED = {
    "audio/synthetic": {"n_samples": 6},
    "image/synthetic": {"dataset_size": 6},
    "image/mnist_like": {"dataset_size": 6},
    "multimodal/synthetic": {"dataset_size": 6},
    "multimodal/glyphs": {"dataset_size": 6},
    "text/synthetic": {"dataset_size": 6},
    "text/simple": {"texts": ["a b c", "d e", "f"]},
}


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_datasets_pickle_after_a_read(name: str) -> None:
    modality, dataset_type = name.split("/")
    if modality not in modalax.list_modalities():
        pytest.skip(f"the {modality} plugin is not installed")
    dataset = modalax.create_dataset(modality, dataset_type, **GENERATED[name])
    indices = np.arange(min(3, len(dataset)))
    before = dataset.get_records(indices)
    copy = pickle.loads(pickle.dumps(dataset))
    after = copy.get_records(indices)
    assert sorted(before) == sorted(after)
    for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
