"""The one way modalax tells a user how to install what is missing.

modalax is installed from a checkout (``python -m pip install ./core``) or from the wheels
``nox -s build`` writes, never from PyPI, so a hint that names modalax with an extra in brackets
would fetch whatever PyPI holds under that name, or nothing. A hint names the package itself
instead, which is right however modalax was installed, as ``python -m pip install
"matplotlib>=3.8"``: ``python -m pip``
installs into the interpreter that runs modalax, and the double quotes keep ``>`` and ``[...]``
away from every shell (bash, zsh, fish, PowerShell, cmd). The docs use the same form.
``EXTRAS`` repeats core's optional dependencies (a test keeps it equal to core's pyproject.toml).
"""

from __future__ import annotations

__all__ = ["EXTRAS", "extra_hint", "pip_install", "plugin_hint"]

#: core's extras: name -> the requirements it adds (``[project.optional-dependencies]``).
EXTRAS: dict[str, tuple[str, ...]] = {
    "progress": ("tqdm>=4.66",),
    "viz": ("matplotlib>=3.8",),
    "orbax": ("orbax-checkpoint>=0.6",),
    "packed": ("array_record>=0.5",),
    "remote": ("fsspec[http]>=2024.2",),
    "beam": ("apache-beam>=2.60", "array_record>=0.5"),
}


def pip_install(*requirements: str) -> str:
    """``python -m pip install "req" ...``: the command, each requirement double-quoted."""
    return "python -m pip install " + " ".join(f'"{r}"' for r in requirements)


def extra_hint(extra: str) -> str:
    """How to install core's optional ``extra``: its packages, named directly."""
    return f"{pip_install(*EXTRAS[extra])} (modalax's {extra} extra)"


def plugin_hint(modality: str) -> str:
    """How to install the official plugin of ``modality`` (from a checkout, or its wheel)."""
    return f'python -m pip install "./plugins/{modality}" from a modalax checkout (or its wheel from `nox -s build`)'
