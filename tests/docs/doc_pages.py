"""The docs pages as programs: each page's install line and its Python blocks (standard library only).

A page that has Python blocks says at its top what to install, in one line of the form

    **Install** (from the root of a modalax checkout): `python -m pip install ./core ./plugins/image "optax>=0.2"`

and its blocks run top to bottom, in one namespace, in a fresh process inside a temporary
folder. ``test_docs_blocks.py`` runs them with everything installed (``nox -s tests``);
``nox -s docs`` runs each page in a virtual environment made only from its own install line,
so a page cannot lean on a package it does not name. As a script (the docs session runs it
with each environment's Python, which has no pytest)::

    python tests/docs/doc_pages.py lines            # JSON: install line -> the pages that give it
    python tests/docs/doc_pages.py run PAGE ...     # run the pages' blocks; exit 1 if one fails
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
INSTALL = re.compile(r"^\*\*Install\*\*[^`\n]*`(python -m pip install [^`]+)`", re.M)
PIP = "python -m pip install "
#: Pages another change rewrites: they may lack an install line until it lands (then they are checked too).
AWAITING_INSTALL_LINE: frozenset[str] = frozenset()  # pages whose rewrite in flight adds the line


def doc_files() -> list[Path]:
    """README.md and every page under docs/ that has a Python block."""
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [f for f in files if f.exists() and FENCE.search(f.read_text(encoding="utf-8"))]


def blocks(path: Path) -> list[str]:
    """The page's ```python blocks, in order."""
    return FENCE.findall(path.read_text(encoding="utf-8"))


def install_lines(path: Path) -> list[str]:
    """Every ``**Install**`` command of the page (a page gives exactly one)."""
    return INSTALL.findall(path.read_text(encoding="utf-8"))


def requirements(line: str) -> list[str]:
    """The requirements of ``python -m pip install ...`` as pip receives them (quotes removed)."""
    if not line.startswith(PIP):
        raise ValueError(f"install line {line!r} does not start with {PIP!r}")
    return shlex.split(line[len(PIP) :])


def relative(path: Path) -> str:
    return path.resolve().relative_to(ROOT).as_posix()


def pages_by_line() -> dict[str, list[str]]:
    """Each distinct install line and the pages that give it (pages without one are left out)."""
    groups: dict[str, list[str]] = {}
    for path in doc_files():
        lines = install_lines(path)
        if lines:
            groups.setdefault(lines[0], []).append(relative(path))
    return groups


def run_page(path: Path, python: str = sys.executable, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run the page's blocks with ``python`` in a fresh temporary folder."""
    code = blocks(path)
    with tempfile.TemporaryDirectory(prefix="modalax-doc-") as tmp:
        script = Path(tmp) / "doc_blocks.py"
        parts = [f"# --- block {i} of {path.name}\n{b}" for i, b in enumerate(code)]
        script.write_text("\n".join(parts), encoding="utf-8")
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        return subprocess.run([python, str(script)], cwd=tmp, capture_output=True, text=True, env=env, timeout=timeout)


def main(argv: list[str]) -> int:
    if argv[:1] == ["lines"]:
        print(json.dumps(pages_by_line(), indent=2))
        return 0
    if argv[:1] != ["run"] or len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    failed = 0
    for page in argv[1:]:
        start = time.perf_counter()
        res = run_page(ROOT / page)
        status = "ok" if res.returncode == 0 else "FAILED"
        print(
            f"  {status:6s} {page} ({len(blocks(ROOT / page))} blocks, {time.perf_counter() - start:.0f} s)", flush=True
        )
        if res.returncode != 0:
            failed += 1
            print(res.stdout[-2000:] + res.stderr[-4000:], flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
