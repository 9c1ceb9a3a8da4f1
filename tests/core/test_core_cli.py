"""The CLI in a subprocess: plugins/list import no jax; strict mode exits non-zero."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from modalax.testing import write_fake_distribution


def run_cli(
    *args: str, paths: list[Path] = (), env: dict[str, str] | None = None, code: str | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MODALAX_")}
    environ["PYTHONPATH"] = os.pathsep.join([*map(str, paths), environ.get("PYTHONPATH", "")])
    environ.update(env or {})
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "modalax", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=environ, timeout=120)


NO_JAX = (
    "import sys; from modalax._src.cli import main; rc = main({args!r}); "
    "assert 'jax' not in sys.modules, 'jax was imported'; sys.exit(rc)"
)


def test_plugins_and_list_do_not_import_jax(healthy_dist: Path) -> None:
    for args in (["plugins"], ["list"], ["plugins", "--json"]):
        res = run_cli(paths=[healthy_dist], code=NO_JAX.format(args=args))
        assert res.returncode == 0, res.stderr
    res = run_cli("plugins", "--json", paths=[healthy_dist])
    [info] = [p for p in json.loads(res.stdout) if p["id"] == "toy"]
    assert info == {
        "id": "toy",
        "distribution": "toy-plugin",
        "version": "1.2.3",
        "status": "loaded",
        "api_version": "1.0",
        "problems": [],
        "entry_point": "toy_plugin_hooks",
        "registered": {"modalities": ["toy"], "datasets": ["toy/counting"], "kernels": ["toy.double"]},
        "error": None,
    }


def test_broken_plugin_warns_and_strict_mode_exits_nonzero(healthy_dist: Path, tmp_path: Path) -> None:
    broken = write_fake_distribution(
        tmp_path / "b",
        "broken-plugin",
        version="0.0.1",
        entry_points={"broken": "cli_broken_hooks"},
        modules={"cli_broken_hooks": "raise ImportError('no such native lib')\n"},
    )
    res = run_cli("plugins", paths=[healthy_dist, broken])
    assert res.returncode == 0
    assert "modalax plugin 'broken' (broken-plugin 0.0.1) failed" in res.stderr
    assert "no such native lib" in res.stderr
    assert "toy-plugin" in res.stdout and "loaded" in res.stdout and "failed" in res.stdout
    strict = run_cli("plugins", paths=[healthy_dist, broken], env={"MODALAX_STRICT_PLUGINS": "1"})
    assert strict.returncode != 0
    assert "'broken'" in strict.stderr and "no such native lib" in strict.stderr


def test_no_plugins_installed_reports_empty(tmp_path: Path) -> None:
    code = (
        "import sys; from modalax.testing import discovering_registry; from modalax._src.cli import main; "
        f"ctx = discovering_registry({str(tmp_path)!r}); ctx.__enter__(); sys.exit(main(['plugins']))"
    )
    res = run_cli(code=code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "no modalax plugins installed (entry-point group 'modalax')"


def test_info_and_list_output(healthy_dist: Path) -> None:
    res = run_cli("info", "toy", paths=[healthy_dist])
    assert res.returncode == 0, res.stderr
    assert "modality 'toy' from toy-plugin 1.2.3" in res.stdout
    assert "dataset types: counting" in res.stdout and "kernels: toy.double" in res.stdout
    res = run_cli("list", paths=[healthy_dist])
    assert "toy" in res.stdout.splitlines()[0] and "toy/counting" in res.stdout
    res = run_cli("info", "tyo", paths=[healthy_dist])
    assert res.returncode == 2 and "did you mean 'toy'" in res.stderr
