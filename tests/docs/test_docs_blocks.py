"""Every ```python block in README.md and docs/ runs, so the docs cannot drift from the code.

The blocks of one file run top to bottom in one namespace, in a fresh process, inside a
temporary working directory.  A file whose blocks import a plugin that is not installed is
skipped (per-plugin sessions install only some plugins).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
PLUGIN_IMPORT = re.compile(r"^\s*(?:from|import)\s+(modalax_\w+)", re.M)


def doc_files() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [f for f in files if f.exists() and FENCE.search(f.read_text(encoding="utf-8"))]


def blocks(path: Path) -> list[str]:
    return FENCE.findall(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", doc_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run(path: Path, tmp_path: Path) -> None:
    code = blocks(path)
    missing = sorted({m for b in code for m in PLUGIN_IMPORT.findall(b) if importlib.util.find_spec(m) is None})
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    script = tmp_path / "doc_blocks.py"
    parts = [f"# --- block {i} of {path.name}\n{b}" for i, b in enumerate(code)]
    script.write_text("\n".join(parts), encoding="utf-8")
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    res = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600
    )
    assert res.returncode == 0, f"{path.name} failed:\n{res.stdout[-2000:]}\n{res.stderr[-4000:]}"


def test_the_readme_shows_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "nox -s demo" in text and "nox -s tests" in text
