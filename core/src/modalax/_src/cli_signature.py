"""What a registered factory accepts, read from its source without importing it.

``modalax preview`` and ``modalax pack`` check every ``--set`` key before any work, but the
factories live in plugin modules that import jax (10-18 s on a cold start). So the names are
read from the source with ``ast``: a module's file is found through its top-level package's
search path (``importlib.util.find_spec`` of a top-level name runs no package code), a name is
followed through ``from X import Y`` re-exports and through the string tables of lazy exports
(``{"Name": "package.module"}``), and a class's parameters are those of the first ``__init__``
along its method resolution order (C3, as Python computes it). A dataclass's fields are its
annotated class attributes along the same order.

Where the source does not say (a C extension, a name built at run time, a class whose bases
cannot all be read) the answer is None and the caller imports the factory and inspects it: slower
but exact. ``tests/core/test_core_cli_signature.py`` checks that both ways agree on every factory
and config class the installed plugins register. Cost: parsing a few source files (milliseconds).
"""

from __future__ import annotations

import ast
import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Params", "static_config_fields", "static_parameters"]

_MAX_DEPTH = 12  # re-export chains and base classes deeper than this are not followed
_ROOT_BASES = frozenset({"object", "Generic", "Protocol", "ABC"})


@dataclass(frozen=True)
class Params:
    """A callable's parameter names (positional-only left out), the required ones, whether it takes
    ``**kwargs``, and the annotation of its ``config`` parameter as written (None: not annotated)."""

    names: tuple[str, ...]
    required: tuple[str, ...]
    var_keyword: bool
    config_annotation: str | None = None


@functools.lru_cache(maxsize=64)
def _module_file(module: str) -> Path | None:
    """The ``.py`` file of ``module`` (a package's ``__init__.py``) found without running package code."""
    top, *rest = module.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if not rest:
        origin = Path(spec.origin) if spec.origin else None
        return origin if origin is not None and origin.suffix == ".py" else None
    for base in spec.submodule_search_locations or []:
        stem = Path(base, *rest)
        for candidate in (stem.with_suffix(".py"), stem / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


@functools.lru_cache(maxsize=64)
def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None


def _absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    keep = len(parts) - node.level + (1 if is_package else 0)
    base = ".".join(parts[:keep])
    return f"{base}.{node.module}" if node.module else base


def _lazy_target(tree: ast.Module, name: str) -> str | None:
    """The module a lazy-export table at module level maps ``name`` to, if any."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == name and isinstance(value, ast.Constant):
                    return value.value if isinstance(value.value, str) else None
        elif isinstance(node, ast.DictComp) and isinstance(node.value, ast.Constant):
            gen = node.generators[0] if len(node.generators) == 1 else None
            if gen is not None and isinstance(gen.iter, ast.Tuple | ast.List):
                names = [e.value for e in gen.iter.elts if isinstance(e, ast.Constant)]
                if name in names and isinstance(node.value.value, str):
                    return node.value.value
    return None


def _find(module: str, name: str, depth: int = 0) -> tuple[str, ast.AST] | None:
    """The ``def``/``class`` node that ``module.name`` is, following re-exports; None when unknown."""
    path = _module_file(module)
    tree = _parse(path) if path is not None else None
    if tree is None or depth > _MAX_DEPTH:
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == name:
            return module, node
    assert path is not None
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return _find(_absolute(module, node, path.name == "__init__.py"), alias.name, depth + 1)
    target = _lazy_target(tree, name)
    return _find(target, name, depth + 1) if target else None


# A class in the order below: (module, node) for one whose source was read, or ("?", text) for an
# opaque base (nnx.Module, a C type): its own bases are unknown, and reaching it before any
# ``__init__`` means the source cannot say.
_Class = tuple[str, Any]


def _resolve_base(module: str, expr: ast.expr, depth: int) -> _Class | None:
    """A base class: its node, an opaque stand-in, or None for a root (object, Generic[...])."""
    if isinstance(expr, ast.Subscript):
        expr = expr.value
    name = expr.id if isinstance(expr, ast.Name) else expr.attr if isinstance(expr, ast.Attribute) else ""
    if name in _ROOT_BASES:
        return None
    found = _find(module, expr.id, depth + 1) if isinstance(expr, ast.Name) else None
    if found is None or not isinstance(found[1], ast.ClassDef):
        return ("?", ast.unparse(expr))
    return found


def _key(item: _Class) -> tuple[str, str]:
    where, node = item
    return (where, node) if where == "?" else (where, node.name)


def _mro(module: str, cls: ast.ClassDef, depth: int = 0) -> list[_Class] | None:
    """C3 linearisation of ``cls``; opaque bases stand for themselves. None when too deep or inconsistent."""
    if depth > _MAX_DEPTH:
        return None
    chains: list[list[_Class]] = []
    direct: list[_Class] = []
    for expr in cls.bases:
        base = _resolve_base(module, expr, depth)
        if base is None:
            continue
        chain = [base] if base[0] == "?" else _mro(base[0], base[1], depth + 1)
        if chain is None:
            return None
        chains.append(chain)
        direct.append(base)
    chains.append(direct)
    result: list[_Class] = [(module, cls)]
    while any(chains):
        for chain in chains:
            if chain and not any(_key(chain[0]) in {_key(c) for c in other[1:]} for other in chains):
                head = chain[0]
                break
        else:
            return None  # no consistent order: Python would refuse the class too
        result.append(head)
        chains = [[c for c in chain if _key(c) != _key(head)] for chain in chains]
    return result


def _function_params(node: ast.FunctionDef | ast.AsyncFunctionDef, drop_first: bool) -> Params:
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    pairs = list(zip(positional, defaults, strict=True))[len(args.posonlyargs) :]
    if drop_first and not args.posonlyargs:
        pairs = pairs[1:]
    named = [(a.arg, d is not None) for a, d in pairs]
    named += [(a.arg, d is not None) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    config = next((a for a, _ in pairs if a.arg == "config"), None) or next(
        (a for a in args.kwonlyargs if a.arg == "config"), None
    )
    annotation = ast.unparse(config.annotation) if config is not None and config.annotation is not None else None
    return Params(
        tuple(n for n, _ in named),
        tuple(n for n, has_default in named if not has_default),
        args.kwarg is not None,
        annotation,
    )


def _is_decorated(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, names: set[str]) -> bool:
    for dec in node.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        label = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if label in names:
            return True
    return False


def static_parameters(target: Any) -> Params | None:
    """The parameters of the factory ``"package.module:attr"`` as its source declares them, or None.

    None when the source cannot answer (see the module docstring); callables are not read here.
    """
    if not isinstance(target, str) or ":" not in target:
        return None
    module, _, attr = target.partition(":")
    found = _find(module, attr) if module and attr and "." not in attr else None
    if found is None:
        return None
    where, node = found
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return None if node.decorator_list else _function_params(node, drop_first=False)
    if not isinstance(node, ast.ClassDef):
        return None
    order = _mro(where, node)
    if order is None:
        return None
    init = _first_method(order, "__init__")
    if init is None or init.decorator_list:
        return None
    params = _function_params(init, drop_first=True)
    if not params.var_keyword:
        return params
    # A file dataset's **options are its decode options: those ``check_decode_options`` names
    # (core's FileDecoding, whose own version takes none, documents this contract).
    check = _first_method(order, "check_decode_options", with_owner=True)
    if not isinstance(check, tuple):
        return params
    owner, node = check
    options = () if owner == _CORE_FILES else _function_params(node, drop_first=True).names
    var_keyword = owner != _CORE_FILES and node.args.kwarg is not None
    return Params(params.names + options, params.required, var_keyword, params.config_annotation)


_CORE_FILES = "modalax._src.files"


def _first_method(order: list[_Class], name: str, *, with_owner: bool = False) -> Any:
    """The first definition of method ``name`` along ``order`` (None if an opaque class or a dataclass comes first)."""
    for where, cls in order:
        if where == "?" or _is_decorated(cls, {"dataclass"}):
            return None  # unknown, or a generated __init__: inspected at run time instead
        for item in cls.body:
            if isinstance(item, ast.FunctionDef) and item.name == name:
                return (where, item) if with_owner else item
    return None


def static_config_fields(target: Any) -> tuple[str, ...] | None:
    """The field names of the dataclass ``"package.module:Class"`` (bases first), or None."""
    if not isinstance(target, str) or ":" not in target:
        return None
    module, _, attr = target.partition(":")
    found = _find(module, attr) if module and attr else None
    if found is None or not isinstance(found[1], ast.ClassDef):
        return None
    order = _mro(found[0], found[1])
    if order is None:
        return None
    names: list[str] = []
    for where, cls in reversed(order):
        if where == "?" or not _is_decorated(cls, {"dataclass"}):
            continue
        for item in cls.body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                text = ast.unparse(item.annotation)
                if "ClassVar" in text or "InitVar" in text or item.target.id.startswith("_"):
                    continue
                if item.target.id not in names:
                    names.append(item.target.id)
    return tuple(names)
