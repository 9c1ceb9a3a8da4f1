"""Every ```python block in README.md and docs/ runs, so the docs cannot drift from the code; and
every page says at its top what to install for its blocks (``nox -s docs`` runs each page in a
venv made only from that line; here the check is by the names its blocks import).

The blocks of one file run top to bottom in one namespace, in a fresh process, inside a
temporary working directory (``doc_pages.run_page``).  A file whose blocks import a plugin that
is not installed is skipped (per-plugin sessions install only some plugins).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from doc_pages import (
    AWAITING_INSTALL_LINE,
    ROOT,
    blocks,
    doc_files,
    install_lines,
    relative,
    requirements,
    run_page,
)

PLUGIN_IMPORT = re.compile(r"^\s*(?:from|import)\s+(modalax_\w+)", re.M)
IMPORT = re.compile(r"^\s*(?:from|import)\s+(\w+)", re.M)
# Third-party names a block may import, and the distribution its page's install line must name.
# The plugins bring Pillow (image) and soundfile (audio); core brings jax, flax, numpy.
NAMED = {
    "datasets": "datasets",
    "grain": "grain",
    "tokenizers": "tokenizers",
    "array_record": "array_record",
    "optax": "optax",
    "orbax": "orbax-checkpoint",
    "pytest": "pytest",
    "matplotlib": "matplotlib",
    "tqdm": "tqdm",
    "torch": "torch",
}
BROUGHT = {"PIL": "./plugins/image", "soundfile": "./plugins/audio"}


@pytest.mark.parametrize("path", doc_files(), ids=relative)
def test_python_blocks_run(path: Path) -> None:
    code = blocks(path)
    missing = sorted({m for b in code for m in PLUGIN_IMPORT.findall(b) if importlib.util.find_spec(m) is None})
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")
    res = run_page(path, timeout=600)
    assert res.returncode == 0, f"{path.name} failed:\n{res.stdout[-2000:]}\n{res.stderr[-4000:]}"


@pytest.mark.parametrize("path", doc_files(), ids=relative)
def test_each_page_names_what_its_blocks_need(path: Path) -> None:
    lines = install_lines(path)
    if not lines and relative(path) in AWAITING_INSTALL_LINE:
        pytest.skip("its rewrite adds the install line")
    assert len(lines) == 1, f"{relative(path)}: expected one **Install** line at its top, found {lines}"
    reqs = requirements(lines[0])
    assert reqs[0] == "./core", reqs
    for req in reqs:
        if req.startswith("./"):
            assert (ROOT / req / "pyproject.toml").exists(), req
        else:  # quoted, so no shell reads `>` as a redirection or `[...]` as a glob
            assert f'"{req}"' in lines[0] and re.fullmatch(r"[A-Za-z0-9_.-]+(\[[a-z,]+\])?[<>=!~]=?[\w.]+", req), req
    names = {re.split(r"[<>=!~\[]", r)[0].lower().replace("_", "-") for r in reqs}
    imported = {m for b in blocks(path) for m in IMPORT.findall(b)}
    for module in sorted(imported):
        if module.startswith("modalax_"):
            assert f"./plugins/{module.removeprefix('modalax_')}" in reqs, (relative(path), module)
        elif module in NAMED:
            assert NAMED[module].replace("_", "-") in names, (relative(path), module, reqs)
        elif module in BROUGHT:
            assert BROUGHT[module] in reqs, (relative(path), module, reqs)


def test_the_readme_shows_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "nox -s demo" in text and "nox -s tests" in text
