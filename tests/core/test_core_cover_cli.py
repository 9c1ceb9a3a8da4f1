"""The CLI in this process over a registry filled at run time: info, list, plugins, bench, pack,
preview, plugin commands and how each kind of failure ends (exit code and one stderr line)."""

from __future__ import annotations

import argparse
import json
import runpy
import sys
from pathlib import Path
from typing import Any

import pytest

from modalax import AdapterRecord, CommandRecord, ConfigError, OperatorRecord, UnknownNameError
from modalax._src import registry
from modalax._src.cli import main
from modalax._src.cli_preview import check_options, factory_parameters, parse_options

from .cli_fixtures import Counting, TinyConfig, TinyModality, run, seeded


@pytest.fixture
def tiny(isolated_registry: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("MODALAX_DEBUG", raising=False)
    registry.register_modality("tiny", TinyModality, config_class=TinyConfig, description="a tiny modality")
    registry.register_dataset("tiny", "counting", Counting)
    registry.register_kernel("tiny.double", lambda x: 2 * x)
    registry.register(OperatorRecord("tiny", "shift", TinyModality))
    registry.register(AdapterRecord("tiny", "mlp", TinyModality))
    return isolated_registry


# ------------------------------------------------------------- info, list
def test_info_shows_the_class_config_fields_and_registrations(tiny: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "info", "tiny")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "modality 'tiny' from <runtime>"
    assert lines[1] == "  a tiny modality"
    assert lines[2] == f"class: {TinyModality.__module__}.TinyModality"
    assert lines[3] == f"config: {TinyConfig.__module__}.TinyConfig"
    rows = [line.split() for line in lines[4:9]]
    assert rows[0] == ["field", "type", "default"]
    assert rows[2:] == [["name", "str", "(required)"], ["size", "int", "4"], ["tags", "list[str]", "['a']"]]
    assert lines[9:] == ["dataset types: counting", "kernels: tiny.double", "operators: shift", "adapters: mlp"]


def test_info_without_config_or_description(isolated_registry: Any, capsys: pytest.CaptureFixture[str]) -> None:
    registry.register_modality("bare", TinyModality)
    code, out, _ = run(capsys, "info", "bare")
    assert code == 0
    assert out.splitlines() == [
        "modality 'bare' from <runtime>",
        f"class: {TinyModality.__module__}.TinyModality",
        "dataset types: -",
        "kernels: -",
        "operators: -",
        "adapters: -",
    ]


def test_list_as_text_and_json(tiny: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "--json")
    assert code == 0
    assert json.loads(out) == {
        "modalities": ["tiny"],
        "datasets": ["tiny/counting"],
        "kernels": ["tiny.double"],
        "operators": ["tiny/shift"],
        "adapters": ["tiny/mlp"],
    }
    code, out, _ = run(capsys, "list")
    assert out.splitlines()[0] == "modalities (1): tiny"


def test_plugins_with_none_installed(isolated_registry: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "plugins") == (0, "no modalax plugins installed (entry-point group 'modalax')\n", "")
    code, out, _ = run(capsys, "plugins", "--json")
    assert code == 0 and json.loads(out) == []


# ------------------------------------------------------------------ bench
def test_bench_runs_the_checkout_script_with_the_rest_of_the_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, isolated_registry: Any
) -> None:
    monkeypatch.setattr(sys, "argv", list(sys.argv))  # bench hands its arguments to the script as sys.argv
    (tmp_path / "benchmarks").mkdir()
    script = tmp_path / "benchmarks" / "run_all.py"
    script.write_text("import sys\nprint('ran', __name__, *sys.argv[1:])\n")
    code, out, _ = run(capsys, "bench", "--root", str(tmp_path), "suite", "-k", "image")
    default = ["--out", "bench-results.md"]  # never the tracked docs/benchmarks.md unless asked
    assert code == 0
    assert out.splitlines()[-1] == "ran __main__ suite -k image " + " ".join(default)
    assert sys.argv == [str(script), "suite", "-k", "image", *default]
    run(capsys, "bench", "--root", str(tmp_path), "--", "--out", "elsewhere.md")
    assert sys.argv == [str(script), "--out", "elsewhere.md"]


def test_bench_passes_options_after_a_double_dash_to_the_script(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, isolated_registry: Any
) -> None:
    # benchmarks/run_all.py parses its options with argparse, which rejects ['--', '--quick'];
    # `modalax bench --quick` is refused by modalax's own parser, so no option reaches the script.
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "run_all.py").write_text("import sys\nprint(*sys.argv[1:])\n")
    code, out, err = run(capsys, "bench", "--root", str(tmp_path), "--", "--quick")
    assert (code, out.splitlines()[-1], err) == (0, "--quick --out bench-results.md", "")


# ---------------------------------------------------- plugin commands, exits
def _raise(exc: BaseException) -> Any:
    def fn(*_: Any) -> Any:
        raise exc

    return fn


@pytest.mark.parametrize(
    ("exc", "code", "err"),
    [
        (KeyboardInterrupt(), 130, "modalax: interrupted"),
        (SystemExit("cannot go on"), 1, "modalax: error: cannot go on"),
        (SystemExit(None), 0, ""),
        (SystemExit(4), 4, ""),
        (OSError(28, "No space left on device"), 2, "modalax: error: [Errno 28] No space left on device"),
        (ModuleNotFoundError("No module named 'av'"), 2, "modalax: error: No module named 'av'"),
        (ConfigError("  bad\n   value "), 2, "modalax: error: bad value"),
        (ConfigError(""), 2, "modalax: error: ConfigError"),
        (
            ZeroDivisionError("x"),
            1,
            "modalax: error: internal error ZeroDivisionError: x (a bug: rerun with --traceback",
        ),
    ],
)
def test_how_a_plugin_command_ends(
    isolated_registry: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    exc: BaseException,
    code: int,
    err: str,
) -> None:
    monkeypatch.delenv("MODALAX_DEBUG", raising=False)
    registry.register(CommandRecord("go", _raise(exc), help="a command"))
    got, out, stderr = run(capsys, "go")
    assert got == code and out == ""
    assert stderr.strip().startswith(err) if err else stderr == ""


def test_a_command_gets_its_parsed_arguments(isolated_registry: Any, capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[argparse.Namespace] = []

    def add(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--times", type=int, default=1)

    def go(args: argparse.Namespace) -> int:
        seen.append(args)
        print("go" * args.times)
        return 7

    registry.register(CommandRecord("go", go, add_arguments=add))
    assert run(capsys, "go", "--times", "3") == (7, "gogogo\n", "")
    assert seen[0].command == "go" and seen[0].times == 3


def test_ctrl_c_while_a_plugin_declares_its_arguments_is_an_interrupt(
    isolated_registry: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    registry.register(CommandRecord("go", lambda a: 0, add_arguments=_raise(KeyboardInterrupt())))
    assert run(capsys, "list") == (130, "", "modalax: interrupted\n")


@pytest.mark.parametrize("how", ["flag", "env"])
def test_traceback_on_request_raises_the_error_itself(
    isolated_registry: Any, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    registry.register(CommandRecord("go", _raise(ZeroDivisionError("deep"))))
    argv = ["--traceback"] if how == "flag" else []
    if how == "env":
        monkeypatch.setenv("MODALAX_DEBUG", "yes")
    else:
        monkeypatch.delenv("MODALAX_DEBUG", raising=False)
    with pytest.raises(UnknownNameError, match="unknown modality or plugin id 'nope'"):
        main([*argv, "info", "nope"])
    with pytest.raises(ZeroDivisionError, match="deep"):
        main([*argv, "go"])


def test_python_dash_m_modalax_runs_the_cli(
    isolated_registry: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import modalax
    import modalax._src.cli

    monkeypatch.setattr(sys, "argv", ["modalax", "list", "--json"])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(Path(modalax.__file__).with_name("__main__.py")), run_name="__main__")
    assert info.value.code == 0
    assert json.loads(capsys.readouterr().out)["modalities"] == []
    monkeypatch.setattr(sys, "argv", ["modalax", "info", "nope"])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(modalax._src.cli.__file__, run_name="__main__")
    assert info.value.code == 2
    assert "unknown modality or plugin id 'nope'" in capsys.readouterr().err


# ---------------------------------------------------------------- preview
def _previewer(batch: dict[str, Any], out: Path) -> list[Path]:
    path = Path(out) / "x.txt"
    path.write_text(" ".join(map(str, batch["x"])))
    return [path]


def _previewer_with_dataset(batch: dict[str, Any], out: Path, dataset: Any) -> list[Path]:
    path = Path(out) / "d.txt"
    path.write_text(f"{type(dataset).__name__} {len(dataset)} {batch['x'].tolist()}")
    return [path]


def _full_disk(batch: dict[str, Any], out: Path) -> list[Path]:
    raise OSError(28, "No space left on device")


def _register_previewable(name: str, previewer: Any) -> None:
    from modalax import ModalityRecord

    registry.register(ModalityRecord(name, TinyModality, previewer=previewer))
    registry.register_dataset(name, "counting", Counting)
    registry.register_dataset(name, "empty", lambda: Counting(0))
    registry.register_dataset(name, "seeded", seeded)


def test_preview_hands_the_first_records_to_the_previewer(
    isolated_registry: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _register_previewable("pv", _previewer)
    out = tmp_path / "a" / "b"
    code, stdout, _ = run(capsys, "preview", "pv", "counting", "--n", "3", "--out", str(out), "--set", "scale=5")
    assert code == 0 and stdout == f"{out / 'x.txt'}\n"
    assert (out / "x.txt").read_text() == "0 5 10"
    _register_previewable("pd", _previewer_with_dataset)
    code, stdout, _ = run(capsys, "preview", "pd", "counting", "--n", "99", "--out", str(out))
    assert code == 0 and (out / "d.txt").read_text() == "Counting 4 [0, 1, 2, 3]"  # --n beyond the size: all


def test_preview_seeds_a_factory_that_takes_rngs(
    isolated_registry: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from flax import nnx

    from modalax.plugin import seed_key

    _register_previewable("pv", _previewer)
    for seed in (1, 2):
        assert run(capsys, "preview", "pv", "seeded", "--seed", str(seed), "--out", str(tmp_path))[0] == 0
        scale = seeded(rngs=nnx.Rngs(seed_key(seed))).scale
        assert (tmp_path / "x.txt").read_text() == f"0 {scale} {2 * scale}"


@pytest.mark.parametrize(
    ("previewer", "dataset", "message"),
    [
        (None, "counting", "modalax: error: modality 'pv' registers no previewer; nothing to write"),
        (_previewer, "empty", "modalax: error: pv/empty: the dataset is empty; nothing to preview"),
        (_full_disk, "counting", "modalax: error: --out: cannot write to '{out}': No space left on device"),
    ],
)
def test_preview_failures_are_one_line(
    isolated_registry: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    previewer: Any,
    dataset: str,
    message: str,
) -> None:
    _register_previewable("pv", previewer)
    code, out, err = run(capsys, "preview", "pv", dataset, "--out", str(tmp_path / "o"))
    assert code == 2 and out == ""
    assert err == message.format(out=tmp_path / "o") + "\n"


def test_parse_options_reads_literals_and_keeps_other_text() -> None:
    got = parse_options(["a=1", "b=abc", "c=[1, 2]", "d= x y", "e=", " f =None", "g=1e400"])
    assert got == {"a": 1, "b": "abc", "c": [1, 2], "d": " x y", "e": "", "f": None, "g": float("inf")}


def test_check_options_skips_what_it_cannot_inspect() -> None:
    assert factory_parameters(max) is None  # no signature: nothing is checked
    check_options(max, {"anything": 1}, "x/y")

    def open_ended(root: str, **kwargs: Any) -> None: ...

    assert list(factory_parameters(open_ended) or {}) == ["root", "kwargs"]
    check_options(open_ended, {"whatever": 1}, "x/y")  # **kwargs takes any key, even without root
    assert list(factory_parameters(Counting) or {}) == ["size", "scale"]  # a class: __init__ without self

    def positional(a: int, /, b: int = 0) -> None: ...

    with pytest.raises(ConfigError, match=r"--set a=\.\.\.: unknown option of x/y 'a'; available: b"):
        check_options(positional, {"a": 1}, "x/y")
