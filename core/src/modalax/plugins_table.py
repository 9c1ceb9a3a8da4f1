"""Text rendering of plugin records for ``modalax plugins`` and ``modalax info PLUGIN``.

The table has one row per plugin with counts per kind, so it fits a 100-column terminal
however much a plugin registers; the full lists are in ``--json`` and ``modalax info``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from modalax.discovery import PluginInfo

__all__ = ["KIND_COLUMNS", "fit", "plugin_detail", "plugins_table"]

# (kind, column header): the order of the count columns
KIND_COLUMNS = (
    ("modalities", "mod"),
    ("datasets", "data"),
    ("kernels", "kern"),
    ("operators", "ops"),
    ("adapters", "adapt"),
    ("commands", "cmd"),
)
_CAPS = {"id": 16, "distribution": 22, "version": 12}


def fit(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with ``...`` when longer."""
    flat = " ".join(str(text).split())
    if len(flat) <= width:
        return flat
    return flat[: max(width - 3, 0)] + "..." if width >= 3 else flat[:width]


def plugins_table(infos: Sequence[PluginInfo], width: int = 100) -> str:
    """One row per plugin: id, distribution, version, status, counts per kind, error."""
    header = ["id", "distribution", "version", "status", *(h for _, h in KIND_COLUMNS), "error"]
    rows: list[list[str]] = []
    for info in infos:
        counts = info.counts()
        cells = [fit(info.id, _CAPS["id"]), fit(info.distribution, _CAPS["distribution"])]
        cells += [fit(info.version, _CAPS["version"]), info.status]
        if info.status == "loaded":
            cells += [str(counts.get(kind, 0) or "-") for kind, _ in KIND_COLUMNS]
        else:
            cells += ["." for _ in KIND_COLUMNS]
        cells.append(info.error or "")
        rows.append(cells)
    fixed = len(header) - 1
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(fixed)]
    used = sum(widths) + 2 * fixed
    last = max(width - used, 0)
    lines = []
    for row in [header, ["-" * w for w in widths] + ["-" * min(last, 5)], *rows]:
        cells = [row[i].ljust(widths[i]) for i in range(fixed)] + [fit(row[-1], last)]
        lines.append("  ".join(cells).rstrip()[:width])
    return "\n".join(lines)


def plugin_detail(info: PluginInfo, width: int = 100) -> str:
    """Everything about one plugin: entry point, status, full error, every registered name."""
    lines = [f"plugin {info.id!r} from {info.distribution} {info.version}: {info.status}"]
    if info.entry_point:
        lines.append(f"entry point: {info.id} = {info.entry_point}")
    if info.error:
        lines += textwrap.wrap(f"error: {info.error}", width, subsequent_indent="  ")
    for kind, _ in KIND_COLUMNS:
        names = info.registered.get(kind)
        if names:
            lines += textwrap.wrap(f"{kind} ({len(names)}): {', '.join(names)}", width, subsequent_indent="  ")
    return "\n".join(lines)
