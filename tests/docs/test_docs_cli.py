"""docs/cli.md documents every sub-command and option of `modalax`, and none that does not exist;
every option says what it does and states its default."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from cli_reference import PAGE, documented, render, subcommands

from modalax._src.cli import build_parser

# Commands a plugin contributes: documented always, present only where the plugin is installed.
PLUGIN_COMMANDS = {"demo": "modalax_multimodal"}


def test_the_reference_in_cli_md_is_the_parsers_rendering() -> None:
    rendered = render(build_parser())
    pages = documented(PAGE.read_text(encoding="utf-8"))
    for name, section in rendered.items():
        assert pages.get(name) == section, f"`modalax {name}` differs: run `python tests/docs/cli_reference.py --write`"
    for name in set(pages) - set(rendered):  # documented, but not a command here
        module = PLUGIN_COMMANDS.get(name)
        assert module is not None and importlib.util.find_spec(module) is None, f"docs/cli.md documents `{name}`"


def test_the_rendering_fails_for_an_undocumented_option() -> None:
    parser = build_parser()
    subcommands(parser)["list"].add_argument("--brand-new", action="store_true", help="a new option")
    pages = documented(PAGE.read_text(encoding="utf-8"))
    assert render(parser)["list"] != pages["list"]  # so the test above would fail


@pytest.mark.parametrize("name", sorted(subcommands(build_parser())))
def test_every_option_has_help_and_states_its_default(name: str) -> None:
    sub = subcommands(build_parser())[name]
    assert sub.description, name  # `modalax NAME --help` says what the command does
    for action in sub._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, (name, action.dest)
        if action.option_strings and action.default not in (None, False, []):
            assert "default" in action.help, (name, action.dest, action.default)
