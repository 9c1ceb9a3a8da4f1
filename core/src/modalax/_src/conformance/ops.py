"""Checks of a plugin's operators, kernels and previewer.

Operators with a default config are run on a batch of the modality's first generated dataset,
through ``apply_batch`` and inside the loader's jitted step. Kernels with an ``example`` are
jitted on it, and each record's output must equal the kernel run on that record alone: the
project's promise that a record's value does not depend on its batch.
"""

from __future__ import annotations

import inspect
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modalax._src import registry
from modalax._src.conformance.data import SIZE, build, generated
from modalax._src.conformance.report import Skip, need
from modalax._src.errors import ConfigError, MissingFieldError
from modalax._src.records import resolve

__all__ = ["kernel_checks", "operator_checks", "previewer_check"]

Checks = list[tuple[str, Callable[[], Any]]]


def first_generated(modality: str) -> str:
    """The generated dataset type the kit takes batches from: ``synthetic`` when the modality has it
    (built with the modality's default config), else its first generated type (``Skip`` when none)."""
    types = registry.list_datasets(modality)
    if "synthetic" in types and generated(modality, "synthetic"):
        return "synthetic"
    for dataset_type in types:
        if generated(modality, dataset_type):
            return dataset_type
    raise Skip(f"modality {modality!r} has no generated dataset type to take a batch from")


def _batch(modality: str) -> dict[str, Any]:
    import numpy as np

    ds = build(modality, first_generated(modality))
    return dict(ds.fetch(np.arange(SIZE, dtype=np.int32)))


def operator_checks(modality: str, name: str) -> Checks:
    """Class, config class, a default operator on real records, and jit inside the loader."""

    def cls() -> str:
        from modalax._src.operators import OperatorConfig, OperatorModule

        op_cls = registry.get_operator(modality, name)
        need(isinstance(op_cls, type) and issubclass(op_cls, OperatorModule), f"{op_cls!r} is not an OperatorModule")
        config_cls = registry.get_operator_config(modality, name)
        need(issubclass(config_cls, OperatorConfig), f"config class {config_cls.__name__} is not an OperatorConfig")
        return config_cls.__name__

    record = registry.current().get("operators", (modality, name), label=f"{modality} operator")[0]

    def subject() -> tuple[Any, dict[str, Any]]:
        """The operator and a batch to run it on: the record's example, else the default config on
        the modality's generated records (``Skip`` when that cannot apply, with the reason)."""
        import numpy as np
        from flax import nnx

        config_cls: Any = registry.get_operator_config(modality, name)
        op_cls = registry.get_operator(modality, name)
        if record.example is not None:
            config, batch = resolve(record.example)()
            need(isinstance(config, config_cls), f"example() gave a {type(config).__name__}, expected {config_cls}")
            return op_cls(config, rngs=nnx.Rngs(0, augment=1)), dict(batch)
        try:
            config = config_cls()
        except (TypeError, ConfigError) as exc:
            raise Skip(f"{config_cls.__name__}() needs arguments and no example is registered ({exc})") from exc
        plain = config.to_dict()
        need(config_cls.from_dict(plain).to_dict() == plain, "from_dict(to_dict()) does not give the config back")
        op = op_cls(config, rngs=nnx.Rngs(0, augment=1))
        batch = _batch(modality)
        want = getattr(op, "element_ndim", None)
        field = getattr(op.config, "field_key", None)
        if want is not None and field in batch and np.ndim(batch[field]) != want + 1:
            raise Skip(
                f"{type(op).__name__} takes elements of rank {want} {getattr(op, 'element_axes', '')}; the generated "
                f"records' {field!r} have rank {np.ndim(batch[field]) - 1} (register an example)"
            )
        return op, batch

    def run(op: Any, batch: dict[str, Any]) -> Any:
        try:
            return op.apply_batch(batch)
        except MissingFieldError as exc:
            if record.example is not None:
                raise
            raise Skip(
                f"the generated records lack a field the default config needs ({exc}); register an example"
            ) from exc

    def applies() -> None:
        import numpy as np

        op, batch = subject()
        out = run(op, batch)
        need(isinstance(out, dict), f"apply_batch returned {type(out).__name__}, expected a dict")
        for key, value in out.items():
            arr = np.asarray(value) if not isinstance(value, list | str | int) else None
            if arr is not None and arr.dtype.kind == "f":
                need(np.isfinite(arr).all(), f"field {key!r} is not finite after the operator")

    def in_loader() -> None:
        import numpy as np

        from modalax._src.loader import DataLoader
        from modalax._src.sources import ArraySource

        op, batch = subject()
        run(op, batch)
        if record.example is None:
            source: Any = build(modality, first_generated(modality))
        else:  # the example's per-record fields (a leading axis); batch-level values are not records
            n = len(next(v for v in batch.values() if np.ndim(v)))
            source = ArraySource({k: v for k, v in batch.items() if np.ndim(v) and len(v) == n})
        n = len(source)
        batches = list(DataLoader(source, 2, seed=0, operators=[op], drop_last=True, prefetch=0))
        need(len(batches) == n // 2, f"one epoch of {n} records gave {len(batches)} batches, expected {n // 2}")

    return [("class", cls), ("apply", applies), ("in-loader", in_loader)]


def _check_example(record: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """An example the batch check can trust: keyword names the kernel takes; for a per-record
    kernel, every positional argument with one batch axis of at least 2 records, all distinct
    (a check over equal records could not fail)."""
    import numpy as np

    try:
        params = inspect.signature(resolve(record.fn)).parameters
    except (TypeError, ValueError):
        params = None
    if params is not None and not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(kwargs) - set(params))
        need(not unknown, f"the example passes {unknown}, which are not parameters of the kernel")
    if record.batch_axis != "records" or not args:
        return
    sizes = [np.shape(a)[0] if np.ndim(a) else None for a in args]
    need(
        sizes[0] is not None and sizes[0] >= 2 and all(s == sizes[0] for s in sizes),
        f"the example's positional arguments have leading axes {sizes}; expected one batch axis of at least 2 "
        "records on every one (pass values shared by the batch as keywords)",
    )
    n = int(sizes[0] or 0)
    rows = {_record_bytes(args[0], i) for i in range(n)}
    need(len(rows) == n, "two records of the example are equal; expected distinct records")


def _record_bytes(batch: Any, i: int) -> bytes:
    """Record ``i`` of ``batch`` as bytes (a typed PRNG key by its data)."""
    import jax
    import numpy as np

    row = batch[i]
    if isinstance(row, jax.Array) and jax.dtypes.issubdtype(row.dtype, jax.dtypes.prng_key):
        row = jax.random.key_data(row)
    return np.asarray(row).tobytes()


def kernel_checks(name: str) -> Checks:
    """The kernel resolves with its static arguments; with an example, it jits and is batch-independent."""
    record = registry.get_kernel_record(name)

    def signature() -> None:
        fn = resolve(record.fn)
        need(callable(fn), f"{record.fn!r} is not callable")
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            return
        open_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
        unknown = [s for s in record.static_argnames if s not in params and not open_kwargs]
        need(not unknown, f"static_argnames {unknown} are not parameters of {getattr(fn, '__name__', fn)}")

    def batch_independent() -> str:
        import jax
        import numpy as np

        if record.example is None:
            raise Skip("no example registered (KernelRecord(..., example=...)): jit and vmap not exercised")
        args, kwargs = resolve(record.example)()
        _check_example(record, args, kwargs)
        fn = registry.get_kernel(name)
        out = fn(*args, **kwargs)
        leaves = [np.asarray(x) for x in jax.tree.leaves(out)]
        need(all(np.isfinite(x).all() for x in leaves if x.dtype.kind == "f"), "the output is not finite")
        if record.batch_axis != "records" or not args:
            why = "combines the records of a batch by design" if record.batch_axis == "mixed" else "has no batch axis"
            return f"jits and is finite; per-record equality does not apply (the kernel {why})"
        n = int(np.shape(args[0])[0])
        for i in range(n):
            alone = fn(*(a[i : i + 1] for a in args), **kwargs)
            for got, want in zip(jax.tree.leaves(alone), leaves, strict=True):
                np.testing.assert_allclose(
                    np.asarray(got)[0],
                    want[i],
                    rtol=1e-6,
                    atol=1e-6,
                    err_msg=f"record {i} alone differs from its batch",
                )
        return f"{n} records"

    return [("signature", signature), ("batch-independent", batch_independent)]


def previewer_check(modality: str) -> Callable[[], Any]:
    """The previewer writes existing files for a batch of the first generated dataset."""

    def run() -> str:
        record = registry.get_modality_record(modality)
        if record.previewer is None:
            raise Skip("no previewer registered")
        previewer = resolve(record.previewer)
        dataset_type = first_generated(modality)
        ds = build(modality, dataset_type)
        extra = {"dataset": ds} if "dataset" in inspect.signature(previewer).parameters else {}
        with tempfile.TemporaryDirectory() as tmp:
            written = [Path(p) for p in previewer(_batch(modality), Path(tmp), **extra)]
            need(written, "the previewer wrote nothing")
            missing = [str(p) for p in written if not p.is_file()]
            need(not missing, f"the previewer returned paths that do not exist: {missing}")
            return ", ".join(sorted(p.name for p in written))

    return run
