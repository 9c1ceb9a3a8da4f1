"""``MultiModalPairedDataset``: validation, samples with scores and pairs, loading."""

from __future__ import annotations

import numpy as np
import pytest

import modalax
from modalax import ConfigError, DataError
from modalax_multimodal.datasets.paired import MultiModalPairedDataset

N = 10
PAIRS = [("image", "text"), ("image", "audio"), ("text", "audio")]


def _data(n: int = N) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "image": rng.random((n, 8, 8, 3), dtype=np.float32),
        "text": rng.integers(4, 100, (n, 12), dtype=np.int32),
        "audio": rng.standard_normal((n, 400)).astype(np.float32),
    }


def test_samples_carry_data_scores_and_pairs() -> None:
    data = _data()
    scores = np.linspace(0, 1, N)
    ds = MultiModalPairedDataset(PAIRS, data, scores)
    assert len(ds) == N and ds.modalities == ("image", "text", "audio")
    s = ds[3]
    np.testing.assert_array_equal(s["image"], data["image"][3])
    np.testing.assert_array_equal(s["text"], data["text"][3])
    assert float(s["alignment_scores"]) == pytest.approx(scores[3])
    assert s["pairs"] == PAIRS
    assert next(iter(ds))["pairs"] == PAIRS
    assert ds.get_batch(4)["image"].shape == (4, 8, 8, 3)
    default = MultiModalPairedDataset(PAIRS[:1], {"image": data["image"], "text": data["text"]})
    assert float(default[0]["alignment_scores"]) == 1.0
    per_pair = MultiModalPairedDataset(PAIRS, data, np.full((N, 3), 0.5))
    assert per_pair[0]["alignment_scores"].shape == (3,)


def test_loader_gathers_rows_and_attaches_pairs() -> None:
    data = _data()
    ds = MultiModalPairedDataset(PAIRS, data)
    rows = []
    for batch in modalax.DataLoader(ds, 4, shuffle=True, seed=1, with_indices=True, drop_last=True):
        idx = np.asarray(batch["index"])
        np.testing.assert_array_equal(batch["audio"], data["audio"][idx])
        assert batch["pairs"] == [PAIRS] * 4
        rows.extend(idx.tolist())
    assert len(rows) == 8 and len(set(rows)) == 8
    assert isinstance(modalax.create_dataset("multimodal", "paired", pairs=PAIRS, data=data), MultiModalPairedDataset)


@pytest.mark.parametrize(
    ("pairs", "data", "alignments", "error", "match"),
    [
        (PAIRS, {**_data(), "text": _data(9)["text"]}, None, DataError, r"lengths differ: .*'text': 9"),
        (PAIRS, {**_data(), "video": _data()["audio"]}, None, ConfigError, r"unknown modality 'video'"),
        ([("image", "video")], _data(), None, ConfigError, r"unknown modality 'video'.*not in data"),
        ([("image", "image")], _data(), None, ConfigError, r"expected two different modalities"),
        ([("image",)], _data(), None, ConfigError, r"expected a \(modality, modality\) pair"),
        ([], _data(), None, ConfigError, r"expected a non-empty list"),
        (PAIRS, {}, None, ConfigError, r"expected a non-empty dict"),
        (None, _data(), None, ConfigError, r"expected pairs=\[\('image', 'text'\), \.\.\.\] and data="),
        (PAIRS, {"image": [1, 2]}, None, DataError, r"data\['image'\]: got list"),
        (PAIRS, _data(), np.ones(N - 1), DataError, r"alignments: got shape \(9,\), expected \(10,\) or \(10, 3\)"),
        (PAIRS, _data(), np.full(N, 1.5), DataError, r"expected finite scores in \[0, 1\]"),
    ],
)
def test_validation_names_the_problem(pairs, data, alignments, error, match) -> None:
    with pytest.raises(error, match=match):
        MultiModalPairedDataset(pairs, data, alignments)
