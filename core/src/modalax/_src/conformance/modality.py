"""Checks of a plugin as a whole, of its modalities (class, config, protocol, pairing) and adapters."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from modalax._src import registry
from modalax._src.config import BaseModalityConfig
from modalax._src.conformance.report import Skip, child_environment, need
from modalax._src.discovery import PluginInfo
from modalax._src.errors import ConfigError, ModalaxError
from modalax._src.records import ModalityRecord, resolve
from modalax._src.version import compatibility_problem

__all__ = ["adapter_checks", "modality_checks", "plugin_checks", "tiny_model_class"]

Checks = list[tuple[str, Callable[[], Any]]]


# ------------------------------------------------------------------------------------ plugin
def plugin_checks(info: PluginInfo, fresh_processes: bool = True) -> Checks:
    """The plugin loaded with no problem, declares a compatible API and has a light hook module."""

    def loaded() -> str:
        need(info.status == "loaded", f"status {info.status!r}: {info.error}")
        need(not info.problems, "; ".join(info.problems))
        return f"{sum(info.counts().values())} registrations"

    def api_version() -> str:
        problem = compatibility_problem(info.api_version)
        need(problem is None, str(problem))
        return f"plugin API {info.api_version}"

    def light() -> None:
        module = info.entry_point.split(":", 1)[0]
        code = f"import sys, {module}; heavy = sorted({{'jax', 'flax'}} & set(sys.modules)); print(heavy)"
        res = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=child_environment()
        )
        need(res.returncode == 0, f"importing {module} failed: {res.stderr.strip()[-500:]}")
        need(res.stdout.strip() == "[]", f"importing the hook module {module} imports {res.stdout.strip()}")

    checks: Checks = [("loaded", loaded), ("api-version", api_version)]
    return [*checks, ("light-hook-module", light)] if fresh_processes else checks


# ------------------------------------------------------------------------------------ models
def tiny_model_class() -> type:
    """An nnx model class that accepts any shape keywords, for adapter checks."""
    from flax import nnx

    from modalax._src.model import GenerativeModel

    class TinyModel(GenerativeModel):
        """Takes whatever shapes an adapter passes; one parameter."""

        def __init__(self, config: Any = None, *, rngs: nnx.Rngs, **shapes: Any) -> None:
            self.model_config = config
            self.shapes = dict(shapes)
            self.scale = nnx.Param(nnx.initializers.ones(rngs.params(), (1,)))

        def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
            return x * self.scale[...]

    return TinyModel


def _record(name: str) -> ModalityRecord:
    return registry.get_modality_record(name)


def _config_class(name: str) -> Any:
    record = _record(name)
    if record.config_class is None:
        raise AssertionError(f"modality {name!r} registers no config_class")
    return resolve(record.config_class)


def _instance(name: str) -> Any:
    from flax import nnx

    cls = registry.get_modality(name)
    config = _config_class(name)()
    try:
        return cls(config, rngs=nnx.Rngs(0))
    except TypeError:
        return cls(config=config)


# ---------------------------------------------------------------------------------- modality
def modality_checks(name: str) -> Checks:
    """Class, config, protocol, decoder and pairing of modality ``name``."""

    def cls() -> None:
        found = registry.get_modality(name)
        need(isinstance(found, type), f"modality class is {found!r}, expected a class")
        need(getattr(found, "name", None) == name, f"{found.__name__}.name is {getattr(found, 'name', None)!r}")

    def config() -> None:
        cfg_cls = _config_class(name)
        need(issubclass(cfg_cls, BaseModalityConfig), f"{cfg_cls.__name__} is not a modalax.plugin.BaseModalityConfig")
        need(dataclasses.is_dataclass(cfg_cls), f"{cfg_cls.__name__} is not a dataclass")
        default = cfg_cls()
        plain = default.to_dict()
        json.dumps(plain)
        need(cfg_cls.from_dict(plain) == default, "from_dict(to_dict()) does not give the config back")
        try:
            cfg_cls.from_dict({**plain, "no_such_field": 1})
        except ConfigError as exc:
            need("no_such_field" in str(exc), f"the error does not name the field: {exc}")
        else:
            raise AssertionError("from_dict accepted an unknown field")
        first = dataclasses.fields(cfg_cls)[0].name
        try:
            dataclasses.replace(default, **{first: object()})
        except ConfigError:
            pass
        except Exception as exc:
            raise AssertionError(f"a bad field value raised {type(exc).__name__}, expected ConfigError: {exc}") from exc
        else:
            raise AssertionError(f"{cfg_cls.__name__}({first}=object()) was accepted; expected a ConfigError naming it")

    def protocol() -> None:
        from modalax._src.validation import modality_interface_problems

        problems = modality_interface_problems(_instance(name))
        need(not problems, "; ".join(problems))

    def decoder() -> str:
        record = _record(name)
        if record.decoder is None:
            raise Skip("no decoder registered (the modality reads no files)")
        fn = resolve(record.decoder)
        need(callable(fn), f"decoder {record.decoder!r} is not callable")
        if record.extensions is None:
            return "no extensions registered"
        exts = tuple(resolve(record.extensions)())
        need(exts and all(isinstance(e, str) and e.startswith(".") for e in exts), f"extensions() gave {exts!r}")
        return f"{len(exts)} extensions"

    def pairing() -> str:
        from modalax._src.pairing import PAIRING_METHOD, pairing_of

        if not callable(getattr(registry.get_modality(name), PAIRING_METHOD, None)):
            raise Skip("no pairing (the modality cannot be paired in multimodal data)")
        return _check_pairing(pairing_of(name))

    return [
        ("class", cls),
        ("config", config),
        ("protocol", protocol),
        ("decoder", decoder),
        ("pairing", pairing),
    ]


def _check_pairing(pairing: Any) -> str:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx

    latent = 4
    world = pairing.make_world(jax.random.key(0), latent)
    u = jax.random.normal(jax.random.key(1), (3, latent))
    keys = jax.random.split(jax.random.key(2), 3)
    render = jax.jit(pairing.render)
    x = render(world, u, keys)
    want = (3, *pairing.sample_shape)
    need(tuple(x.shape) == want, f"render gave shape {tuple(x.shape)}, expected {want}")
    need(np.dtype(x.dtype) == np.dtype(pairing.dtype), f"render gave {x.dtype}, expected {pairing.dtype}")
    again = render(pairing.make_world(jax.random.key(0), latent), u, keys)
    need(np.array_equal(np.asarray(x), np.asarray(again)), "render is not deterministic for equal inputs")
    feats = pairing.features(x)
    need(feats.ndim == 2 and feats.shape[0] == 3, f"features gave shape {tuple(feats.shape)}, expected (3, F)")
    need(bool(jnp.all(jnp.isfinite(feats))), "features are not finite")
    encoder = pairing.encoder(8, rngs=nnx.Rngs(0))
    emb = encoder(x)
    need(tuple(emb.shape) == (3, 8), f"encoder gave shape {tuple(emb.shape)}, expected (3, 8)")
    need(pairing.field and pairing.batch_keys[0] == pairing.field, f"batch_keys {pairing.batch_keys!r}")
    return f"field {pairing.field!r}, samples {pairing.sample_shape}"


# ----------------------------------------------------------------------------------- adapters
def adapter_checks(modality: str, family: str) -> Checks:
    """``get_adapter(m)(model_cls, config).create(rngs=...)`` builds a model, bad arguments are named."""

    def contract() -> None:
        from flax import nnx

        adapter_cls = registry.get_adapter(modality, family)
        tiny = tiny_model_class()
        model = adapter_cls(tiny, None).create(rngs=nnx.Rngs(0))
        need(isinstance(model, nnx.Module), f"create() returned {type(model).__name__}, expected an nnx model")
        try:
            config = _config_class(modality)()
        except AssertionError:
            config = None
        model = adapter_cls(tiny, config).create(None, rngs=nnx.Rngs(0))
        need(isinstance(model, nnx.Module), f"create(None, ...) returned {type(model).__name__}")
        instance = _instance(modality)
        need(hasattr(instance.get_adapter(tiny), "create"), "Modality.get_adapter(model_cls) has no create()")

    def bad_arguments() -> None:
        adapter_cls = registry.get_adapter(modality, family)
        for args, what in (
            ((42,), "a non-class model_cls"),
            ((tiny_model_class(), object()), "a config of another type"),
        ):
            try:
                adapter_cls(*args)
            except ConfigError as exc:
                need(str(exc), f"{what}: an empty ConfigError")
            except ModalaxError as exc:
                raise AssertionError(f"{what} raised {type(exc).__name__}, expected ConfigError") from exc
            else:
                raise AssertionError(f"{what} was accepted")

    return [("contract", contract), ("bad-arguments", bad_arguments)]
