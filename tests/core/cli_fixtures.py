"""A tiny modality, a counting dataset and a CLI runner, for the in-process CLI tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from modalax._src.cli import main


class TinyModality:
    """A modality class that only has a name."""

    name = "tiny"


@dataclass
class TinyConfig:
    """A config with a required, a default and a mutable-default field."""

    name: str
    size: int = 4
    tags: list[str] = field(default_factory=lambda: ["a"])


class Counting:
    """Records ``{"x": index * scale}``."""

    def __init__(self, size: int = 4, scale: int = 1) -> None:
        self.size, self.scale = size, scale

    def __len__(self) -> int:
        return self.size

    def get_records(self, idx: Any) -> dict[str, Any]:
        return {"x": np.asarray(idx, np.int64) * self.scale}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``modalax ARGV`` run in this process."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def seeded(n: int = 3, *, rngs: Any) -> Counting:
    """A ``Counting`` whose scale is drawn from ``rngs`` (a factory that takes rngs)."""
    import jax

    source = Counting(n)
    source.scale = int(jax.random.randint(rngs(), (), 1, 1000))
    return source
