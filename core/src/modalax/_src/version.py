"""The plugin-API version: which plugins this core can load.

Core publishes ``API_VERSION`` (``"major.minor"``); a plugin's hook module declares the version
it was built against as ``MODALAX_PLUGIN_API = "1.0"``. A plugin is compatible when the majors
are equal and its minor is at most core's (it may use only what this core has). Checking costs
one attribute read per plugin, after its hook module is imported and before any hook runs.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["API_VERSION", "API_VERSION_INFO", "DECLARATION", "UNDECLARED", "compatibility_problem", "parse_api_version"]

API_VERSION = "1.0"
API_VERSION_INFO = (1, 0)
#: The hook-module attribute a plugin declares its plugin-API version in.
DECLARATION = "MODALAX_PLUGIN_API"

#: The problem of a plugin that declares nothing: loaded as if built for this major, with a warning
#: (an error in strict mode), since plugins written before the plugin API existed declare nothing.
UNDECLARED = (
    f"declares no plugin-API version; loaded as if built for {API_VERSION}. Declare {DECLARATION} = "
    f"{API_VERSION!r} in its hook module (the version of modalax.plugin it was built against)"
)

_VERSION = re.compile(r"^(\d+)\.(\d+)$")


def parse_api_version(value: Any) -> tuple[int, int] | None:
    """``"1.0"`` as ``(1, 0)``; None for anything that is not ``"<major>.<minor>"``."""
    match = _VERSION.match(value) if isinstance(value, str) else None
    return None if match is None else (int(match[1]), int(match[2]))


def compatibility_problem(declared: Any) -> str | None:
    """Why a plugin declaring ``declared`` cannot load into this core, or None when it can."""
    if declared is None:
        return UNDECLARED
    version = parse_api_version(declared)
    if version is None:
        return f"{DECLARATION} = {declared!r}; expected a 'major.minor' string such as {API_VERSION!r}"
    major, minor = version
    if major != API_VERSION_INFO[0]:
        return (
            f"was built for plugin API {declared} but this modalax provides {API_VERSION}; "
            f"install a release of the plugin built for plugin API {API_VERSION_INFO[0]}.x"
        )
    if minor > API_VERSION_INFO[1]:
        return (
            f"needs plugin API {declared} but this modalax provides {API_VERSION}; "
            'install a newer modalax (from its checkout: python -m pip install "./core")'
        )
    return None
