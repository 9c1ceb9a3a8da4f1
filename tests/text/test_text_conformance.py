"""The text plugin passes modalax's conformance kit, as any third-party plugin must.

The kit checks a kernel's batch independence on the examples the plugin registers
(``modalax_text.examples``); the tests below keep them honest: every kernel has one, and its
records differ (else the check could not fail).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import modalax
from modalax.plugin import KernelRecord, resolve
from modalax.testing import conformance_tests
from modalax_text import plugin

test_conformance = conformance_tests("text")


def _registered(hook: Any) -> list[Any]:
    records: list[Any] = []
    hook(records.append)
    return records


KERNELS: list[KernelRecord] = _registered(plugin.register_kernels)


def test_every_kernel_has_an_example() -> None:
    assert {r.name for r in KERNELS} == set(modalax.list_kernels("text."))
    assert [r.name for r in KERNELS if r.example is None] == []


@pytest.mark.parametrize("record", KERNELS, ids=lambda r: r.name)
def test_every_record_of_a_kernel_example_is_padded(record: KernelRecord) -> None:
    # The kit checks that the records are distinct and batched; padding must be exercised too.
    args, _ = resolve(record.example)()
    assert (np.asarray(args[0]) == 0).any(axis=1).all(), "every record is padded, so padding is exercised"


@pytest.mark.parametrize("name", ["text.mask_tokens", "text.token_dropout", "text.random_substitution"])
def test_stochastic_examples_change_tokens_of_every_record(name: str) -> None:
    record = next(r for r in KERNELS if r.name == name)
    args, kwargs = resolve(record.example)()
    out = modalax.get_kernel(name)(*args, **kwargs)
    changed = np.asarray(out[0] if isinstance(out, tuple) else out) != args[0]
    assert changed.any(axis=1).all(), "a record came back unchanged: its key drew nothing to check"
