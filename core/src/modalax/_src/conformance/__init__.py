"""The conformance kit: every item a plugin registers, checked against the contract of its kind.

A plugin runs it from its own tests in one line::

    from modalax.testing import conformance_tests

    test_conformance = conformance_tests("image")   # one pytest item per check

or calls ``check_plugin("image")`` for a ``Report``. The checks (docs/plugin-authoring.md,
"Conformance", documents each): the plugin loaded with a compatible plugin-API version, owns
its names and has a light hook module; each modality's class, config (round trip, unknown and
bad fields are ``ConfigError``), protocol, decoder and pairing; each dataset type's factory
contract (config first, then the data; ``split``, ``seed``, ``rngs``; ``dataset_size`` for
generated data), its records, determinism within and across processes, pickling (worker
processes), a bad config, and one loader epoch; each operator's config class and a default
operator on real records, eagerly and in the loader's jitted step; each kernel's signature and,
with an example, batch independence; each adapter's contract; the previewer. Checks that do
not apply (no generated dataset to take a batch from, an operator whose config needs
arguments) are skipped with the reason. Cost: seconds per item; the cross-process check starts
one interpreter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from modalax._src import registry
from modalax._src.conformance.data import build, dataset_checks, generated, processes_check
from modalax._src.conformance.modality import adapter_checks, modality_checks, plugin_checks
from modalax._src.conformance.ops import kernel_checks, operator_checks, previewer_check
from modalax._src.conformance.report import Check, Report, Skip, run_check
from modalax._src.errors import ConfigError, unknown_name_message

__all__ = ["Check", "Report", "Skip", "assert_conforms", "check_plugin", "conformance_tests", "plan"]


def _info(plugin: str) -> Any:
    infos = {info.id: info for info in registry.list_plugins()}
    if plugin not in infos:
        raise ConfigError("conformance: " + unknown_name_message("plugin id", plugin, infos))
    return infos[plugin]


def plan(plugin: str, *, fresh_processes: bool = True) -> list[tuple[str, Callable[[], Any]]]:
    """``(check id, function)`` for every check of plugin ``plugin`` (its entry-point name).

    ``fresh_processes=False`` leaves out the two checks that start an interpreter (the light hook
    module, the same records in a fresh process): seconds each, for a quick run while developing.
    """
    info = _info(plugin)
    build.cache_clear()  # datasets of an earlier plan may come from other module objects
    reg = info.registered
    out = [(f"plugin:{plugin}/{rule}", fn) for rule, fn in plugin_checks(info, fresh_processes)]
    for name in reg.get("modalities", []):
        out += [(f"modality:{name}/{rule}", fn) for rule, fn in modality_checks(name)]
        out.append((f"modality:{name}/previewer", previewer_check(name)))
    pairs = []
    for item in reg.get("datasets", []):
        modality, dataset_type = item.split("/", 1)
        out += [(f"dataset:{item}/{rule}", fn) for rule, fn in dataset_checks(modality, dataset_type)]
        if generated(modality, dataset_type):
            pairs.append((modality, dataset_type))
    if fresh_processes:
        out.append((f"plugin:{plugin}/same-records-in-a-fresh-process", processes_check(pairs)))
    for item in reg.get("operators", []):
        modality, name = item.split("/", 1)
        out += [(f"operator:{item}/{rule}", fn) for rule, fn in operator_checks(modality, name)]
    for name in reg.get("kernels", []):
        out += [(f"kernel:{name}/{rule}", fn) for rule, fn in kernel_checks(name)]
    for item in reg.get("adapters", []):
        modality, family = item.split("/", 1)
        out += [(f"adapter:{item}/{rule}", fn) for rule, fn in adapter_checks(modality, family)]
    return out


def check_plugin(plugin: str, *, fresh_processes: bool = True) -> Report:
    """Run every check of plugin ``plugin``; a ``Report`` (never raises for a failed check)."""
    return Report(plugin, [run_check(check_id, fn) for check_id, fn in plan(plugin, fresh_processes=fresh_processes)])


def assert_conforms(plugin: str, *, fresh_processes: bool = True) -> Report:
    """``check_plugin``, raising ``AssertionError`` with the summary when any check failed."""
    report = check_plugin(plugin, fresh_processes=fresh_processes)
    if not report.ok:
        raise AssertionError(report.summary())
    return report


def conformance_tests(plugin: str, expected_failures: Mapping[str, str] | None = None) -> Callable[..., None]:
    """A pytest test function with one parametrised item per check of ``plugin``.

    ``test_conformance = conformance_tests("image")`` in a test module is the whole use. A
    skipped check is a pytest skip with its reason; a failure names the rule and the item.
    ``expected_failures`` maps check ids to the reason of a known defect: those checks are strict
    expected failures (they fail the run once the defect is fixed, so the entry gets removed).
    """
    import pytest

    checks = dict(plan(plugin))
    known = dict(expected_failures or {})
    unknown = sorted(set(known) - set(checks))
    if unknown:
        raise ConfigError(f"conformance_tests.expected_failures: no check {unknown[0]!r} for plugin {plugin!r}")
    params = [
        pytest.param(c, marks=pytest.mark.xfail(reason=known[c], strict=True)) if c in known else c for c in checks
    ]

    @pytest.mark.parametrize("check_id", params)
    def test_conformance(check_id: str) -> None:
        result: Check = run_check(check_id, checks[check_id])
        if result.skipped:
            pytest.skip(result.detail)
        assert result.ok, result.line()

    test_conformance.__doc__ = f"The conformance kit's checks of plugin {plugin!r}."
    return test_conformance
