"""The conformance kit on a stranger's plugin: a good one passes every check, each defect fails its rule."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import pytest

from modalax.testing import check_plugin, discovering_registry, write_fake_distribution

IMPL = """
from dataclasses import dataclass
from typing import Any

from modalax.plugin import (
    BaseModalityConfig, BaseModelAdapter, ConfigError, ModalityOperator,
    ModalityOperatorConfig, SyntheticDataset, check_positive,
    GenerativeModel, record_keys,
)

@dataclass(frozen=True)
class WaveConfig(BaseModalityConfig):
    length: int = 8

    def __post_init__(self) -> None:
        check_positive("WaveConfig", "length", self.length)


class WaveModality(GenerativeModel):
    name = "wave"

    def __init__(self, config: WaveConfig | None = None, *, rngs: Any = None) -> None:
        self.config = config or WaveConfig()

    def get_extensions(self, config: Any, *, rngs: Any) -> dict:
        return {}

    def get_adapter(self, model_cls: type) -> Any:
        return WaveAdapter(model_cls, self.config)


class WaveAdapter(BaseModelAdapter):
    config_class = WaveConfig

    def create(self, config: Any = None, *, rngs: Any, **kwargs: Any) -> Any:
        args = () if config is None else (config,)
        return self.model_cls(*args, length=self.config.length, rngs=rngs, **kwargs)


class WaveDataset(SyntheticDataset):
    def __init__(self, config=None, split="train", *, dataset_size=100, seed=None, rngs=None):
        import modalax.plugin as P
        if config is None:
            config = WaveConfig()
        if not isinstance(config, WaveConfig):
            raise ConfigError(f"WaveDataset.config: got {type(config).__name__}, expected a WaveConfig")
        super().__init__(config, dataset_size, split, rngs=P.resolve_rngs("WaveDataset.rngs", rngs, seed))

    def generate_records(self, keys, indices):
        import jax
        waves = jax.vmap(lambda k: jax.random.normal(k, (self.config.length,)))(keys)
        return {"wave": {BROKEN_SCALE} * waves}


@dataclass(frozen=True, eq=False)
class LouderConfig(ModalityOperatorConfig):
    field_key: str = "wave"
    gain: float = 2.0


class Louder(ModalityOperator):
    config: LouderConfig
    element_ndim = 1

    def transform(self, x, random_params, stats):
        return x * self.config.gain


def double(x):
    return x * 2


def double_example():
    import numpy as np
    return (np.arange(12, dtype=np.float32).reshape(3, 4),), {}
"""

HOOKS = """
from modalax.plugin import AdapterRecord, DatasetRecord, KernelRecord, ModalityRecord, OperatorRecord, hookimpl

MODALAX_PLUGIN_API = "1.0"


@hookimpl
def register_modalities(register):
    register(ModalityRecord("wave", "wave_impl:WaveModality", "waves", config_class="wave_impl:WaveConfig"))


@hookimpl
def register_datasets(register):
    register(DatasetRecord("wave", "synthetic", "wave_impl:WaveDataset"))


@hookimpl
def register_operators(register):
    register(OperatorRecord("wave", "louder", "wave_impl:Louder"))


@hookimpl
def register_kernels(register):
    register(KernelRecord("wave.double", "wave_impl:double", example="wave_impl:double_example"))


@hookimpl
def register_adapters(register):
    register(AdapterRecord("wave", "default", "wave_impl:WaveAdapter"))
"""


SEP = "\n# ---- hooks ----\n"


def plugin(tmp_path: Path, source: str) -> Path:
    """A fake ``modalax-wave`` whose heavy classes live in ``wave_impl`` and hooks in ``wave_hooks``."""
    impl, hooks = source.split(SEP)
    return write_fake_distribution(
        tmp_path / "wave",
        "modalax-wave",
        entry_points={"wave": "wave_hooks"},
        modules={"wave_hooks": hooks, "wave_impl": impl},
    )


def good_source() -> str:
    return IMPL.replace("{BROKEN_SCALE}", "1.0") + SEP + HOOKS


def test_a_plugin_written_to_the_guide_passes_every_check(tmp_path: Path) -> None:
    with discovering_registry(plugin(tmp_path, good_source())):
        report = check_plugin("wave")
    assert report.ok, report.summary()
    ids = {c.id for c in report if not c.skipped}
    for expected in (
        "plugin:wave/loaded",
        "plugin:wave/api-version",
        "plugin:wave/light-hook-module",
        "modality:wave/config",
        "modality:wave/protocol",
        "dataset:wave/synthetic/signature",
        "dataset:wave/synthetic/deterministic",
        "dataset:wave/synthetic/pickle",
        "dataset:wave/synthetic/bad-config",
        "dataset:wave/synthetic/loader",
        "plugin:wave/same-records-in-a-fresh-process",
        "operator:wave/louder/apply",
        "operator:wave/louder/in-loader",
        "kernel:wave.double/batch-independent",
        "adapter:wave/default/contract",
        "adapter:wave/default/bad-arguments",
    ):
        assert expected in ids, expected


DEFECTS = [
    # (what is broken, edit of the good source, the failing check, words of its message)
    (
        "undeclared API",
        lambda s: s.replace('MODALAX_PLUGIN_API = "1.0"', ""),
        "plugin:wave/loaded",
        "declares no plugin-API version",
    ),
    (
        "heavy hook module",
        lambda s: s.replace(SEP, SEP + "import jax\n"),
        "plugin:wave/light-hook-module",
        "imports ['jax']",
    ),
    (
        "no seed keyword",
        lambda s: s.replace("dataset_size=100, seed=None, rngs=None", "dataset_size=100, rngs=None").replace(
            "rngs, seed)", "rngs)"
        ),
        "dataset:wave/synthetic/signature",
        "takes no keyword ['seed']",
    ),
    (
        "size under another name",
        lambda s: s.replace("dataset_size=100", "n=100").replace("config, dataset_size,", "config, n,"),
        "dataset:wave/synthetic/signature",
        "takes its size as dataset_size=",
    ),
    (
        "config not first",
        lambda s: s.replace(
            "def __init__(self, config=None, split=", "def __init__(self, split='train', config=None, s="
        ),
        "dataset:wave/synthetic/signature",
        "expected 'config'",
    ),
    (
        "records depend on the process",
        lambda s: s.replace('"wave": 1.0 * waves', '"wave": (__import__("os").getpid() % 97 + 1.0) * waves'),
        "plugin:wave/same-records-in-a-fresh-process",
        "records differ in a fresh process: ['wave/synthetic']",
    ),
    (
        "bad config accepted",
        lambda s: s.replace("if not isinstance(config, WaveConfig):", "if False:"),
        "dataset:wave/synthetic/bad-config",
        "config=object() was accepted",
    ),
    (
        "adapter takes anything",
        lambda s: s.replace(
            "class WaveAdapter(BaseModelAdapter):",
            "class WaveAdapter:\n    def __init__(self, m, c=None):\n"
            "        self.model_cls, self.config = m, c or WaveConfig()\n",
        ),
        "adapter:wave/default/bad-arguments",
        "was accepted",
    ),
    (
        "kernel depends on its batch",
        lambda s: s.replace("return x * 2", "return x * 2 + x.mean()"),
        "kernel:wave.double/batch-independent",
        "record 0 alone differs from its batch",
    ),
    (
        "kernel example of equal records",
        lambda s: s.replace("np.arange(12, dtype=np.float32).reshape(3, 4)", "np.ones((3, 4), np.float32)"),
        "kernel:wave.double/batch-independent",
        "two records of the example are equal",
    ),
    (
        "kernel example without a batch axis",
        lambda s: s.replace(
            "return (np.arange(12, dtype=np.float32).reshape(3, 4),), {}", "return (np.float32(2),), {}"
        ),
        "kernel:wave.double/batch-independent",
        "leading axes [None]; expected one batch axis",
    ),
    (
        "kernel example with an unknown keyword",
        lambda s: s.replace(
            "return (np.arange(12, dtype=np.float32).reshape(3, 4),), {}",
            "return (np.arange(12, dtype=np.float32).reshape(3, 4),), {'scale': 2}",
        ),
        "kernel:wave.double/batch-independent",
        "the example passes ['scale'], which are not parameters of the kernel",
    ),
    (
        "operator breaks records",
        lambda s: s.replace("return x * self.config.gain", "return x * self.config.gain / 0.0"),
        "operator:wave/louder/apply",
        "field 'wave' is not finite",
    ),
    (
        "config ignores unknown fields",
        lambda s: s.replace(
            "    length: int = 8\n",
            "    length: int = 8\n\n    @classmethod\n    def from_dict(cls, data):\n"
            "        return cls(length=data.get('length', 8))\n",
        ),
        "modality:wave/config",
        "from_dict accepted an unknown field",
    ),
]


@pytest.mark.parametrize(("what", "edit", "check_id", "words"), DEFECTS, ids=[d[0] for d in DEFECTS])
def test_each_defect_fails_its_check(
    tmp_path: Path, no_strict: None, what: str, edit, check_id: str, words: str
) -> None:
    fresh = check_id.startswith("plugin:wave/light") or "fresh-process" in check_id
    undeclared = what == "undeclared API"  # discovery warns too, as it does for every such plugin
    warns = pytest.warns(RuntimeWarning, match="declares no plugin-API version") if undeclared else nullcontext()
    with discovering_registry(plugin(tmp_path, edit(good_source()))), warns:
        report = check_plugin("wave", fresh_processes=fresh)
    failed = {c.id: c for c in report.failures}
    assert check_id in failed, report.summary()
    assert words in failed[check_id].detail, failed[check_id].line()


def test_expected_failures_must_name_a_check_and_are_strict(tmp_path: Path) -> None:
    from modalax import ConfigError
    from modalax.testing import conformance_tests

    with discovering_registry(plugin(tmp_path, good_source())):
        with pytest.raises(ConfigError, match=r"expected_failures: no check 'kernel:wave.nope/batch-independent'"):
            conformance_tests("wave", expected_failures={"kernel:wave.nope/batch-independent": "x"})
        test = conformance_tests("wave", expected_failures={"kernel:wave.double/batch-independent": "known"})
    [marked] = [p for p in test.pytestmark[0].args[1] if not isinstance(p, str)]
    assert marked.values == ("kernel:wave.double/batch-independent",)
    assert marked.marks[0].kwargs == {"reason": "known", "strict": True}


@pytest.mark.parametrize(
    ("axis", "edit", "verdict"),
    [
        ("mixed", "return x * 2 + x.mean()", "per-record equality does not apply (the kernel combines the records"),
        ("none", "return x * 2", "per-record equality does not apply (the kernel has no batch axis)"),
    ],
)
def test_kernels_that_mix_or_have_no_batch_are_jitted_and_checked_finite(
    tmp_path: Path, axis: str, edit: str, verdict: str
) -> None:
    source = good_source().replace("return x * 2", edit)
    source = source.replace(
        'example="wave_impl:double_example")', f'example="wave_impl:double_example", batch_axis="{axis}")'
    )
    with discovering_registry(plugin(tmp_path, source)):
        report = check_plugin("wave", fresh_processes=False)
    check = next(c for c in report if c.id == "kernel:wave.double/batch-independent")
    assert check.ok and not check.skipped and verdict in check.detail


def test_a_kernel_record_names_its_batch_axis() -> None:
    from modalax import ConfigError, KernelRecord

    with pytest.raises(ConfigError, match=r"batch_axis: got 'rows', expected one of \('records', 'mixed', 'none'\)"):
        KernelRecord("wave.double", "m:f", batch_axis="rows")
