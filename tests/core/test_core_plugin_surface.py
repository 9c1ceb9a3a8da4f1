"""The plugin surface: plugin-API versions, owned names, deprecated aliases, a light ``modalax.plugin``."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

import modalax
import modalax.plugin
from modalax import PluginError
from modalax.testing import discovering_registry, write_fake_distribution

from .conftest import healthy_source

# A plugin that registers ``records`` (Python source of the record expressions) under ``api``.
PLUGIN = """
from modalax.plugin import hookimpl, ModalityRecord, DatasetRecord, KernelRecord, OperatorRecord, CommandRecord
{declaration}

class M:
    name = "m"
    def get_extensions(self, config, *, rngs):
        return {{}}
    def get_adapter(self, model_cls):
        return None

def factory(**kwargs):
    return [1, 2, 3]

def run(args):
    return 0

@hookimpl
def register_modalities(register):
    for record in [{modalities}]:
        register(record)

@hookimpl
def register_datasets(register):
    for record in [{datasets}]:
        register(record)

@hookimpl
def register_kernels(register):
    for record in [{kernels}]:
        register(record)

@hookimpl
def register_commands(register):
    for record in [{commands}]:
        register(record)
"""


def plugin_dist(
    root: Path,
    dist: str,
    plugin_id: str,
    *,
    api: str | None = '"1.0"',
    modalities: str = "",
    datasets: str = "",
    kernels: str = "",
    commands: str = "",
) -> Path:
    """A fake distribution ``dist`` whose hook module registers the given record expressions."""
    module = f"{plugin_id}_hooks"
    me = f"{module}:M"
    source = PLUGIN.format(
        declaration="" if api is None else f"MODALAX_PLUGIN_API = {api}",
        modalities=modalities.replace("{me}", me),
        datasets=datasets.replace("{me}", f"{module}:factory"),
        kernels=kernels.replace("{me}", f"{module}:factory"),
        commands=commands.replace("{me}", f"{module}:run"),
    )
    return write_fake_distribution(
        root / dist, dist, entry_points={plugin_id: module}, modules={module: source}, version="1.0.0"
    )


def infos() -> dict[str, Any]:
    return {p.id: p for p in modalax.list_plugins()}


# --------------------------------------------------------------------------- plugin-API versions
@pytest.mark.parametrize(
    ("declared", "status", "reason"),
    [
        ('"1.0"', "loaded", None),
        (None, "loaded", "declares no plugin-API version"),
        ('"2.0"', "incompatible", "built for plugin API 2.0 but this modalax provides 1.0"),
        ('"0.9"', "incompatible", "built for plugin API 0.9 but this modalax provides 1.0"),
        (
            '"1.7"',
            "incompatible",
            "needs plugin API 1.7 but this modalax provides 1.0; install a newer modalax "
            '(from its checkout: python -m pip install "./core")',
        ),
        ("1.0", "incompatible", "MODALAX_PLUGIN_API = 1.0; expected a 'major.minor' string"),
        ('"one"', "incompatible", "MODALAX_PLUGIN_API = 'one'; expected a 'major.minor' string"),
    ],
    ids=["current", "undeclared", "next-major", "old-major", "newer-minor", "float", "word"],
)
def test_plugin_api_version_decides_whether_a_plugin_loads(
    tmp_path: Path, no_strict: None, declared: str | None, status: str, reason: str | None
) -> None:
    dist = plugin_dist(tmp_path, "ver-dist", "ver", api=declared, modalities='ModalityRecord("ver", "{me}")')
    other = plugin_dist(tmp_path, "ok-dist", "ok", modalities='ModalityRecord("ok", "{me}")')
    with discovering_registry(dist, other), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = infos()
        assert found["ok"].status == "loaded"  # the others load whatever this one declares
        assert found["ver"].status == status
        assert modalax.list_modalities() == (["ok", "ver"] if status == "loaded" else ["ok"])
        text = " ".join(str(w.message) for w in caught)
        if reason is None:
            assert found["ver"].problems == [] and not caught
        else:
            assert reason in text and "'ver' (ver-dist 1.0.0)" in text
            where = found["ver"].error if status == "incompatible" else found["ver"].problems[0]
            assert reason in where


def test_incompatible_plugin_is_listed_as_such_and_strict_fails(tmp_path: Path, no_strict: None) -> None:
    dist = plugin_dist(tmp_path, "future-dist", "future", api='"2.1"', modalities='ModalityRecord("future", "{me}")')
    code, out, _ = _cli(["plugins"], dist)
    assert code == 0
    [row] = [line for line in out.splitlines() if line.startswith("future ")]
    assert "incompatible" in row and "built for plugin API 2.1" in row
    code, out, _ = _cli(["plugins", "--strict"], dist)
    assert code == 1 and "problems (1):" in out
    code, _, err = _cli(["plugins"], dist, strict_env=True)
    assert code == 2 and "built for plugin API 2.1 but this modalax provides 1.0" in err
    code, out, _ = _cli(["plugins", "--json"], dist)
    [record] = json.loads(out)
    assert (record["status"], record["api_version"]) == ("incompatible", "2.1")


def test_a_plugin_reads_the_version_it_declares_from_the_surface() -> None:
    assert modalax.plugin.API_VERSION == "1.0" and modalax.plugin.API_VERSION_INFO == (1, 0)
    assert modalax.plugin.DECLARATION == "MODALAX_PLUGIN_API"
    for name in ("image", "text", "audio", "multimodal"):
        hooks = pytest.importorskip(f"modalax_{name}.plugin")
        assert hooks.MODALAX_PLUGIN_API == modalax.plugin.API_VERSION


# ------------------------------------------------------------------------------- owned names
SQUATS = [
    # (plugin id, registrations, the problem's words)
    (
        "evil",
        {"modalities": 'ModalityRecord("image", "{me}")'},
        "modality 'image' is in namespace 'image', reserved for",
    ),
    ("evil", {"datasets": 'DatasetRecord("image", "imagenet", "{me}")'}, "dataset 'image/imagenet'"),
    ("evil", {"kernels": 'KernelRecord("audio.fast", "{me}")'}, "kernel 'audio.fast' is in namespace 'audio'"),
    ("evil", {"datasets": 'DatasetRecord("multimodal", "pairs", "{me}")'}, "reserved for 'modalax-multimodal'"),
    ("evil", {"kernels": 'KernelRecord("owned.x", "{me}")'}, "kernel 'owned.x' is in namespace 'owned', owned by"),
    ("evil", {"datasets": 'DatasetRecord("owned", "copy", "{me}")'}, "owned by 'owner-dist', but 'evil-dist'"),
    ("evil", {"datasets": 'DatasetRecord("nobody", "x", "{me}")'}, "namespace 'nobody', which no installed plugin"),
    ("evil", {"commands": 'CommandRecord("pack", "{me}")'}, "command 'pack' is a command of modalax itself"),
    ("evil", {"commands": 'CommandRecord("demo", "{me}")'}, "command 'demo' is reserved for 'modalax-multimodal'"),
]


@pytest.mark.parametrize(("plugin_id", "records", "words"), SQUATS, ids=[f"squat{i}" for i in range(len(SQUATS))])
def test_a_name_another_distribution_owns_is_not_registered_and_names_both(
    tmp_path: Path, no_strict: None, plugin_id: str, records: dict[str, str], words: str
) -> None:
    owner = plugin_dist(
        tmp_path,
        "owner-dist",
        "owner",
        modalities='ModalityRecord("owned", "{me}")',
        datasets='DatasetRecord("owned", "real", "{me}")',
    )
    evil = plugin_dist(tmp_path, f"{plugin_id}-dist", plugin_id, **records)
    with discovering_registry(owner, evil):
        with pytest.warns(RuntimeWarning, match="evil-dist") as caught:
            found = infos()
        message = str(caught[0].message)
        assert words in message and "'evil-dist'" in message
        assert found["evil"].status == "loaded" and found["evil"].problems == [message.split(": ", 1)[1]]
        assert found["evil"].registered == {}
        assert "owned/real" in modalax.list_datasets()  # the owner keeps its names
        assert all(not name.startswith("image") for name in modalax.list_datasets())
    code, out, _ = _cli(["plugins", "--strict"], owner, evil)
    flat = " ".join(out.split())  # the problems are wrapped to the terminal's width
    assert code == 1 and "evil-dist" in out and words.split("'")[0] in flat


def test_squatting_fails_strict_mode_naming_both_distributions(tmp_path: Path) -> None:
    evil = plugin_dist(tmp_path, "image-pirate", "pirate", modalities='ModalityRecord("image", "{me}")')
    code, _, err = _cli(["plugins"], evil, strict_env=True)
    assert code == 2
    assert "reserved for 'modalax-image', but 'image-pirate' registers it" in err


@pytest.mark.parametrize(
    "records",
    [
        {"datasets": 'DatasetRecord("owned", "addon_extra", "{me}")'},
        {"kernels": 'KernelRecord("image.addon_blur", "{me}")'},
        {"kernels": 'KernelRecord("addon.helper", "{me}")'},
        {"modalities": 'ModalityRecord("second", "{me}")', "datasets": 'DatasetRecord("second", "x", "{me}")'},
    ],
    ids=["prefixed-in-owned", "prefixed-in-reserved", "own-plugin-id", "own-modality"],
)
def test_add_ons_use_their_own_prefix_and_own_namespaces(
    tmp_path: Path, no_strict: None, records: dict[str, str]
) -> None:
    owner = plugin_dist(tmp_path, "owner-dist", "owner", modalities='ModalityRecord("owned", "{me}")')
    addon = plugin_dist(tmp_path, "addon-dist", "addon", **records)
    with discovering_registry(owner, addon), warnings.catch_warnings():
        warnings.simplefilter("error")
        found = infos()
        assert found["addon"].problems == [] and found["addon"].registered


def test_two_distributions_claiming_one_modality_both_lose_it_and_both_are_told(
    tmp_path: Path, no_strict: None
) -> None:
    one = plugin_dist(tmp_path, "one-dist", "one", modalities='ModalityRecord("shared", "{me}")')
    two = plugin_dist(tmp_path, "two-dist", "two", modalities='ModalityRecord("shared", "{me}")')
    with discovering_registry(one, two):
        with pytest.warns(RuntimeWarning, match="registered by both 'one-dist' and 'two-dist'"):
            found = infos()
        assert found["one"].problems == found["two"].problems != []
        with pytest.raises(PluginError, match=r"one-dist.*two-dist"):
            modalax.get_modality("shared")


def test_runtime_registration_is_the_users_own(isolated_registry: Any) -> None:
    modalax.register_modality("image", type("Mine", (), {"name": "image"}))
    assert modalax.get_modality("image").__name__ == "Mine"


# ------------------------------------------------------------------------ deprecated aliases
def test_old_module_paths_are_the_same_modules_with_one_warning() -> None:
    code = (
        "import warnings, sys\n"
        "warnings.simplefilter('always')\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    from modalax.errors import DataError\n"
        "    import modalax.loader.workers as workers\n"
        "    import modalax.errors\n"
        "import modalax, modalax._src.errors, modalax._src.loader.workers as real\n"
        "assert DataError is modalax.DataError\n"
        "assert workers is real and workers.__spec__.name == 'modalax._src.loader.workers'\n"
        "assert not hasattr(modalax._src.errors, '__path__')\n"
        "names = sorted(str(w.message).split()[0] for w in caught)\n"
        "assert names == ['modalax.errors', 'modalax.loader', 'modalax.loader.workers'], names\n"
        "assert all(w.category is DeprecationWarning and w.filename == '<string>' for w in caught)\n"
        "print('ok')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout == "ok\n", res.stderr


@pytest.mark.parametrize(
    ("old", "canonical"), [("ConfigMixin", "modalax.plugin.ConfigMixin"), ("SequenceSource", "modalax.as_source")]
)
def test_duplicate_top_level_names_warn_once_and_still_work(old: str, canonical: str) -> None:
    modalax.__dict__.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"modalax.{old} is deprecated; use {canonical}"):
        value = getattr(modalax, old)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert getattr(modalax, old) is value


def test_every_public_name_resolves_and_private_modules_are_not_listed() -> None:
    for module in (modalax, modalax.plugin):
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"
    assert not any(name.startswith("_") for name in modalax.__all__ + modalax.plugin.__all__)


def test_modalax_plugin_imports_no_jax() -> None:
    code = "import sys, modalax.plugin; assert 'jax' not in sys.modules and 'numpy' not in sys.modules; print('ok')"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.stdout == "ok\n", res.stderr


# ----------------------------------------------------------------------------------- helpers
def _cli(args: list[str], *paths: Path, strict_env: bool = False) -> tuple[int, str, str]:
    """``modalax ARGS`` in a subprocess that discovers only the distributions in ``paths``."""
    code = (
        "import sys; from modalax.testing import discovering_registry; from modalax._src.cli import main\n"
        f"with discovering_registry(*{[str(p) for p in paths]!r}):\n"
        f"    rc = main({args!r})\n"
        "sys.exit(rc)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("MODALAX_")}
    if strict_env:
        env["MODALAX_STRICT_PLUGINS"] = "1"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    return res.returncode, res.stdout, res.stderr


def test_healthy_fake_plugin_declares_the_current_api() -> None:
    assert 'MODALAX_PLUGIN_API = "1.0"' in healthy_source("x")
