"""docs/plugin-authoring.md states what the code does: every check of the kit, the generated files,
the reserved names, the plugin-API version, and imports of the public surface only.

tests/docs/test_docs_blocks.py runs the page's code; these tests compare its prose and tables
with the code they describe, so that a new check, file or reserved name cannot go undocumented.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import modalax
import modalax.plugin
import modalax.testing
from modalax._src.conformance import plan
from modalax._src.ownership import CORE_COMMANDS, RESERVED_COMMANDS
from modalax.testing import discovering_registry, run_cli, write_fake_distribution

GUIDE = (Path(__file__).resolve().parents[2] / "docs" / "plugin-authoring.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
PUBLIC = {"modalax": modalax, "modalax.plugin": modalax.plugin, "modalax.testing": modalax.testing}


def _section(number: int) -> str:
    start = GUIDE.index(f"\n## {number}. ")
    end = GUIDE.find("\n## ", start + 1)
    return GUIDE[start : end if end != -1 else None]


def _kind_rule(check_id: str) -> tuple[str, str]:
    """``dataset:video/synthetic/read`` as ``("dataset", "read")``."""
    kind, _, rest = check_id.partition(":")
    return kind, rest.rsplit("/", 1)[-1]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plugin written by ``modalax new-plugin``, with a dist-info so that discovery finds it."""
    out = tmp_path_factory.mktemp("guide") / "modalax-guideclip"
    assert run_cli(["new-plugin", "guideclip", "--out", str(out)]) == 0
    write_fake_distribution(out / "src", "modalax-guideclip", entry_points={"guideclip": "modalax_guideclip.plugin"})
    return out


def test_the_kit_table_documents_every_check_and_no_other(generated: Path) -> None:
    with discovering_registry(generated / "src"):
        ids = [check_id for check_id, _ in plan("guideclip")]
    kinds = {check_id.partition(":")[0] for check_id in ids}
    assert kinds == {"plugin", "modality", "dataset", "operator", "kernel", "adapter"}  # the template has them all
    table = re.findall(r"^\| `([a-z]+:[^`]+)` \|", _section(6), re.M)
    assert len(table) == len(set(table))
    assert {_kind_rule(c) for c in table} == {_kind_rule(c) for c in ids}


def test_the_file_table_names_every_file_new_plugin_writes(generated: Path) -> None:
    start = _section(1).index("| file | what it holds |")
    table = _section(1)[start:].split("\n\n", 1)[0]
    written = sorted(
        {
            p.name
            for p in generated.rglob("*")
            if p.is_file() and ".dist-info" not in str(p) and "__pycache__" not in p.parts
        }
    )
    missing = [name for name in written if f"`{name}`" not in table and f"/{name}`" not in table]
    assert missing == []


def test_the_reserved_names_and_commands_are_the_code_s() -> None:
    owners = next(p for p in _section(4).split("\n\n") if p.startswith("1. the distribution"))
    for name, distribution in modalax.plugin.RESERVED_NAMES.items():
        assert f"`{name}`" in owners and f"`{distribution}`" in owners
    commands = next(p for p in _section(4).split("\n\n") if "Command names are checked" in p)
    for command in {c.replace("_", "-") for c in CORE_COMMANDS}:
        assert f"`{command}`" in commands
    for command, distribution in RESERVED_COMMANDS.items():
        assert f"`{command}` belongs to `{distribution}`" in commands


def test_the_plugin_api_version_is_core_s() -> None:
    version = modalax.plugin.API_VERSION
    assert f"**plugin API {version}**" in GUIDE
    assert f'MODALAX_PLUGIN_API = "{version}"' in GUIDE
    assert f'`modalax.plugin.API_VERSION` is the plugin API this core provides (`"{version}"`)' in GUIDE


def test_the_code_imports_only_the_public_surface() -> None:
    code = "\n".join(FENCE.findall(GUIDE))
    modules = set(re.findall(r"^\s*(?:from|import) (modalax(?:\.\w+)*)(?=[\s,]|$)", code, re.M))
    assert modules <= set(PUBLIC), modules - set(PUBLIC)
    for module, names in re.findall(r"^\s*from (modalax(?:\.\w+)*) import \(?([^)]*?)\)?$", code, re.M | re.S):
        for name in re.findall(r"\w+", names):
            assert hasattr(PUBLIC[module], name), f"{module}.{name}"
    assert "_src" not in code


def test_no_internal_planning_labels() -> None:
    assert re.search(r"\bseeds? ?0\d", GUIDE, re.I) is None


def test_the_surface_table_names_every_name_of_modalax_plugin() -> None:
    start = _section(3).index("| what | names in `modalax.plugin` |")
    table = _section(3)[start:].split("\n\n", 1)[0]
    listed = re.findall(r"`(\w+)`", table)
    assert sorted(set(modalax.plugin.__all__) - set(listed)) == []
    assert sorted(set(listed) - set(modalax.plugin.__all__)) == []
