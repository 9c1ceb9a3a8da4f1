"""The outcome of the conformance kit: one ``Check`` per (item, rule)."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Check", "Report", "Skip", "child_environment", "need", "run_check"]


class Skip(Exception):
    """Raised by a check that does not apply to an item (the reason is reported)."""


def need(condition: object, message: str) -> None:
    """Fail the running check with ``message`` unless ``condition`` holds (plain text, never rewritten)."""
    if not condition:
        raise AssertionError(message)


@dataclass(frozen=True)
class Check:
    """One rule applied to one registered item: ``id`` is ``"kind:name/rule"``."""

    id: str
    ok: bool
    detail: str = ""
    skipped: bool = False

    def line(self) -> str:
        """A one-line summary: ``PASS``, ``SKIP`` or ``FAIL``, the id and the detail."""
        state = "SKIP" if self.skipped else ("PASS" if self.ok else "FAIL")
        return f"{state} {self.id}" + (f": {self.detail}" if self.detail else "")


@dataclass
class Report:
    """Every check of one plugin."""

    plugin: str
    checks: list[Check] = field(default_factory=list)

    def __iter__(self) -> Iterator[Check]:
        return iter(self.checks)

    @property
    def failures(self) -> list[Check]:
        """The checks that failed."""
        return [c for c in self.checks if not c.ok]

    @property
    def ok(self) -> bool:
        """Whether every check passed (or did not apply)."""
        return not self.failures

    def summary(self) -> str:
        """Counts, then one line per failure."""
        passed = sum(c.ok and not c.skipped for c in self.checks)
        skipped = sum(c.skipped for c in self.checks)
        head = f"plugin {self.plugin!r}: {passed} passed, {len(self.failures)} failed, {skipped} skipped"
        return "\n".join([head, *(c.line() for c in self.failures)])


def run_check(check_id: str, fn: Callable[[], Any]) -> Check:
    """Run ``fn``: passing returns a detail string or None, ``Skip`` skips, anything else fails."""
    try:
        detail = fn()
    except Skip as exc:
        return Check(check_id, True, str(exc), skipped=True)
    except AssertionError as exc:
        return Check(check_id, False, str(exc) or "assertion failed")
    except Exception as exc:  # the check's subject raised: that is the failure to report
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return Check(check_id, False, f"{type(exc).__name__}: {exc} (at {where.filename}:{where.lineno})")
    return Check(check_id, True, str(detail) if detail else "")


def child_environment() -> dict[str, str]:
    """The environment of a check's subprocess: this process's ``sys.path``, so it imports and
    discovers what this process does (plugins installed in folders added at run time too)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
