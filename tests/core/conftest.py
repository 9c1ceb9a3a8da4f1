"""Fixtures of the core tests: fake plugin distributions written into a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from modalax.testing import write_fake_distribution

HEALTHY = """
import modalax
MODALAX_PLUGIN_API = "1.0"
from modalax import DatasetRecord, KernelRecord, ModalityRecord

class ToyModality:
    name = "toy"
    def get_extensions(self, config, *, rngs):
        return {}
    def get_adapter(self, model_cls):
        return None

def double(x):
    return x * 2

def make_dataset(size=3):
    return list(range(size))

@modalax.hookimpl
def register_modalities(register):
    register(ModalityRecord("toy", "{mod}:ToyModality", "a toy modality"))

@modalax.hookimpl
def register_datasets(register):
    register(DatasetRecord("toy", "counting", "{mod}:make_dataset"))

@modalax.hookimpl
def register_kernels(register):
    register(KernelRecord("toy.double", "{mod}:double"))
"""


def healthy_source(module: str) -> str:
    """Source of a working plugin hook module named ``module``."""
    return HEALTHY.replace("{mod}", module)


@pytest.fixture
def no_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    """Broken plugins warn instead of raising, whatever CI sets."""
    for var in ("MODALAX_STRICT_PLUGINS", "MODALAX_DISABLE_PLUGINS", "MODALAX_LOAD_PLUGINS"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def healthy_dist(tmp_path: Path) -> Path:
    """A folder holding one healthy fake plugin distribution ``toy-plugin`` 1.2.3."""
    return write_fake_distribution(
        tmp_path / "healthy",
        "toy-plugin",
        version="1.2.3",
        entry_points={"toy": "toy_plugin_hooks"},
        modules={"toy_plugin_hooks": healthy_source("toy_plugin_hooks")},
    )
