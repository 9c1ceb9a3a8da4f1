"""Fault injection for the CLI: every user error is one ``modalax: error:`` line and exit 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from modalax._src.cli import main
from modalax.testing import discovering_registry, write_fake_distribution

PREVIEW_PLUGIN = """
from pathlib import Path

import modalax
from modalax import CommandRecord, DatasetRecord, KernelRecord, ModalityRecord


class PvModality:
    name = "pv"


class Counting:
    def __init__(self, size=4, scale=1):
        self.size, self.scale = size, scale

    def __len__(self):
        return self.size

    def get_records(self, idx):
        return {"x": [int(i) * self.scale for i in idx]}


def needs_root(root, size=2):
    return Counting(size)


class PvConfig:
    pass


def seeded(size=3, *, rngs=None):
    return Counting(size)


def configured(config=None, size=2):
    return Counting(size)


def preview(batch, out):
    path = Path(out) / "x.txt"
    path.write_text(repr(batch["x"]))
    return [path]


def crash(args):
    raise RuntimeError("a bug in a command")


def bad_arguments(parser):
    raise ImportError("optional dependency missing")


def leave(args):
    raise SystemExit(3)


@modalax.hookimpl
def register_modalities(register):
    register(
        ModalityRecord("pv", "pv_hooks:PvModality", previewer="pv_hooks:preview", config_class="pv_config:PvConfig")
    )


@modalax.hookimpl
def register_datasets(register):
    register(DatasetRecord("pv", "counting", "pv_hooks:Counting"))
    register(DatasetRecord("pv", "rooted", "pv_hooks:needs_root"))
    register(DatasetRecord("pv", "seeded", "pv_hooks:seeded"))
    register(DatasetRecord("pv", "configured", "pv_hooks:configured"))


@modalax.hookimpl
def register_kernels(register):
    for i in range(40):
        register(KernelRecord(f"pv.kernel_with_a_long_descriptive_name_{i:02d}", "pv_hooks:preview"))


@modalax.hookimpl
def register_commands(register):
    register(CommandRecord("crash", "pv_hooks:crash"))
    register(CommandRecord("badargs", "pv_hooks:leave", add_arguments="pv_hooks:bad_arguments"))
    register(CommandRecord("leave", "pv_hooks:leave"))
    register(CommandRecord("list", "pv_hooks:crash"))
"""


PV_CONFIG = """
from dataclasses import dataclass


@dataclass(frozen=True)
class PvConfig:
    height: int = 4
    width: int = 4
"""


@pytest.fixture
def cli_plugins(tmp_path: Path, no_strict: None, monkeypatch: pytest.MonkeyPatch):
    """A previewable fake plugin ``pv`` plus one that fails with a very long error."""
    monkeypatch.setenv("COLUMNS", "100")
    pv = write_fake_distribution(
        tmp_path / "pv",
        "pv-plugin",
        version="2.0.0",
        entry_points={"pv": "pv_hooks"},
        modules={"pv_hooks": PREVIEW_PLUGIN, "pv_config": PV_CONFIG},
    )
    long_error = "raise ImportError('native library libfoo.so.3 not found; ' + 'details ' * 60 + 'END')\n"
    broken = write_fake_distribution(
        tmp_path / "br",
        "a-broken-plugin-with-a-long-distribution-name",
        version="10.20.30.dev4+local",
        entry_points={"broken_plugin_with_long_id": "br_hooks"},
        modules={"br_hooks": long_error},
    )
    with discovering_registry(pv, broken):
        yield tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, "\n".join(line for line in err.splitlines() if not line.startswith("modalax: warning:"))


def _a_file(tmp: Path) -> str:
    (tmp / "a-file").write_text("x")
    return str(tmp / "a-file")


CASES = {
    "n_zero": (["preview", "pv", "counting", "--n", "0"], r"argument --samples/--n: got 0, expected a positive int"),
    "n_negative": (["preview", "pv", "counting", "--samples", "-3"], r"argument --samples/--n: got -3"),
    "n_not_int": (["preview", "pv", "counting", "--n", "abc"], r"argument --samples/--n: got 'abc'"),
    "n_too_many": (["preview", "pv", "counting", "--n", "100000"], r"got 100000, expected at most 256"),
    "seed_negative": (["preview", "pv", "counting", "--seed", "-1"], r"--seed: got '-1', expected an integer seed"),
    "seed_too_big": (["preview", "pv", "counting", "--seed", str(2**64)], r"--seed: got '18446744073709551616'"),
    "set_unknown_key": (["preview", "pv", "counting", "--set", "nope=1"], r"unknown option of pv/counting 'nope'"),
    "set_typo": (["preview", "pv", "counting", "--set", "sise=2"], r"'sise'.*did you mean 'size'\?"),
    "set_no_equals": (["preview", "pv", "counting", "--set", "size"], r"--set: got 'size', expected key=value"),
    "set_twice": (["preview", "pv", "counting", "--set", "size=1", "--set", "size=2"], r"'size' is given twice"),
    "set_missing_required": (["preview", "pv", "rooted"], r"pv/rooted needs --set root=DIR \(the folder to read\)"),
    "set_missing_root": (["preview", "pv", "rooted", "--set", "root=/no/such/dir"], r"root=/no/such/dir: no such"),
    "set_rngs": (["preview", "pv", "seeded", "--set", "rngs=1"], r"--set rngs=\.\.\.: cannot be given.*use --seed"),
    "set_config_fields_listed": (["preview", "pv", "configured", "--set", "hieght=2"], r"height, size, width; did you"),
    "unknown_modality": (["preview", "video", "synthetic"], r"unknown modality 'video'; available: pv"),
    "unknown_dataset": (["preview", "pv", "countng"], r"unknown pv dataset type 'countng'.*did you mean 'counting'"),
    "out_is_a_file": (["preview", "pv", "counting", "--out", "{file}"], r"--out: got '.*a-file', which is a file"),
    "out_under_a_file": (
        ["preview", "pv", "counting", "--out", "{file}/sub"],
        r"--out: cannot write to '.*a-file/sub'",
    ),
    "info_unknown": (["info", "vp"], r"unknown modality or plugin id 'vp'.*did you mean 'pv'\?"),
    "info_plugin_unknown": (["info", "--plugin", "vp"], r"unknown plugin id 'vp'.*did you mean 'pv'\?"),
    "unknown_command": (["bogus"], r"invalid choice: 'bogus'"),
    "command_typo": (["previe"], r"invalid choice: 'previe'.*did you mean 'preview'\?"),
    "no_command": ([], r"the following arguments are required: COMMAND"),
    "bench_no_checkout": (["bench", "--root", "{tmp}"], r"bench --root: no .*run_all.py here"),
    "plugin_add_arguments_fails": (["badargs"], r"command 'badargs': add_arguments failed: ImportError"),
    "unknown_option": (["list", "--jsn"], r"unrecognized arguments: --jsn; did you mean '--json' for '--jsn'\?"),
    "option_typo": (["preview", "pv", "counting", "--smaples", "3"], r"did you mean '--samples' for '--smaples'\?"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_user_errors_are_one_line_exit_2(case: str, cli_plugins: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args, message = CASES[case]
    args = [a.replace("{file}", _a_file(cli_plugins)).replace("{tmp}", str(cli_plugins)) for a in args]
    code, out, err = run(capsys, *args)
    assert code == 2, (out, err)
    assert len(err.splitlines()) == 1 and err.startswith("modalax: error: "), err
    assert re.search(message, err), err
    assert "Traceback" not in err


def test_bad_debug_variable_is_named(cli_plugins: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setenv("MODALAX_DEBUG", "maybe")
    code, _, err = run(capsys, "list")
    assert (
        code == 2
        and err
        == "modalax: error: MODALAX_DEBUG: got 'maybe', expected one of 1, true, yes, on (or 0, false, no, off, empty)"
    )


def test_preview_writes_the_requested_records(cli_plugins: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = cli_plugins / "new" / "previews"
    code, out, err = run(capsys, "preview", "pv", "counting", "--n", "2", "--set", "scale=3", "--out", str(out_dir))
    assert code == 0, err
    assert out.split() == [str(out_dir / "x.txt")] and (out_dir / "x.txt").read_text() == "[0, 3]"
    code, _, _ = run(capsys, "preview", "pv", "counting", "--n", "99", "--out", str(out_dir))
    assert code == 0 and (out_dir / "x.txt").read_text() == "[0, 1, 2, 3]"  # capped at the dataset's size


def test_internal_errors_are_one_line_exit_1_and_visible_on_request(
    cli_plugins: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(capsys, "crash")
    assert code == 1 and len(err.splitlines()) == 1
    assert "internal error RuntimeError: a bug in a command" in err and "--traceback" in err
    with pytest.raises(RuntimeError, match="a bug in a command"):
        main(["--traceback", "crash"])
    monkeypatch.setenv("MODALAX_DEBUG", "1")
    with pytest.raises(RuntimeError, match="a bug in a command"):
        main(["crash"])


def test_plugin_commands_exit_codes_and_builtin_clash(cli_plugins: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["leave"]) == 3
    main(["list"])  # the plugin's "list" never replaces the built-in one: core's names are reserved
    out, err = capsys.readouterr()
    assert "modalities (1): pv" in out
    assert "command 'list' is a command of modalax itself ('modalax'), but 'pv-plugin' registers it" in err


def test_plugins_table_fits_100_columns_and_json_is_complete(
    cli_plugins: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "plugins")
    assert code == 0
    lines = out.splitlines()
    assert all(len(line) <= 100 for line in lines), max(lines, key=len)
    [pv] = [line for line in lines if line.startswith("pv ")]
    assert pv.split()[:10] == ["pv", "pv-plugin", "2.0.0", "loaded", "1", "4", "40", "-", "-", "3"]
    [broken] = [line for line in lines if " failed " in line]
    assert "failed  ImportError: native library libfoo" in broken and broken.endswith("...")
    code, out, _ = run(capsys, "plugins", "--json")
    records = {r["id"]: r for r in json.loads(out)}
    assert len(records["pv"]["registered"]["kernels"]) == 40
    error = records["broken_plugin_with_long_id"]["error"]
    assert error.startswith("import of 'br_hooks' failed: ImportError: native") and error.endswith("END")
    assert main(["plugins", "--strict"]) == 1


def test_info_of_a_plugin_id_shows_the_full_error(cli_plugins: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "info", "broken_plugin_with_long_id")
    assert code == 0 and all(len(line) <= 100 for line in out.splitlines())
    flat = " ".join(out.split())
    assert "10.20.30.dev4+local: failed" in flat and flat.endswith("END")
    code, out, _ = run(capsys, "info", "pv")  # a modality and a plugin have this name: the modality, and a hint
    assert code == 0 and "dataset types: configured, counting, rooted, seeded" in out
    assert out.splitlines()[-1] == "(a plugin has the id 'pv' too: modalax info --plugin pv)"
    code, out, _ = run(capsys, "info", "--plugin", "pv")
    assert code == 0 and "pv-plugin" in out and "dataset types:" not in out and "pv_hooks" in out


def test_system_exit_plugin_does_not_end_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], no_strict) -> None:
    from .conftest import healthy_source

    healthy = write_fake_distribution(
        tmp_path / "h",
        "toy-plugin",
        entry_points={"toy": "toy_cli_hooks"},
        modules={"toy_cli_hooks": healthy_source("toy_cli_hooks")},
    )
    leaving = write_fake_distribution(
        tmp_path / "x",
        "exit-plugin",
        entry_points={"exiter": "exit_hooks"},
        modules={"exit_hooks": "import sys\nsys.exit(7)\n"},
    )
    with discovering_registry(healthy, leaving):
        assert main(["list"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "modalities (1): toy"
    assert "modalax: warning: modalax plugin 'exiter' (exit-plugin 0.1.0) failed" in err and "SystemExit: 7" in err
