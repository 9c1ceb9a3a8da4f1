"""docs/api.md lists every public name of modalax, modalax.plugin and modalax.testing, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import modalax
import modalax.plugin
import modalax.testing

API = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = API.index(f"## `{title}`")
    end = API.find("\n## ", start + 1)
    return API[start : end if end != -1 else None]


def _listed(section: str) -> set[str]:
    return set(re.findall(r"^\| `([A-Za-z_][A-Za-z0-9_]*)` \|", section, re.M))


def test_every_public_name_of_modalax_has_a_row() -> None:
    listed = _listed(_section("modalax"))
    assert sorted(set(modalax.__all__) - listed) == []
    assert sorted(listed - set(modalax.__all__)) == []


def test_every_name_of_the_plugin_surface_is_documented() -> None:
    section = _section("modalax.plugin")
    listed = _listed(section)
    undocumented = [n for n in modalax.plugin.__all__ if n not in listed and f"`{n}`" not in section + API]
    assert undocumented == []
    assert sorted(listed - set(modalax.plugin.__all__)) == []


def test_every_name_of_the_testing_module_has_a_row() -> None:
    assert _listed(_section("modalax.testing")) == set(modalax.testing.__all__)


def test_deprecated_names_are_listed_and_still_work() -> None:
    for name in modalax.DEPRECATED:
        assert f"`modalax.{name}`" in API, name
    assert "API_VERSION" in API and modalax.plugin.API_VERSION in API
