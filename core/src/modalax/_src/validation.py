"""Checks of the ``Modality`` protocol and a factory helper."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from modalax._src.config import BaseModalityConfig
from modalax._src.errors import ConfigError

_REQUIRED: dict[str, tuple[list[str], list[str]]] = {
    # method: (positional parameter names after self, required keyword-only names)
    "get_extensions": (["config"], ["rngs"]),
    "get_adapter": (["model_cls"], []),
}


def modality_interface_problems(modality: Any) -> list[str]:
    """Every way ``modality`` departs from the ``Modality`` protocol (empty when it complies)."""
    problems: list[str] = []
    name = getattr(modality, "name", None)
    if not isinstance(name, str) or not name:
        problems.append(f"attribute 'name': got {name!r}, expected a non-empty string")
    for method, (positional, keyword_only) in _REQUIRED.items():
        fn = getattr(modality, method, None)
        if not callable(fn):
            problems.append(f"method {method!r}: missing")
            continue
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            continue
        params = list(sig.parameters.values())
        has_var_kw = any(p.kind is p.VAR_KEYWORD for p in params)
        has_var_pos = any(p.kind is p.VAR_POSITIONAL for p in params)
        pos = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if len(pos) < len(positional) and not has_var_pos:
            problems.append(
                f"method {method!r}: takes {len(pos)} positional argument(s), expected "
                f"{len(positional)} ({', '.join(positional)})"
            )
        extra_required = [p.name for p in pos[len(positional) :] if p.default is p.empty]
        if extra_required:
            problems.append(f"method {method!r}: extra required argument(s) {extra_required}")
        names = {p.name for p in params}
        for kw in keyword_only:
            if kw not in names and not has_var_kw:
                problems.append(f"method {method!r}: missing keyword argument {kw!r}")
    return problems


def validate_modality_interface(modality_instance: Any, *, raise_on_error: bool = False) -> bool:
    """True when ``modality_instance`` implements ``Modality`` with compatible signatures.

    With ``raise_on_error=True`` a ``ConfigError`` lists every problem instead of False.
    """
    problems = modality_interface_problems(modality_instance)
    if problems and raise_on_error:
        raise ConfigError(f"{type(modality_instance).__name__} is not a Modality: " + "; ".join(problems))
    return not problems


def create_modality_factory(modality_class: type, default_config: BaseModalityConfig) -> Callable[..., Any]:
    """``factory(config=None, *, rngs, **overrides)`` building ``modality_class``.

    ``overrides`` replace fields of ``default_config`` (validated again).
    """
    if not isinstance(modality_class, type):
        raise ConfigError(f"modality_class: got {modality_class!r}, expected a class")

    def factory(config: BaseModalityConfig | None = None, *, rngs: Any, **overrides: Any) -> Any:
        base = config if config is not None else default_config
        if overrides:
            base = base.replace(**overrides)
        return modality_class(config=base, rngs=rngs)

    factory.__name__ = f"create_{getattr(modality_class, 'name', modality_class.__name__)}"
    factory.__doc__ = f"Build a {modality_class.__name__} from {type(default_config).__name__} defaults."
    return factory
