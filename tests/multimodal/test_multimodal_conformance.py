"""The multimodal plugin passes modalax's conformance kit, as any third-party plugin must.

The kit checks a kernel's batch independence on the examples the plugin registers
(``modalax_multimodal.examples``); the tests below keep them honest: every per-record kernel
has one, and its records differ (else the check could not fail).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import modalax
from modalax.plugin import KernelRecord, resolve
from modalax.testing import conformance_tests
from modalax_multimodal import plugin

test_conformance = conformance_tests("multimodal")

#: Kernels without an example, and why the kit's batch check cannot apply to them.
WITHOUT_EXAMPLE = {
    "multimodal.info_nce": "a loss over every pair of rows of the batch",
    "multimodal.retrieval_ranks": "ranks each query against every target of the batch",
}


def _registered(hook: Any) -> list[Any]:
    records: list[Any] = []
    hook(records.append)
    return records


KERNELS: list[KernelRecord] = _registered(plugin.register_kernels)


def test_every_per_record_kernel_has_an_example() -> None:
    assert {r.name for r in KERNELS} == set(modalax.list_kernels("multimodal."))
    assert {r.name for r in KERNELS if r.example is None} == set(WITHOUT_EXAMPLE)


@pytest.mark.parametrize("record", [r for r in KERNELS if r.example], ids=lambda r: r.name)
def test_kernel_example_is_a_batch_of_distinct_records(record: KernelRecord) -> None:
    args, _ = resolve(record.example)()
    n = np.shape(args[0])[0]
    assert n >= 4
    assert all(np.shape(a)[0] == n for a in args), "every positional argument has the batch axis"
    for a in args:
        rows = np.asarray(a)
        assert len({row.tobytes() for row in rows}) == n, "two records of the example are equal"
