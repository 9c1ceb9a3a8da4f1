"""Fault injection for plugin discovery: every broken plugin is a failed plugin, never the end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import modalax
from modalax import ConfigError, ModalaxError, PluginError, UnknownNameError
from modalax.testing import discovering_registry, write_fake_distribution

from .conftest import healthy_source

HOOKIMPL = (
    "import modalax\nfrom modalax.plugin import ModalityRecord\nMODALAX_PLUGIN_API = '1.0'\n"
    "class M:\n    name = 'bad'\n"
)

# (hook-module source or None for a malformed entry point, entry-point value, error regex)
FAULTS = {
    "sys_exit_at_import": ("import sys\nsys.exit(3)\n", None, r"import of 'bad_hooks' failed: SystemExit: 3"),
    "system_exit_message": ("raise SystemExit('bye')\n", None, r"SystemExit: bye"),
    "generator_exit": ("raise GeneratorExit()\n", None, r"failed: GeneratorExit"),
    "custom_base_exception": (
        "class Boom(BaseException):\n    pass\nraise Boom('custom base')\n",
        None,
        r"Boom: custom base",
    ),
    "sys_exit_in_hook": (
        HOOKIMPL + "@modalax.hookimpl\ndef register_modalities(register):\n    import sys\n    sys.exit(4)\n",
        None,
        r"hook failed: SystemExit: 4",
    ),
    "misspelled_hook": (
        HOOKIMPL + "@modalax.hookimpl\ndef register_modalitys(register):\n    register(ModalityRecord('bad', M))\n",
        None,
        r"unknown hook 'register_modalitys' \(did you mean 'register_modalities'\?\)",
    ),
    "unmarked_hook": (
        HOOKIMPL + "def register_modalities(register):\n    register(ModalityRecord('bad', M))\n",
        None,
        r"register_modalities defined without the @modalax.hookimpl marker",
    ),
    "no_hooks": (
        "MODALAX_PLUGIN_API = '1.0'\n",
        None,
        r"declares no modalax hook.*does the entry point name the hook module",
    ),
    "malformed_entry_point": (None, "bad hooks!", r"entry point 'bad' = 'bad hooks!'.*malformed value"),
    "missing_attribute": ("X = 1\n", "bad_hooks:nope", r"import of 'bad_hooks:nope' failed: AttributeError"),
    "wrong_record_type": (
        "import modalax\nfrom modalax.plugin import KernelRecord\nMODALAX_PLUGIN_API = '1.0'\n"
        "@modalax.hookimpl\ndef register_modalities(register):\n    register(KernelRecord('a.b', 'x:y'))\n",
        None,
        r"register\(\) got KernelRecord, expected ModalityRecord",
    ),
}


def _bad_dist(tmp_path: Path, source: str | None, value: str | None) -> Path:
    modules = {"bad_hooks": source} if source is not None else {}
    return write_fake_distribution(
        tmp_path / "bad", "bad-plugin", version="0.0.9", entry_points={"bad": value or "bad_hooks"}, modules=modules
    )


@pytest.mark.parametrize("case", sorted(FAULTS))
def test_fault_is_a_failed_plugin_and_others_load(
    case: str, healthy_dist: Path, tmp_path: Path, no_strict: None
) -> None:
    source, value, error = FAULTS[case]
    bad = _bad_dist(tmp_path, source, value)
    with discovering_registry(healthy_dist, bad):
        with pytest.warns(RuntimeWarning, match=r"'bad' \(bad-plugin 0.0.9\) failed: .*" + error):
            assert modalax.list_modalities() == ["toy"]
        assert modalax.list_modalities() == ["toy"]  # later queries see the same registry
        info = {p.id: p for p in modalax.list_plugins()}
        assert info["bad"].status == "failed" and info["bad"].registered == {}
        assert re.search(error, info["bad"].error)
        assert info["toy"].status == "loaded"
        assert modalax.create_dataset("toy", "counting", size=2) == [0, 1]


@pytest.mark.parametrize("case", ["sys_exit_at_import", "misspelled_hook", "malformed_entry_point"])
def test_strict_mode_raises_on_every_query(
    case: str, healthy_dist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, value, error = FAULTS[case]
    bad = _bad_dist(tmp_path, source, value)
    monkeypatch.setenv("MODALAX_STRICT_PLUGINS", "1")
    with discovering_registry(healthy_dist, bad):
        for query in (modalax.list_modalities, modalax.list_plugins, lambda: modalax.get_modality("toy")):
            with pytest.raises(PluginError, match=r"'bad'.*" + error + r".*MODALAX_STRICT_PLUGINS is set"):
                query()


def test_keyboard_interrupt_propagates_and_the_next_query_retries(
    healthy_dist: Path, tmp_path: Path, no_strict: None
) -> None:
    flag = tmp_path / "interrupt-once"
    flag.touch()
    source = (
        f"import os\nif os.path.exists({str(flag)!r}):\n    os.remove({str(flag)!r})\n    raise KeyboardInterrupt\n"
    )
    source += healthy_source("ki_hooks").replace('"toy', '"ki')
    ki = write_fake_distribution(
        tmp_path / "ki", "ki-plugin", entry_points={"ki": "ki_hooks"}, modules={"ki_hooks": source}
    )
    with discovering_registry(healthy_dist, ki) as reg:
        with pytest.raises(KeyboardInterrupt):
            modalax.list_modalities()
        assert reg.plugins == {} and reg.keys.__self__ is reg  # nothing installed
        assert not reg._discovered
        assert modalax.list_modalities() == ["ki", "toy"]
        assert {p.id: p.status for p in modalax.list_plugins()} == {"ki": "loaded", "toy": "loaded"}


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_strict_truthy_values(value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = _bad_dist(tmp_path, "raise ImportError('gone')\n", None)
    monkeypatch.setenv("MODALAX_STRICT_PLUGINS", value)
    with discovering_registry(bad), pytest.raises(PluginError, match="gone"):
        modalax.list_modalities()


@pytest.mark.parametrize("value", ["0", "false", "No", "off", "", "  "])
def test_strict_falsy_values_warn(value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = _bad_dist(tmp_path, "raise ImportError('gone')\n", None)
    monkeypatch.setenv("MODALAX_STRICT_PLUGINS", value)
    with discovering_registry(bad), pytest.warns(RuntimeWarning, match="gone"):
        assert modalax.list_modalities() == []


@pytest.mark.parametrize("value", ["2", "maybe", "tru", "1,0"])
def test_strict_unknown_value_is_a_config_error(
    value: str, healthy_dist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODALAX_STRICT_PLUGINS", value)
    with discovering_registry(healthy_dist):
        for _ in range(2):
            with pytest.raises(ConfigError, match=rf"MODALAX_STRICT_PLUGINS: got {value!r}, expected one of 1, true"):
                modalax.list_modalities()


@pytest.mark.parametrize(
    ("variable", "value", "loaded"),
    [("MODALAX_DISABLE_PLUGINS", "tyo", ["toy"]), ("MODALAX_LOAD_PLUGINS", "tyo", [])],
)
def test_unknown_plugin_ids_in_env_warn_with_did_you_mean(
    variable: str, value: str, loaded: list[str], healthy_dist: Path, monkeypatch: pytest.MonkeyPatch, no_strict: None
) -> None:
    monkeypatch.setenv(variable, value)
    message = rf"{variable}: unknown plugin id 'tyo'; installed plugins: toy; did you mean 'toy'\?"
    with discovering_registry(healthy_dist), pytest.warns(RuntimeWarning, match=message):
        assert modalax.list_modalities() == loaded
    monkeypatch.setenv("MODALAX_STRICT_PLUGINS", "1")
    with discovering_registry(healthy_dist), pytest.raises(PluginError, match=message) as caught:
        modalax.list_modalities()
    assert isinstance(caught.value.__cause__, ConfigError)


def test_conflict_warning_uses_singular_words(tmp_path: Path, no_strict: None) -> None:
    dists = [
        write_fake_distribution(
            tmp_path / n,
            f"{n}-dist",
            entry_points={n: f"{n}_hooks"},
            modules={f"{n}_hooks": healthy_source(f"{n}_hooks")},
        )
        for n in ("one", "two")
    ]
    with discovering_registry(*dists), pytest.warns(RuntimeWarning) as caught:
        modalax.list_modalities()
    text = " | ".join(str(w.message) for w in caught)
    assert "modality 'toy' is registered by both 'one-dist' and 'two-dist'" in text
    assert "dataset 'toy/counting'" in text and "kernel 'toy.double'" in text
    assert "modalitie " not in text


LOOKUPS = {
    "get_modality": (lambda: modalax.get_modality("tyo"), r"unknown modality 'tyo'.*did you mean 'toy'"),
    "get_modality_record": (
        lambda: modalax._src.registry.get_modality_record("tyo"),
        r"unknown modality 'tyo'.*did you mean 'toy'",
    ),
    "get_kernel": (lambda: modalax.get_kernel("toy.duble"), r"unknown kernel 'toy.duble'.*did you mean 'toy.double'"),
    "get_kernel_record": (lambda: modalax._src.registry.get_kernel_record("toy.duble"), r"unknown kernel 'toy.duble'"),
    "create_dataset": (
        lambda: modalax.create_dataset("toy", "countng"),
        r"unknown toy dataset type 'countng'.*did you mean 'counting'",
    ),
    "dataset_of_unknown_modality": (
        lambda: modalax.create_dataset("video", "synthetic"),
        r"unknown modality 'video'; available: toy",
    ),
    "get_operator": (lambda: modalax.get_operator("toy", "flip"), r"unknown modality 'toy'|unknown toy operator"),
    "get_adapter": (lambda: modalax.get_adapter("tyo"), r"unknown modality 'tyo'.*did you mean 'toy'"),
    "owner_of": (lambda: modalax._src.registry.owner_of("modalities", ("tyo",)), r"unknown modality 'tyo'"),
    "non_string_name": (lambda: modalax.get_modality(["toy"]), r"modality: got \['toy'\] \(list\), expected a name"),
}


@pytest.mark.parametrize("case", sorted(LOOKUPS))
@pytest.mark.parametrize("catch", [KeyError, ModalaxError, ConfigError, UnknownNameError])
def test_unknown_names_are_key_errors_and_modalax_errors(
    case: str, catch: type[Exception], healthy_dist: Path, no_strict: None
) -> None:
    query, message = LOOKUPS[case]
    with discovering_registry(healthy_dist), pytest.raises(catch, match=message) as caught:
        query()
    assert str(caught.value) == caught.value.args[0]  # a sentence, not KeyError's quoted repr
