"""``modalax new-plugin``: the package it writes is complete, installs, and passes its own tests."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import site
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import modalax
from modalax import ConfigError
from modalax._src.cli import main
from modalax._src.cli_new_plugin import template_values, write_plugin
from modalax.testing import discovering_registry, write_fake_distribution

EXPECTED_FILES = {
    "README.md",
    "pyproject.toml",
    "tests/test_plugin.py",
    *(
        f"src/modalax_my_video/{f}"
        for f in (
            "__init__.py",
            "adapter.py",
            "config.py",
            "datasets.py",
            "kernels.py",
            "modality.py",
            "operators.py",
            "pairing.py",
            "plugin.py",
            "preview.py",
            "py.typed",
        )
    ),
}


def test_writes_every_file_with_the_names_filled_in(tmp_path: Path) -> None:
    written = write_plugin("my_video", tmp_path / "pkg")
    root = tmp_path / "pkg"
    assert {p.relative_to(root).as_posix() for p in written} == EXPECTED_FILES
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert "{{" not in text and "__package__" not in text, path
        if path.suffix == ".py":
            compile(text, str(path), "exec")  # a syntax error names the file
    meta = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert meta["project"]["name"] == "modalax-my-video"
    assert meta["project"]["entry-points"]["modalax"] == {"my_video": "modalax_my_video.plugin"}
    assert "class MyVideoModality(" in (root / "src/modalax_my_video/modality.py").read_text(encoding="utf-8")
    assert template_values("my_video") == {
        "name": "my_video",
        "Class": "MyVideo",
        "package": "modalax_my_video",
        "dist": "modalax-my-video",
        "axes_tuple": '("length", "channels")',
        "axes_doc": "(length, channels)",
        "config_fields": "    length: int = 64\n    channels: int = 1\n",
    }
    assert template_values("cloud", "points=8")["axes_tuple"] == '("points",)'  # a one-element tuple


def test_cli_default_out_is_the_distribution_name(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["new-plugin", "video"]) == 0
    assert (tmp_path / "modalax-video" / "src" / "modalax_video" / "plugin.py").is_file()
    out = capsys.readouterr().out
    assert "wrote 14 files of the modalax-video plugin (video records (length, channels)) into modalax-video" in out
    assert 'python -m pip install -e "modalax-video[test]"' in out and "python -m pytest modalax-video/tests" in out


@pytest.mark.parametrize(
    "name",
    ["Video", "1video", "my-video", "my video", "class", "video_", "_video", "", "vidéo", "v" * 41],
)
def test_bad_names_are_one_line_errors(name: str, tmp_path: Path, capsys) -> None:
    assert main(["new-plugin", name, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"modalax: error: NAME: got {name!r}")
    assert not (tmp_path / "out").exists()


def test_a_non_empty_out_folder_or_a_file_is_refused_untouched(tmp_path: Path, capsys) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    assert main(["new-plugin", "video", "--out", str(tmp_path / "busy")]) == 2
    err = capsys.readouterr().err
    assert f"modalax: error: --out: {str(tmp_path / 'busy')!r} is not empty" in err
    assert [p.name for p in (tmp_path / "busy").iterdir()] == ["keep.txt"]
    (tmp_path / "file").write_text("x")
    assert main(["new-plugin", "video", "--out", str(tmp_path / "file")]) == 2
    assert "which is a file; expected a new or empty folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["new-plugin", "video", "--out", str(tmp_path / "empty")]) == 0
    with pytest.raises(ConfigError, match=r"NAME: got 'Bad'"):
        write_plugin("Bad", tmp_path / "other")


@pytest.mark.parametrize(
    ("shape", "words"),
    [
        ("", "expected axes such as 'points=1024,xyz=3'"),
        ("points", "got 'points' in 'points', expected NAME=SIZE"),
        ("points=0", "got 'points=0'"),
        ("points=-3", "got 'points=-3'"),
        ("Points=3", "got 'Points=3'"),
        ("class=3", "got 'class=3'"),
        ("a=1,a=2", "axis 'a' in 'a=1,a=2' is repeated or reserved"),
        ("shape=4", "axis 'shape' in 'shape=4' is repeated or reserved"),
        ("a=1,b=1,c=1,d=1,e=1", "got 5 axes"),
    ],
)
def test_bad_shapes_are_one_line_errors(shape: str, words: str, tmp_path: Path, capsys) -> None:
    assert main(["new-plugin", "cloud", "--shape", shape, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("modalax: error: --shape: ") and words in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("image", "'image' is reserved for 'modalax-image'"),
        ("multimodal", "'multimodal' is reserved for 'modalax-multimodal'"),
        ("toy", "'toy' is taken by the installed distribution 'toy-plugin'"),
    ],
)
def test_names_in_use_are_refused(name: str, words: str, healthy_dist: Path, tmp_path: Path, capsys) -> None:
    with discovering_registry(healthy_dist):
        assert main(["new-plugin", name, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("modalax: error: NAME: ") and words in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("shape", "record"), [("length=64,channels=1", (64, 1)), ("points=16,xyz=3", (16, 3))])
def test_generated_package_passes_the_conformance_kit_in_process(shape: str, record: tuple, tmp_path: Path) -> None:
    from modalax.testing import check_plugin

    src = write_plugin("gen_demo", tmp_path / "pkg", shape)[0].parent / "src"
    write_fake_distribution(src, "modalax-gen-demo", entry_points={"gen_demo": "modalax_gen_demo.plugin"})
    with discovering_registry(src):
        assert modalax.list_modalities() == ["gen_demo"]
        ds = modalax.create_dataset("gen_demo", "synthetic", dataset_size=4, seed=0)
        batch = ds.get_records(np.arange(4))
        assert batch["gen_demo"].shape == (4, *record)
        z = np.asarray(modalax.get_kernel("gen_demo.standardize")(batch["gen_demo"]))
        np.testing.assert_allclose(z.mean(axis=(1, 2)), 0.0, atol=1e-5)
        report = check_plugin("gen_demo", fresh_processes=False)
    assert report.ok, report.summary()
    assert {c.id for c in report if not c.skipped} >= {
        "modality:gen_demo/pairing",
        "dataset:gen_demo/synthetic/loader",
        "kernel:gen_demo.standardize/batch-independent",
        "operator:gen_demo/random_gain/in-loader",
        "adapter:gen_demo/default/contract",
    }


def _can_build_editable() -> str | None:
    """Why ``pip install --no-build-isolation -e`` cannot work here (None when it can)."""
    if importlib.util.find_spec("pip") is None:
        return "pip is not installed"
    try:  # importing setuptools here would fight pytest over distutils: read its version only
        version = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return "setuptools is not installed"
    major, minor = (int(v) for v in [*re.findall(r"\d+", version), "0"][:2])
    if (major, minor) < (70, 1) and importlib.util.find_spec("wheel") is None:
        return f"setuptools {version} builds wheels only with the 'wheel' package"
    return None


@pytest.mark.slow
def test_generated_package_installs_and_passes_its_own_tests(tmp_path: Path) -> None:
    reason = _can_build_editable()
    if reason is not None:
        pytest.skip(reason)
    pkg = tmp_path / "modalax-cloud"
    write_plugin("cloud", pkg, "points=16,xyz=3")  # not (length, channels): any record shape works
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # The running interpreter may itself be a virtual environment, whose packages (modalax, jax,
    # pytest, pip) --system-site-packages does not see: add its site folders, .pth files included.
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    dirs = [d for d in site.getsitepackages() if Path(d).is_dir()]
    Path(purelib, "_parent_env.pth").write_text(f"import site; list(map(site.addsitedir, {dirs!r}))\n")
    env = {**os.environ, "PYTHONHASHSEED": "0", "MODALAX_STRICT_PLUGINS": "1", "PIP_NO_INDEX": "1"}

    def run(*args: str, cwd: Path = tmp_path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
        )

    res = run("-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", str(pkg))
    assert res.returncode == 0, res.stdout + res.stderr
    res = run("-c", "import modalax; print(modalax.list_modalities())")
    assert res.returncode == 0, res.stderr
    assert "'cloud'" in res.stdout
    res = run("-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", cwd=pkg)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    passed = re.search(r"\b(\d+) passed\b", res.stdout)
    assert passed and int(passed.group(1)) >= 30 and "failed" not in res.stdout, res.stdout[-2000:]
