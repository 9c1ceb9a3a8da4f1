"""Every way to install, test, lint, build, benchmark and demo modalax.

`nox -s demo` runs the main job; `nox -s tests` runs every test with every package installed.
Per-package sessions install core plus one plugin only, proving each installs on its own.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).parent
# pip (not uv): it honours the pip configuration of the machine it runs on.
nox.options.default_venv_backend = "virtualenv"
nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True

PLUGIN_ORDER = ["image", "text", "audio", "multimodal"]
PLUGINS = [p for p in PLUGIN_ORDER if (ROOT / "plugins" / p / "pyproject.toml").exists()]
EXAMPLE_PLUGIN = ROOT / "examples" / "timeseries-plugin"

# Test-only references: numerics are checked against them, users never need them.
TEST_DEPS = ["pytest>=8", "pytest-xdist>=3.6", "hypothesis>=6.100", "pillow>=10", "tqdm>=4.66"]
# pytest-xdist processes: the suite waits on single-threaded work (tracing, compiling, subprocesses)
# most of the time, so two processes on two cores ran it in 9:50 instead of 16:10. Override with
# `nox -s tests -- -n 0 tests/core` (the last -n wins).
TEST_PROCESSES = str(min(4, os.cpu_count() or 1))
# The libraries users pair modalax with, tested for real in the full suite (their tests skip
# where these are absent, as in `nox -s core`).
PEER_TEST_DEPS = [
    "grain==0.2.18",
    "datasets>=2.19",
    "array_record>=0.5",
    "orbax-checkpoint>=0.6",
    "soundfile>=0.12",
    "matplotlib>=3.8",
]
PLUGIN_TEST_DEPS = {
    "image": ["scikit-image>=0.22"],
    "text": ["sacrebleu>=2.4", "tokenizers>=0.15"],
    "audio": ["librosa>=0.10", "scipy>=1.11"],
    "multimodal": ["matplotlib>=3.8"],
}
# Branch coverage of core (the `modalax` package) that `nox -s tests` requires.
CORE_COVERAGE = 90

# The multimodal plugin needs the three modality plugins.
PLUGIN_NEEDS = {"multimodal": ["image", "text", "audio"]}

# Peers of the benchmarks: installed in the bench session only.
BENCH_DEPS = [
    "datarax==0.1.4",
    "grain==0.2.18",
    "librosa>=0.10",
    "tokenizers>=0.15",
    "pillow>=10",
    "tqdm>=4.66",
]
# Version 2.13.0 sorts its CPU build (2.13.0+cpu) first where a find-links folder offers it.
TORCH_CPU = ["torch==2.13.0"]
# The references of the tests marked `torch` (folder listings, tuples, tensors): about 5.5 GB, which
# took 2.5 minutes to install into a fresh environment from a local package mirror.
TORCH_TEST_DEPS = ["torch==2.14.1", "torchvision==0.29.1"]


def _paths(*plugins: str) -> list[str]:
    return [str(ROOT / "core"), *(str(ROOT / "plugins" / p) for p in plugins)]


def _test_env(strict: bool = True) -> dict[str, str]:
    env = {"PYTHONHASHSEED": "0", "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    if strict:
        env["MODALAX_STRICT_PLUGINS"] = os.environ.get("MODALAX_STRICT_PLUGINS", "1")
    return env


def _pytest(session: nox.Session, *paths: str, coverage: bool = False) -> None:
    args = ["-n", TEST_PROCESSES, *(session.posargs or paths)]
    if not coverage:
        session.run("pytest", *args, env=_test_env())
        return
    # [tool.coverage.run] in pyproject.toml measures core (`modalax`) with branches in every Python
    # process the run starts (pytest-xdist's workers, the tests' subprocesses), each from its first
    # line, so module-level lines count; the data files are combined before the report.
    env = {**_test_env(), "COVERAGE_FILE": str(ROOT / ".coverage")}
    session.run("coverage", "erase", env=env)
    session.run("coverage", "run", "-m", "pytest", *args, env=env)
    session.run("coverage", "combine", "--quiet", env=env, silent=True)
    # One line for a passing run; the per-file table (by path in the checkout, [tool.coverage.paths]) on request.
    total = float(session.run("coverage", "report", "--format=total", "--precision=1", env=env, silent=True) or 0)
    where = "per file: `coverage report` in the checkout's root, where .coverage holds the data"
    if total < CORE_COVERAGE:
        session.run("coverage", "report", env=env)
        session.error(f"core's branch coverage is {total:.1f}%, below the {CORE_COVERAGE}% required")
    session.log(f"core's branch coverage: {total:.1f}% (at least {CORE_COVERAGE}% required; {where})")


def _first_install(session: nox.Session, what: str) -> bool:
    """True (and say what comes) when the session's environment is new: its first install takes minutes."""
    fresh = not (Path(session.virtualenv.location) / "bin" / "modalax").exists()
    if fresh:
        session.log(f"first run: installing {what}; pip's progress follows")
    return fresh


@nox.session
def tests(session: nox.Session) -> None:
    """Install core, every plugin and the example plugin; run the whole suite."""
    deps = [d for p in PLUGINS for d in PLUGIN_TEST_DEPS[p]]
    fresh = _first_install(session, "core, every plugin and the test references (about 380 MB to download)")
    session.install(
        *TEST_DEPS, *PEER_TEST_DEPS, *deps, "ruff==0.17.6", "setuptools>=70.1", "coverage>=7.10", silent=not fresh
    )
    session.install(*_paths(*PLUGINS), str(EXAMPLE_PLUGIN) if EXAMPLE_PLUGIN.exists() else str(ROOT / "core"))
    _pytest(session, "tests", str(EXAMPLE_PLUGIN / "tests") if EXAMPLE_PLUGIN.exists() else "tests", coverage=True)


@nox.session
def core(session: nox.Session) -> None:
    """Core alone: discovery finds nothing and core's tests pass."""
    session.install(*TEST_DEPS)
    session.install(*_paths())
    session.run("python", "-c", "import modalax; assert modalax.list_modalities() == [], modalax.list_modalities()")
    _pytest(session, "tests/core")


def _plugin_session(name: str) -> None:
    @nox.session(name=name)
    def run(session: nox.Session) -> None:
        needs = [*PLUGIN_NEEDS.get(name, []), name]
        session.install(*TEST_DEPS, *(d for p in needs for d in PLUGIN_TEST_DEPS[p]))
        session.install(*_paths(*needs))
        expected = sorted(needs)
        session.run(
            "python",
            "-c",
            f"import modalax; got = modalax.list_modalities(); assert got == {expected!r}, got; print(got)",
            env=_test_env(),
        )
        _pytest(session, f"tests/{name}")

    run.__doc__ = f"Core plus the {name} plugin only (and what it depends on)."


for _plugin in PLUGINS:
    _plugin_session(_plugin)


@nox.session
def torch(session: nox.Session) -> None:
    """The tests marked `torch`: folder listings, tuple datasets and tensors checked against real torch
    and torchvision (too heavy for the other sessions, where these tests skip)."""
    session.install(*TEST_DEPS, *TORCH_TEST_DEPS, "grain==0.2.18", "datasets>=2.19", "soundfile>=0.12")
    session.install(*_paths("image", "audio"))
    session.run("pytest", "-n", TEST_PROCESSES, "-m", "torch", *(session.posargs or ["tests/core"]), env=_test_env())


# Remote storage: fsspec with its HTTP, S3 (s3fs) and a local S3 server (moto's server mode).
REMOTE_TEST_DEPS = [
    "fsspec[http]>=2024.2",
    "s3fs>=2024.2",
    "moto[server]>=5.0",
    "array_record>=0.5",
    "orbax-checkpoint>=0.6",
]
# Packing on Apache Beam (about 20 s to install into a fresh environment from the package index).
BEAM_TEST_DEPS = ["apache-beam>=2.60", "array_record>=0.5"]


@nox.session
def remote(session: nox.Session) -> None:
    """Remote paths for real: fsspec's memory filesystem, a local http.server and moto's S3 server (loopback)."""
    session.install(*TEST_DEPS, *REMOTE_TEST_DEPS)
    session.install(*_paths("image", "text"))
    _pytest(
        session,
        "tests/core/test_core_remote.py",
        "tests/core/test_core_remote_http.py",
        "tests/core/test_core_remote_s3.py",
    )


@nox.session
def beam(session: nox.Session) -> None:
    """`pack(..., runner="beam")` on the DirectRunner with 2 worker processes, against the single-process pack."""
    session.install(*TEST_DEPS, *BEAM_TEST_DEPS)
    session.install(*_paths("image"))
    _pytest(session, "tests/core/test_core_beam.py")


@nox.session
def example_plugin(session: nox.Session) -> None:
    """The third-party plugin template, installed beside core only."""
    session.install(*TEST_DEPS)
    session.install(*_paths(), str(EXAMPLE_PLUGIN))
    _pytest(session, str(EXAMPLE_PLUGIN / "tests"))


@nox.session
def new_plugin(session: nox.Session) -> None:
    """`modalax new-plugin` output (records of shape (points, xyz)), installed beside core only, passes its own
    tests and the conformance kit (`nox -s tests` installs one beside the official plugins and pairs it with image)."""
    import tempfile

    session.install(*TEST_DEPS)
    session.install(*_paths())
    out = Path(tempfile.mkdtemp(prefix="modalax-new-plugin-")) / "modalax-ci-demo"
    session.run("modalax", "new-plugin", "ci_demo", "--shape", "points=16,xyz=3", "--out", str(out))
    session.install(str(out))
    session.run(
        "python",
        "-c",
        "import modalax; got = modalax.list_modalities(); assert got == ['ci_demo'], got",
        env=_test_env(),
    )
    session.chdir(str(out))
    session.run("pytest", "tests", "-q", env=_test_env())


@nox.session
def build(session: nox.Session) -> None:
    """Build a wheel of every package, install the wheels in a fresh env, check discovery."""
    session.install("build")
    dist = ROOT / "dist"
    session.run("rm", "-rf", str(dist), external=True)
    for path in _paths(*PLUGINS):
        session.run("python", "-m", "build", "--wheel", "--outdir", str(dist), path)
    session.run("python", "-m", "venv", "--clear", str(ROOT / ".nox" / "wheel-check"), external=True)
    py = str(ROOT / ".nox" / "wheel-check" / "bin" / "python")
    wheels = sorted(str(p) for p in dist.glob("*.whl"))
    session.run(py, "-m", "pip", "install", "--quiet", *wheels, external=True)
    session.run(
        py,
        "-c",
        f"import modalax; got = modalax.list_modalities(); assert got == {sorted(PLUGINS) if PLUGINS else []!r}, got; "
        "print('wheels ok:', got)",
        external=True,
        env=_test_env(),
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and format check."""
    session.install("ruff==0.17.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def imports(session: nox.Session) -> None:
    """The import contracts of pyproject.toml (import-linter): core imports no plugin, plugins import
    only core's public surface and never each other."""
    session.install("import-linter>=2.1")
    session.install(*_paths(*PLUGINS), *([str(EXAMPLE_PLUGIN)] if EXAMPLE_PLUGIN.exists() else []))
    session.run("lint-imports")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over core, every plugin and the example plugin (configured in pyproject.toml)."""
    # The libraries the sources import for their types (tqdm, soundfile, orbax... have none: see [tool.mypy]).
    session.install("mypy==2.4.1", "pillow>=10", "matplotlib>=3.8", "pytest>=8")
    roots = [Path(p) for p in _paths(*PLUGINS)] + ([EXAMPLE_PLUGIN] if EXAMPLE_PLUGIN.exists() else [])
    session.install(*(str(r) for r in roots))
    sources = [str(init.parent) for root in roots for init in sorted((root / "src").glob("*/__init__.py"))]
    session.run("mypy", *session.posargs, *sources)


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: `modalax demo` with every plugin installed."""
    fresh = _first_install(session, "core, the four plugins, jax, flax, Pillow and matplotlib (about 900 MB)")
    session.install(*_paths(*PLUGINS), "tqdm>=4.66", "pillow>=10", "matplotlib>=3.8", silent=not fresh)
    session.run("modalax", "demo", *session.posargs, env={"MODALAX_STRICT_PLUGINS": "1"})


@nox.session
def docs(session: nox.Session) -> None:
    """Every docs page's Python blocks, each page in a venv made only from its own install line.

    A page gives one line (`**Install** ...: `python -m pip install ./core ...``, see
    tests/docs/doc_pages.py); pages with the same line share one venv under .nox/docs-pages/,
    kept between runs. Every line starts with `./core`, so core and its dependencies (jax, flax:
    most of the 800 MB of a venv) are installed once, in .nox/docs-pages/base, and each page's
    venv sees them through a `.pth` file and installs only the rest of its line: ten lines cost
    one jax. The checkout's packages are built into wheels once per run (a build from a source
    folder costs seconds each time a venv installs it). `nox -s docs -- docs/training.md` runs
    some pages only.
    """
    import hashlib
    import json

    pages = ROOT / "tests" / "docs" / "doc_pages.py"
    groups: dict[str, list[str]] = json.loads(
        session.run("python", str(pages), "lines", silent=True, external=True) or "{}"
    )
    wanted = set(session.posargs)
    home = ROOT / ".nox" / "docs-pages"
    local = {
        r for line in groups for r in shlex.split(line.removeprefix("python -m pip install ")) if r.startswith("./")
    }
    wheels = _local_wheels(session, home / "wheels", sorted(local | {"./core"}))
    base = _docs_venv(session, home / "base", [wheels["./core"]])
    failed: list[str] = []
    for line, members in sorted(groups.items()):
        members = [m for m in members if not wanted or m in wanted]
        if not members:
            continue
        reqs = shlex.split(line.removeprefix("python -m pip install "))
        assert reqs[0] == "./core", f"{members}: the install line must start with ./core: {line}"
        rest = [wheels.get(r, r) for r in reqs[1:]]
        venv = home / hashlib.sha256(line.encode()).hexdigest()[:12]
        session.log(f"{line}  ->  {', '.join(members)}")
        python = (_docs_venv(session, venv, rest, base) if rest else base) / "bin" / "python"
        try:
            session.run(str(python), str(pages), "run", *members, external=True, env=_test_env())
        except nox.command.CommandFailed:
            failed += members  # the other lines still run: one report names every failing page
    if not wanted:  # venvs of install lines no page gives any more
        current = {hashlib.sha256(line.encode()).hexdigest()[:12] for line in groups} | {"base"}
        for stale in sorted(p for p in home.iterdir() if p.is_dir() and p.name not in current):
            shutil.rmtree(stale)
    if failed:
        session.error(f"docs pages failed in a venv made from their own install line: {', '.join(failed)}")


def _local_wheels(session: nox.Session, folder: Path, paths: list[str]) -> dict[str, str]:
    """``./path`` -> the wheel built from it now (into ``folder``, emptied first)."""
    import tomllib

    shutil.rmtree(folder, ignore_errors=True)
    session.run(
        "python", "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(folder), *(str(ROOT / p) for p in paths)
    )
    out = {}
    for path in paths:
        name = tomllib.loads((ROOT / path / "pyproject.toml").read_text())["project"]["name"].replace("-", "_")
        [wheel] = folder.glob(f"{name}-*.whl")
        out[path] = str(wheel)
    return out


def _docs_venv(session: nox.Session, venv: Path, requirements: list[str], base: Path | None = None) -> Path:
    """The venv at ``venv`` (created on first use) with ``requirements`` installed, seeing ``base``'s packages.

    Wheels of the checkout are reinstalled every run (their version stays while their code changes).
    """
    python = venv / "bin" / "python"
    if not python.exists():
        session.run("python", "-m", "venv", str(venv), silent=True)
        if base is not None:  # base's site-packages after this venv's own, as a .pth file adds them
            (Path(_site_packages(session, venv)) / "modalax-docs-base.pth").write_text(_site_packages(session, base))
    session.run(str(python), "-m", "pip", "install", "--quiet", *requirements, external=True)
    ours = [r for r in requirements if r.endswith(".whl")]
    if ours:
        session.run(
            str(python), "-m", "pip", "install", "--quiet", "--force-reinstall", "--no-deps", *ours, external=True
        )
    return venv


def _site_packages(session: nox.Session, venv: Path) -> str:
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return str(session.run(str(venv / "bin" / "python"), "-c", code, silent=True, external=True)).strip()


@nox.session
def bench(session: nox.Session) -> None:
    """Every benchmark against its peers; writes docs/benchmarks.md."""
    session.install(*BENCH_DEPS)
    session.install(*TORCH_CPU)
    session.install(*_paths(*PLUGINS))
    session.run("python", "benchmarks/run_all.py", *session.posargs, env={"PYTHONHASHSEED": "0"})
