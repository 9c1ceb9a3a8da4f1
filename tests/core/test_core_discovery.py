"""Discovery through real importlib.metadata: healthy, broken, conflicting plugins."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import modalax
from modalax import ConfigError, PluginError
from modalax.testing import discovering_registry, write_fake_distribution

from .conftest import healthy_source


def test_healthy_plugin_is_listed_with_distribution_and_version(healthy_dist: Path, no_strict: None) -> None:
    with discovering_registry(healthy_dist):
        assert modalax.list_modalities() == ["toy"]
        [info] = modalax.list_plugins()
        assert (info.id, info.distribution, info.version, info.status) == ("toy", "toy-plugin", "1.2.3", "loaded")
        assert info.registered == {"modalities": ["toy"], "datasets": ["toy/counting"], "kernels": ["toy.double"]}
        assert modalax.get_modality("toy").name == "toy"
        assert modalax.create_dataset("toy", "counting", size=4) == [0, 1, 2, 3]


def test_kernel_is_jitted_once_and_computes(healthy_dist: Path, no_strict: None) -> None:
    import jax
    import jax.numpy as jnp

    with discovering_registry(healthy_dist):
        fn = modalax.get_kernel("toy.double")
        assert fn is modalax.get_kernel("toy.double")
        assert isinstance(fn, type(jax.jit(lambda x: x)))
        assert jnp.array_equal(fn(jnp.arange(3)), jnp.array([0, 2, 4]))
        assert modalax.list_kernels() == ["toy.double"]


def test_import_error_plugin_is_recorded_and_others_load(healthy_dist: Path, tmp_path: Path, no_strict: None) -> None:
    broken = write_fake_distribution(
        tmp_path / "broken",
        "broken-plugin",
        version="0.0.1",
        entry_points={"broken": "broken_hooks"},
        modules={"broken_hooks": "import not_a_real_module_xyz\n"},
    )
    with discovering_registry(healthy_dist, broken):
        with pytest.warns(RuntimeWarning, match=r"'broken' \(broken-plugin 0.0.1\).*not_a_real_module_xyz") as caught:
            assert modalax.list_modalities() == ["toy"]
        assert [Path(w.filename).name for w in caught] == [Path(__file__).name]  # points at the query, not modalax
        info = {p.id: p for p in modalax.list_plugins()}
        assert info["broken"].status == "failed"
        assert "ModuleNotFoundError" in info["broken"].error
        assert isinstance(info["broken"].exception, ImportError)
        assert info["toy"].status == "loaded"


def test_hook_that_raises_registers_nothing(healthy_dist: Path, tmp_path: Path, no_strict: None) -> None:
    source = """
import modalax
from modalax import ModalityRecord
MODALAX_PLUGIN_API = "1.0"
@modalax.hookimpl
def register_modalities(register):
    register(ModalityRecord("half", "x:y"))
    raise RuntimeError("boom in hook")
"""
    bad = write_fake_distribution(
        tmp_path / "bad", "bad-hook", entry_points={"bad": "bad_hooks"}, modules={"bad_hooks": source}
    )
    with discovering_registry(healthy_dist, bad):
        with pytest.warns(RuntimeWarning, match="boom in hook"):
            assert modalax.list_modalities() == ["toy"]  # "half" was rolled back
        bad_info = next(p for p in modalax.list_plugins() if p.id == "bad")
        assert bad_info.status == "failed" and "RuntimeError: boom in hook" in bad_info.error


def test_two_plugins_same_modality_name_error_names_both(tmp_path: Path, no_strict: None) -> None:
    one = write_fake_distribution(
        tmp_path / "one",
        "first-dist",
        entry_points={"first": "first_hooks"},
        modules={"first_hooks": healthy_source("first_hooks")},
    )
    two = write_fake_distribution(
        tmp_path / "two",
        "second-dist",
        entry_points={"second": "second_hooks"},
        modules={"second_hooks": healthy_source("second_hooks")},
    )
    with discovering_registry(one, two):
        with pytest.warns(RuntimeWarning, match="first-dist.*second-dist"):
            assert modalax.list_modalities() == []
        with pytest.raises(
            PluginError,
            match=r"'toy' is registered by several distributions: 'first-dist', "
            r"'second-dist'",
        ):
            modalax.get_modality("toy")


def test_strict_mode_raises_naming_the_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = write_fake_distribution(
        tmp_path / "b",
        "broken-plugin",
        entry_points={"broken": "broken2_hooks"},
        modules={"broken2_hooks": "raise ImportError('missing native lib')\n"},
    )
    monkeypatch.setenv("MODALAX_STRICT_PLUGINS", "1")
    with discovering_registry(broken), pytest.raises(PluginError, match=r"'broken'.*missing native lib"):
        modalax.list_modalities()


def test_disable_and_load_env_vars(
    healthy_dist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_strict: None
) -> None:
    other = write_fake_distribution(
        tmp_path / "o",
        "other-dist",
        entry_points={"other": "other_hooks"},
        modules={"other_hooks": healthy_source("other_hooks").replace('"toy', '"oth')},
    )
    monkeypatch.setenv("MODALAX_DISABLE_PLUGINS", "toy")
    with discovering_registry(healthy_dist, other):
        assert modalax.list_modalities() == ["oth"]
        assert {p.id: p.status for p in modalax.list_plugins()} == {"toy": "disabled", "other": "loaded"}
    monkeypatch.delenv("MODALAX_DISABLE_PLUGINS")
    monkeypatch.setenv("MODALAX_LOAD_PLUGINS", " toy , ")
    with discovering_registry(healthy_dist, other):
        assert modalax.list_modalities() == ["toy"]
        assert {p.id: p.status for p in modalax.list_plugins()} == {"toy": "loaded", "other": "disabled"}


def test_discovery_is_lazy(healthy_dist: Path, no_strict: None) -> None:
    with discovering_registry(healthy_dist) as reg:
        assert "toy_plugin_hooks" not in sys.modules
        assert reg.plugins == {}
        modalax.list_modalities()
        assert "toy_plugin_hooks" in sys.modules


def test_runtime_registration_conflicts_are_errors(isolated_registry: object) -> None:
    class Mod:
        name = "rt"

    modalax.register_modality("rt", Mod)
    assert modalax.list_modalities() == ["rt"]
    with pytest.raises(PluginError, match=r"'rt' is already registered by '<runtime>'.*override=True"):
        modalax.register_modality("rt", Mod)
    modalax.register_modality("rt", Mod, override=True)
    assert modalax.get_modality("rt") is Mod


def test_unknown_names_list_choices_and_closest_match(isolated_registry: object) -> None:
    class Mod:
        name = "image"

    modalax.register_modality("image", Mod)
    with pytest.raises(ConfigError, match=r"unknown modality 'imgae'; available: image; did you mean 'image'\?"):
        modalax.get_modality("imgae")
    with pytest.raises(ConfigError, match=r"unknown kernel 'image.blur'; available: \(none\)"):
        modalax.get_kernel("image.blur")
    with pytest.raises(ConfigError, match=r"unknown image dataset type 'synthetic'"):
        modalax.create_dataset("image", "synthetic")


def test_bad_records_are_rejected_with_field_and_value() -> None:
    from modalax.plugin import KernelRecord, ModalityRecord, resolve

    with pytest.raises(ConfigError, match=r"kernel name: got 'mel', expected a qualified name"):
        KernelRecord("mel", "x:y")
    with pytest.raises(ConfigError, match=r"modality name: got 'Image!'"):
        ModalityRecord("Image!", "x:y")
    with pytest.raises(ConfigError, match=r"factory: got 'nocolon', expected 'package.module:attribute'"):
        resolve("nocolon")
    with pytest.raises(PluginError, match=r"'json' has no attribute 'nope'"):
        resolve("json:nope")


def test_hook_registering_wrong_record_type_fails_that_plugin(tmp_path: Path, no_strict: None) -> None:
    source = """
import modalax
from modalax import KernelRecord
MODALAX_PLUGIN_API = "1.0"
@modalax.hookimpl
def register_modalities(register):
    register(KernelRecord("a.b", "x:y"))
"""
    d = write_fake_distribution(
        tmp_path / "w", "wrong-rec", entry_points={"wrong": "wrong_hooks"}, modules={"wrong_hooks": source}
    )
    warning = r"register_modalities: register\(\) got KernelRecord, expected ModalityRecord"
    with discovering_registry(d), pytest.warns(RuntimeWarning, match=warning):
        modalax.list_plugins()
