"""`preview` and `pack` check their arguments before jax: the factories' parameters read from their
source (``cli_signature``) agree with the imported objects, and the argument errors come from a
process that never imported jax."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from modalax._src import registry
from modalax._src.cli_preview import factory_parameters
from modalax._src.cli_signature import Params, static_config_fields, static_parameters
from modalax._src.records import resolve
from modalax.testing import discovering_registry, write_fake_distribution


def _runtime(factory: object) -> Params:
    params = factory_parameters(resolve(factory))
    assert params is not None
    kinds = inspect.Parameter
    names = tuple(
        n for n, p in params.items() if p.kind not in (kinds.POSITIONAL_ONLY, kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD)
    )
    required = tuple(n for n in names if params[n].default is kinds.empty)
    return Params(names, required, any(p.kind is kinds.VAR_KEYWORD for p in params.values()))


def _dataset_records() -> list[object]:
    return [record for record, _ in registry.current().records("datasets")]


@pytest.mark.parametrize("record", _dataset_records(), ids=lambda r: f"{r.modality}/{r.name}")
def test_the_source_gives_the_parameters_the_factory_has(record: object) -> None:
    static = static_parameters(record.factory)
    assert static is not None, f"{record.factory}: its source could not be read"  # every official factory
    runtime = _runtime(record.factory)
    cls = resolve(record.factory)
    if runtime.var_keyword and hasattr(cls, "check_decode_options"):  # a file dataset: **options are decode options
        from modalax.plugin import FileDecoding

        kinds = inspect.Parameter
        params = inspect.signature(cls.check_decode_options).parameters.values()
        core = cls.check_decode_options.__func__ is FileDecoding.check_decode_options.__func__  # takes none
        declared = (
            () if core else tuple(p.name for p in params if p.kind not in (kinds.VAR_KEYWORD, kinds.VAR_POSITIONAL))
        )
        assert static.names == runtime.names + declared
        assert static.var_keyword == (not core and any(p.kind is kinds.VAR_KEYWORD for p in params))
    else:
        assert static.names == runtime.names
        assert static.var_keyword == runtime.var_keyword
    assert static.required == runtime.required


@pytest.mark.parametrize("name", registry.list_modalities())
def test_the_source_gives_the_config_fields_the_dataclass_has(name: str) -> None:
    record = registry.get_modality_record(name)
    if record.config_class is None:
        pytest.skip("no config class")
    fields = tuple(f.name for f in dataclasses.fields(resolve(record.config_class)) if f.init)
    assert static_config_fields(record.config_class) == fields


MODULE = """
from dataclasses import dataclass


class Base:
    def __init__(self, a, b=1, *, c=2, **extra):
        pass


class Mixin:
    pass


class Left(Base):
    def __init__(self, left=0):
        pass


class Right(Base):
    pass


class Diamond(Right, Left):  # C3: Diamond, Right, Left, Base -> Left.__init__
    pass


class Opaque(Mixin, dict):  # dict is not read from source: its __init__ is unknown
    pass


@dataclass
class Generated:
    x: int = 0


def function(p, /, q, r=3, *args, s, **kwargs):
    pass


def decorated_factory():
    pass
"""


@pytest.fixture
def sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "sig_mod.py").write_text(MODULE)
    (tmp_path / "lazy_tbl.py").write_text("_LAZY = {'Diamond': 'sig_mod'}\n")  # a PEP 562 table, as modalax.plugin has
    (tmp_path / "sig_pkg").mkdir()
    (tmp_path / "sig_pkg" / "__init__.py").write_text("raise RuntimeError('package code must not run')\n")
    (tmp_path / "sig_pkg" / "reexport.py").write_text("from sig_mod import Diamond as Shown\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("sig_mod:Base", Params(("a", "b", "c"), ("a",), True)),
        ("sig_mod:Diamond", Params(("left",), (), False)),
        ("sig_pkg.reexport:Shown", Params(("left",), (), False)),  # followed through an import; no package code ran
        ("lazy_tbl:Diamond", Params(("left",), (), False)),
        ("sig_mod:function", Params(("q", "r", "s"), ("q", "s"), True)),
        ("sig_mod:Opaque", None),
        ("sig_mod:Generated", None),  # a generated __init__: inspected at run time instead
        ("sig_mod:missing", None),
        ("no_such_module:x", None),
        (len, None),  # not a "module:attr" string
    ],
)
def test_what_the_source_says_and_where_it_says_nothing(sources: Path, target: object, expected: object) -> None:
    assert static_parameters(target) == expected


def _run_cli(*args: str, env_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    code = textwrap.dedent(
        f"""
        import sys
        {"sys.path.insert(0, " + repr(str(env_path)) + ")" if env_path else ""}
        from modalax._src.cli import main
        rc = main({list(args)!r})
        print("JAX_IMPORTED" if "jax" in sys.modules else "NO_JAX")
        raise SystemExit(rc)
        """
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["preview", "image", "synthetic", "--set", "dataset_sise=8"], "did you mean 'dataset_size'?"),
        (["preview", "image", "synthetic", "--set", "hieght=8"], "did you mean 'height'?"),  # a config field
        (["preview", "image", "folder"], "image/folder needs --set root=DIR"),
        (["preview", "image", "folder", "--set", "root=/no/such/folder"], "no such folder"),
        (["preview", "image", "folder", "--set", "root=.", "--set", "exif_transpse=1"], "'exif_transpose'"),
        (["preview", "image", "synthetic", "--out", "/etc/passwd"], "which is a file; expected a folder"),
        (["preview", "text", "file"], "text/file needs --set path=FILE"),
        (["pack", "image:synthetic", "--set", "dataset_sise=8", "--out", "{tmp}/p"], "did you mean 'dataset_size'?"),
    ],
)
def test_argument_errors_come_before_jax_is_imported(args: list[str], message: str, tmp_path: Path) -> None:
    pytest.importorskip("modalax_image")
    pytest.importorskip("modalax_text")
    if args[0] == "pack":
        pytest.importorskip("array_record")
    res = _run_cli(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert res.returncode == 2, res.stderr
    assert message in res.stderr and res.stderr.startswith("modalax: error: ")
    assert res.stdout.strip().endswith("NO_JAX"), res.stdout


def test_pack_names_a_missing_array_record_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import importlib.util

    from modalax._src.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "array_record" else real(name, *a)
    )
    assert main(["pack", "image:synthetic", "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert err == (
        "modalax: error: packing needs the array_record package, which is not installed: "
        'python -m pip install "array_record>=0.5" (modalax\'s packed extra)\n'
    )
    assert not (tmp_path / "p").exists()


def test_a_runtime_registered_factory_is_inspected(tmp_path: Path, capsys) -> None:
    healthy = write_fake_distribution(
        tmp_path / "d",
        "dyn-plugin",
        entry_points={"dyn": "dyn_hooks"},
        modules={
            "dyn_hooks": textwrap.dedent(
                """
                import modalax
                from modalax import DatasetRecord, ModalityRecord

                MODALAX_PLUGIN_API = "1.0"

                def make(size=2):
                    return None

                @modalax.hookimpl
                def register_modalities(register):
                    register(ModalityRecord("dyn", "dyn_hooks:make", previewer="dyn_hooks:make"))

                @modalax.hookimpl
                def register_datasets(register):
                    register(DatasetRecord("dyn", "made", make))  # a callable, not a "module:attr" string
                """
            )
        },
    )
    from modalax._src.cli import main

    with discovering_registry(healthy):
        assert main(["preview", "dyn", "made", "--set", "sise=3", "--out", str(tmp_path / "o")]) == 2
    assert "did you mean 'size'?" in capsys.readouterr().err
