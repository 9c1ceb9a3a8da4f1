"""Text rendering of plugin records for ``modalax plugins`` and ``modalax info PLUGIN``.

The table has one row per plugin with counts per kind, so it fits a 100-column terminal
however much a plugin registers; the full lists are in ``--json`` and ``modalax info``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from modalax._src.discovery import PluginInfo

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
_CAPS = {"id": 14, "distribution": 20, "version": 10}


def fit(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with ``...`` when longer."""
    flat = " ".join(str(text).split())
    if len(flat) <= width:
        return flat
    return flat[: max(width - 3, 0)] + "..." if width >= 3 else flat[:width]


def _error(info: PluginInfo) -> str:
    if info.status == "incompatible":
        return info.error or ""
    exc = info.exception
    if exc is not None and str(exc):
        return f"{type(exc).__name__}: {exc}"
    return info.error or ""


def plugins_table(infos: Sequence[PluginInfo], width: int = 100) -> str:
    """One row per plugin: id, distribution, version, status, then counts per kind or the error.

    A failed or incompatible plugin's error takes the place of its counts, cut to the line width.
    """
    header = ["id", "distribution", "version", "status", *(h for _, h in KIND_COLUMNS)]
    rows: list[list[str]] = []
    for info in infos:
        cells = [fit(info.id, _CAPS["id"]), fit(info.distribution, _CAPS["distribution"])]
        cells += [fit(info.version, _CAPS["version"]), info.status]
        counts = info.counts()
        cells += [str(counts.get(kind, 0) or "-") for kind, _ in KIND_COLUMNS] if info.status == "loaded" else []
        rows.append(cells)
    widths = [max(len(r[i]) for r in [header, *rows] if i < len(r)) for i in range(len(header))]
    start = sum(widths[:4]) + 2 * 4  # where the counts (or the error) begin
    lines = []
    for row, row_info in zip([header, ["-" * w for w in widths], *rows], [None, None, *infos], strict=True):
        line = "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4]))
        if len(row) > 4:
            line += "  " + "  ".join(cell.ljust(widths[4 + i]) for i, cell in enumerate(row[4:]))
        elif row_info is not None and row_info.status in ("failed", "incompatible"):
            line += "  " + fit(_error(row_info), max(width - start, 0))
        lines.append(line.rstrip()[:width])
    return "\n".join(lines)


def plugin_detail(info: PluginInfo, width: int = 100) -> str:
    """Everything about one plugin: entry point, status, full error, every registered name."""
    parts = [f"plugin {info.id!r} from {info.distribution} {info.version}: {info.status}"]
    if info.entry_point:
        parts.append(f"entry point: {info.id} = {info.entry_point}")
    parts.append(f"plugin API: {info.api_version or 'not declared'}")
    if info.error:
        parts.append(f"error: {info.error}")
    parts += [f"problem: {problem}" for problem in info.problems]
    parts += [
        f"{kind} ({len(info.registered[kind])}): {', '.join(info.registered[kind])}"
        for kind, _ in KIND_COLUMNS
        if info.registered.get(kind)
    ]
    return "\n".join(line for part in parts for line in textwrap.wrap(part, width, subsequent_indent="  "))
