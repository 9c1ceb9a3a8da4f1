"""The error hierarchy shared by core and every plugin.

Messages name the field (or plugin), the value received and what was expected, so that a
user can fix the input without reading our source.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "ConfigError",
    "DataError",
    "MissingFieldError",
    "ModalaxError",
    "PluginError",
    "RecordIndexError",
    "StaleIteratorError",
    "UnknownNameError",
    "closest_match",
    "unknown_name_message",
]


class ModalaxError(Exception):
    """Base class of every error raised by modalax and its plugins."""


class PluginError(ModalaxError):
    """A plugin failed to import, its hook raised, or two plugins claim one name."""


class ConfigError(ModalaxError, ValueError):
    """An invalid configuration value; also a ``ValueError`` for callers that catch that."""


class DataError(ModalaxError, ValueError):
    """Data that cannot be read or has the wrong shape, dtype or content; also a ``ValueError``."""


class RecordIndexError(DataError, IndexError):
    """A record index outside the source; also an ``IndexError`` (the sequence protocol's signal)."""


class StaleIteratorError(ModalaxError, RuntimeError):
    """A loader iterator used after a newer ``iter(loader)`` or ``load_state_dict`` replaced it."""


class UnknownNameError(ConfigError, KeyError):
    """A registry lookup by a name nothing registered; also a ``KeyError``, as the API reference documents."""

    # KeyError quotes its message; ours is a sentence.
    __str__ = BaseException.__str__


class MissingFieldError(DataError, KeyError):
    """A record or batch lacks a field an operator or dataset needs; also a ``KeyError``."""

    __str__ = BaseException.__str__


def closest_match(name: str, choices: Iterable[str]) -> str | None:
    """Return the choice closest to ``name``, or None when nothing is close."""
    found = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return found[0] if found else None


def unknown_name_message(kind: str, name: object, choices: Iterable[str]) -> str:
    """Format "unknown <kind> 'x'; available: a, b; did you mean 'a'?"."""
    names = sorted(choices)
    msg = f"unknown {kind} {name!r}; available: {', '.join(names) if names else '(none)'}"
    hint = closest_match(str(name), names)
    if hint is not None:
        msg += f"; did you mean {hint!r}?"
    return msg
