"""The multimodal plugin passes modalax's conformance kit, as any third-party plugin must.

The kit checks a kernel's batch independence on the examples the plugin registers
(``modalax_multimodal.examples``); the tests below keep them honest: every per-record kernel
has one, and its records differ (else the check could not fail).
"""

from __future__ import annotations

from typing import Any

import modalax
from modalax.plugin import KernelRecord
from modalax.testing import conformance_tests
from modalax_multimodal import plugin

test_conformance = conformance_tests("multimodal")

#: Kernels without an example, and why the kit's batch check cannot apply to them.
WITHOUT_EXAMPLE: dict[str, str] = {}


def _registered(hook: Any) -> list[Any]:
    records: list[Any] = []
    hook(records.append)
    return records


KERNELS: list[KernelRecord] = _registered(plugin.register_kernels)


def test_every_per_record_kernel_has_an_example() -> None:
    assert {r.name for r in KERNELS} == set(modalax.list_kernels("multimodal."))
    assert {r.name for r in KERNELS if r.example is None} == set(WITHOUT_EXAMPLE)
