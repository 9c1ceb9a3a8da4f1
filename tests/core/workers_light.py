"""A source whose module imports numpy only: its workers must not import jax (or modalax's loader)."""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np


class LightSource:
    """Records saying which process read them and what it had imported."""

    def __len__(self) -> int:
        return 64

    def get_records(self, indices: Any) -> dict[str, Any]:
        idx = np.asarray(indices)
        return {
            "x": idx.astype(np.int64),
            "pid": np.full(len(idx), os.getpid()),
            "jax": np.full(len(idx), "jax" in sys.modules),
            "loader": np.full(len(idx), "modalax._src.loader" in sys.modules),
            "env": np.array([os.environ.get("MODALAX_WORKER_PROCESS", ""), os.environ.get("JAX_PLATFORMS", "")]),
            "cwd": np.array(os.getcwd()),
        }
