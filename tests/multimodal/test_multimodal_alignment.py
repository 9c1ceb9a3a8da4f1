"""Alignment is real and measurable: linear probes and retrieval from fixed features.

Measured numbers (1,500 training and 500 test records, 0.125 s audio; the user guide has
the same table):

    strength   R² image  R² text  R² audio   recall@1 image->text
    0.0         -0.003   -0.003   -0.003     0.000 (chance 0.002)
    0.3          0.277    0.189    0.284     0.028
    0.6          0.583    0.469    0.590     0.596
    0.9          0.888    0.829    0.897     0.998
    1.0          0.990    0.948    1.000     1.000
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from modalax_multimodal.datasets import create_synthetic_multi_modal_dataset
from modalax_multimodal.evaluation import fit_linear_probe, measure_alignment, r2_score

STRENGTHS = (0.0, 0.3, 0.6, 0.9, 1.0)


@pytest.fixture(scope="module")
def reports() -> dict[float, dict]:
    out = {}
    for a in STRENGTHS:
        ds = create_synthetic_multi_modal_dataset(["image", "text", "audio"], 2000, a, rngs=0, audio_duration=0.125)
        out[a] = measure_alignment(ds, num_train=1500, num_test=500)
    return out


def test_probe_is_at_chance_without_alignment(reports: dict[float, dict]) -> None:
    for modality, r2 in reports[0.0]["r2"].items():
        assert abs(r2) < 0.03, (modality, r2)
    for pair, recall in reports[0.0]["retrieval"].items():
        assert recall["recall@1"] <= 0.01 and recall["recall@10"] <= 0.06, (pair, recall)  # chance 0.002 / 0.02


def test_probe_is_high_with_full_alignment(reports: dict[float, dict]) -> None:
    r2 = reports[1.0]["r2"]
    assert r2["image"] > 0.97 and r2["audio"] > 0.97 and r2["text"] > 0.88, r2
    for pair, recall in reports[1.0]["retrieval"].items():
        assert recall["recall@1"] >= 0.98, (pair, recall)


def test_probe_is_monotone_in_strength(reports: dict[float, dict]) -> None:
    for modality in ("image", "text", "audio"):
        values = [reports[a]["r2"][modality] for a in STRENGTHS]
        assert all(b > a + 0.05 for a, b in itertools.pairwise(values)), (modality, values)
    recalls = [np.mean([r["recall@10"] for r in reports[a]["retrieval"].values()]) for a in STRENGTHS[:4]]
    assert all(b > a for a, b in itertools.pairwise(recalls)), recalls


def test_image_and_audio_carry_exactly_the_mixed_share(reports: dict[float, dict]) -> None:
    # u = sqrt(a) z + sqrt(1-a) n is rendered (almost) linearly, so the best linear probe has R² = a
    for a in STRENGTHS:
        for modality in ("image", "audio"):
            assert reports[a]["r2"][modality] == pytest.approx(a, abs=0.04), (a, modality)


def test_linear_probe_recovers_a_linear_map() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 10))
    y = x @ rng.standard_normal((10, 3)) + 0.01 * rng.standard_normal((400, 3))
    probe = fit_linear_probe(np.c_[x, np.ones(400)], y)  # a constant column is dropped
    assert r2_score(y, probe.predict(np.c_[x, np.ones(400)])) > 0.999
    assert r2_score(y, np.broadcast_to(y.mean(0), y.shape)) == pytest.approx(0.0)
