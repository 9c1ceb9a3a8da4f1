"""Checks of a plugin's dataset types: the factory contract, determinism, pickling, the loader.

A *generated* dataset type (its factory takes neither a data location such as ``root`` or
``path`` nor the data itself such as ``texts``) is built with ``dataset_size=5, seed=0`` and
read; one that reads given data is checked by signature only (the kit has no data of the
modality). Determinism across processes is checked once per plugin, in one
subprocess that rebuilds every generated dataset and hashes its records.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import pickle
import subprocess
import sys
from collections.abc import Callable
from functools import cache
from typing import Any

from modalax._src import registry
from modalax._src.conformance.report import Skip, child_environment, need
from modalax._src.errors import ConfigError

__all__ = ["SIZE", "dataset_checks", "generated", "processes_check", "records_digest"]

#: Records of the small datasets the kit builds.
SIZE = 5
#: Parameters that name the data a dataset reads (a location, or the data itself).
LOCATION = ("root", "path", "paths", "files", "texts", "data", "arrays", "pairs", "source")

Checks = list[tuple[str, Callable[[], Any]]]


def _params(factory: Any) -> dict[str, inspect.Parameter]:
    from modalax._src.cli_preview import factory_parameters

    params = factory_parameters(factory)
    if params is None:
        raise AssertionError("the factory has no inspectable signature")
    return params


def generated(modality: str, dataset_type: str) -> bool:
    """Whether a dataset type is generated (no data location among its parameters)."""
    params = _params(registry.get_dataset_factory(modality, dataset_type))
    return not any(name in params for name in LOCATION)


@cache
def build(modality: str, dataset_type: str, seed: int = 0) -> Any:
    """The small dataset the kit reads (cached per process)."""
    return registry.create_dataset(modality, dataset_type, dataset_size=SIZE, seed=seed)


def records_digest(dataset: Any) -> str:
    """A hash of the first ``SIZE`` records (array bytes, dtypes, shapes; strings as text)."""
    import numpy as np

    batch = dataset.fetch(np.arange(min(SIZE, len(dataset)), dtype=np.int32))
    h = hashlib.sha256()
    for key in sorted(batch):
        value = batch[key]
        h.update(key.encode())
        if isinstance(value, list | str | int | float):
            h.update(json.dumps(value, default=str).encode())
        else:
            arr = np.asarray(value)
            h.update(f"{arr.dtype}{arr.shape}".encode() + arr.tobytes())
    return h.hexdigest()


def dataset_checks(modality: str, dataset_type: str) -> Checks:
    """The contract of one dataset type."""
    factory = registry.get_dataset_factory(modality, dataset_type)

    def signature() -> str:
        params = _params(factory)
        named = [n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        open_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
        need(named and named[0] == "config", f"first parameter is {named[:1]}, expected 'config' (then the data)")
        missing = [k for k in ("split", "seed", "rngs") if k not in params and not open_kwargs]
        need(not missing, f"takes no keyword {missing}; every factory takes split=, seed= and rngs=")
        if generated(modality, dataset_type):
            need("dataset_size" in params or open_kwargs, "a generated dataset takes its size as dataset_size=")
            return "generated"
        location = [n for n in LOCATION if n in params]
        need(named.index(location[0]) == 1, f"the data location {location[0]!r} must follow config")
        return f"reads {location[0]}"

    def needs_generated() -> Any:
        if not generated(modality, dataset_type):
            raise Skip("reads given data: checked by signature only")
        return build(modality, dataset_type)

    def read() -> None:
        import numpy as np

        ds = needs_generated()
        need(len(ds) == SIZE, f"dataset_size={SIZE} gave len {len(ds)}")
        batch = ds.fetch(np.arange(SIZE, dtype=np.int32))
        spec = ds.element_spec()
        for key, leaf in spec.items():
            need(key in batch, f"element_spec has {key!r}, the records have {sorted(batch)}")
            got = tuple(np.shape(batch[key]))
            need(got == (SIZE, *leaf.shape), f"field {key!r}: records {got}, element_spec {tuple(leaf.shape)}")
        one = ds[0]
        need(set(one) >= set(spec), f"ds[0] has {sorted(one)}, expected the element_spec fields {sorted(spec)}")

    def deterministic() -> None:
        ds = needs_generated()
        fresh = registry.create_dataset(modality, dataset_type, dataset_size=SIZE, seed=0)
        need(records_digest(ds) == records_digest(fresh), "two builds with seed=0 give different records")
        by_rngs = registry.create_dataset(modality, dataset_type, dataset_size=SIZE, rngs=0)
        need(records_digest(by_rngs) == records_digest(ds), "rngs=0 and seed=0 give different records")

    def pickles() -> None:
        ds = needs_generated()
        need(records_digest(pickle.loads(pickle.dumps(ds))) == records_digest(ds), "a pickled copy differs")

    def bad_config() -> None:
        try:
            registry.create_dataset(modality, dataset_type, config=object(), **_size(dataset_type, modality))
        except ConfigError as exc:
            need("config" in str(exc), f"the error does not name 'config': {exc}")
        except Exception as exc:
            raise AssertionError(f"config=object() raised {type(exc).__name__}, expected ConfigError: {exc}") from exc
        else:
            raise AssertionError("config=object() was accepted")

    def loader() -> None:
        import numpy as np

        from modalax._src.loader import DataLoader

        ds = needs_generated()
        seen: list[int] = []
        for batch in DataLoader(ds, 2, seed=0, drop_last=False, with_indices=True, prefetch=0):
            index, mask = np.asarray(batch["index"]), np.asarray(batch["mask"])
            seen += [int(i) for i, m in zip(index, mask, strict=True) if m]
        need(sorted(seen) == list(range(SIZE)), f"one epoch gave records {sorted(seen)}, expected each once")

    return [
        ("signature", signature),
        ("read", read),
        ("deterministic", deterministic),
        ("pickle", pickles),
        ("bad-config", bad_config),
        ("loader", loader),
    ]


def _size(dataset_type: str, modality: str) -> dict[str, Any]:
    return {"dataset_size": SIZE} if generated(modality, dataset_type) else {}


_CHILD = """
import json, sys
from modalax._src.conformance.data import build, records_digest
pairs = json.loads(sys.argv[1])
print(json.dumps({f"{m}/{t}": records_digest(build(m, t)) for m, t in pairs}))
"""


def processes_check(pairs: list[tuple[str, str]]) -> Callable[[], Any]:
    """Every generated dataset gives the same records in a fresh process (one subprocess for all)."""

    def run() -> str:
        if not pairs:
            raise Skip("no generated dataset type")
        res = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(pairs)],
            capture_output=True,
            text=True,
            timeout=900,
            env=child_environment(),
        )
        need(res.returncode == 0, f"the fresh process failed: {res.stderr.strip()[-800:]}")
        theirs = json.loads(res.stdout.strip().splitlines()[-1])
        differ = [f"{m}/{t}" for m, t in pairs if theirs[f"{m}/{t}"] != records_digest(build(m, t))]
        need(not differ, f"records differ in a fresh process: {differ}")
        return f"{len(pairs)} dataset types"

    return run
