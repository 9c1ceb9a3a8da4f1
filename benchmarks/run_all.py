"""Run every benchmark side by side and write docs/benchmarks.md.

Usage: ``python benchmarks/run_all.py [--quick] [--runs N] [--only loader,image,...] [--out PATH]
[--heading TITLE] [--command TEXT]`` (``benchmarks/gpu.sh`` runs it on a GPU).
Each ``bench_<name>.py`` that exposes ``run(quick[, runs]) -> list[BenchResult]`` is a suite;
scripts without ``run`` (stand-alone measurements) are skipped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.metadata as md
import os
import platform
import re
import statistics
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import (  # noqa: E402
    SETTLE_S,
    BenchResult,
    call_run,
    markdown,
    paired_ratios,
    print_results,
    steady_allocator,
)

# The core suites first, in this order; any other bench_<name>.py with a run() follows, sorted.
SUITES = ["loader", "prefetch", "operators", "image", "text", "audio", "multimodal"]
PACKAGES = ["jax", "jaxlib", "flax", "numpy", "modalax", "datarax", "grain", "torch", "librosa", "tokenizers"]
PACKAGES += ["pillow", "scipy"]
PREVIOUS = "2026-12-02"  # the date of the figures in BEFORE (no pause between timed runs then)
# (suite, title starts with, peer row starts with, ratio before, target): the headline ratios.
HEADLINES = [
    ("loader", "(a)", "hand-written jax.jit", 1.64, ">= 1.2"),
    ("loader", "(a)", "datarax 0.1.4 (shuffled", 5.13, ""),
    ("loader", "(a)", "datarax 0.1.4 (unshuffled", 2.03, ""),
    ("loader", "(b)", "hand-written jax.jit", 1.03, ">= 1.0"),
    ("loader", "(c)", "numpy", 0.89, ">= 0.9"),
    ("image", "image pipeline", "torch", 2.40, ">= 1.5"),
    ("audio", "mel", "torch", 1.12, ">= 1.3"),
    ("text", "tokenize", "HF", 11.73, ">= 2.5"),
    ("multimodal", "aligned", "per-sample loop, reference", 281.27, ">= 100"),
]
BEFORE_NOTES = {
    ("audio", "mel", "torch"): "before: whole-batch kernel; no pause, so librosa's spinning threads slowed the"
    " multi-threaded rows after them (torch's 2-thread row among them)",
}


def suites(only: str | None) -> list[str]:
    """The suites to run: ``only`` (comma-separated) or every bench_<name>.py, core ones first."""
    if only:
        return only.split(",")
    found = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    return [s for s in SUITES if s in found] + [s for s in found if s not in SUITES]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _load() -> str:
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _versions() -> list[str]:
    out = [f"python {platform.python_version()}"]
    for name in PACKAGES:
        try:
            out.append(f"{name} {md.version(name)}")
        except md.PackageNotFoundError:
            continue
    return out


def headline_rows(results: dict[str, list[BenchResult]]) -> list[str]:
    """Headline ratios now against the previous document's, flagging the ones that went down."""
    lines = [
        f"| case | modalax vs | before ({PREVIOUS}) | now | target | change |",
        "|---|---|---:|---:|---:|---|",
    ]
    for suite, title, peer, before, target in HEADLINES:
        res = next((r for r in results.get(suite, []) if r.title.startswith(title)), None)
        peers = {k: v for k, v in res.rows.items() if k.startswith(peer)} if res and res.subject in res.rows else {}
        if not peers:
            continue
        best = max(peers, key=peers.__getitem__)  # the fastest matching peer row
        now = res.rows[res.subject] / peers[best]  # type: ignore[union-attr]
        change = "went down" if now < before else "up"
        note = BEFORE_NOTES.get((suite, title, peer))
        lines.append(
            f"| {suite} {title} | {best} | {before:.2f}x | {now:.2f}x | {target} | {change}"
            f"{'; ' + note if note else ''} |"
        )
    return lines


def _measured(ratio: float, per_round: list[float] | None, unit: str = "x") -> tuple[str, float]:
    """The measured cell (ratio of medians; per-round median and range) and the figure a target is checked on."""
    if not per_round:
        return f"{ratio:.2f}{unit}", ratio
    med = statistics.median(per_round)
    return f"{ratio:.2f}{unit}; per round {med:.2f}{unit} ({min(per_round):.2f}-{max(per_round):.2f})", med


def _clause(res: BenchResult, clause: str) -> tuple[str, bool] | None:
    """(measured cell, met) of one target clause of ``res``, or None if it names nothing measured.

    Clauses: ``[the default ]>= Rx <peer row prefix>``, ``>= P% memory copy`` (the subject's share of
    the case's limit) and ``>= N <unit>`` (the subject's median throughput).
    """
    if res.subject not in res.rows:
        return None
    m = re.fullmatch(r"(the default )?>= ([\d.]+)x (.+)", clause)
    if m:
        peer_prefix = m.group(3).strip()
        peers = {k: v for k, v in res.rows.items() if k.startswith(peer_prefix) and k != res.subject}
        peers = peers or {k: v for k, v in res.rows.items() if k == peer_prefix}
        mine = next((k for k in res.rows if "(default" in k), None) if m.group(1) else res.subject
        if not peers or mine is None:
            return None
        peer = max(peers, key=peers.__getitem__)
        cell, figure = _measured(res.rows[mine] / peers[peer], res.paired(mine, peer))
        if m.group(1) and mine.endswith(f"{peer.removeprefix('prefetch=')} here)"):
            cell += " (the default resolves to this depth here: the same loader, so the gap is noise)"
            return cell, True
        return cell, figure >= float(m.group(2))
    m = re.fullmatch(r">= ([\d.]+)% (.+)", clause)
    if m and res.limit is not None:
        lt = res.limit_timing
        per = paired_ratios(res.timings[res.subject], lt) if lt and res.subject in res.timings else None
        share = res.rows[res.subject] / res.limit[1]
        cell = f"{share:.0%} of the best copy"
        figure = share
        if per:
            figure = statistics.median(per)
            cell += f"; per round {figure:.0%} ({min(per):.0%}-{max(per):.0%})"
        return cell, figure * 100 >= float(m.group(1))
    m = re.fullmatch(r">= ([\d,.]+) (\S+)", clause)
    if m and m.group(2) == res.unit:
        value = res.rows[res.subject]
        return f"{value:,.0f} {res.unit}", value >= float(m.group(1).replace(",", ""))
    return None


def target_rows(results: dict[str, list[BenchResult]]) -> list[str]:
    """Every target clause of every case: what was measured and whether it is met.

    Ratios are checked on the median of the per-round ratios where both rows ran in one race
    (the rows of a round ran back to back), else on the ratio of the medians; both are shown.
    """
    lines = ["| suite | case | target | measured | met |", "|---|---|---|---|---|"]
    for suite, items in results.items():
        for res in items:
            for clause in re.split(r",\s*(?=(?:the default )?>=)", res.target):
                got = _clause(res, clause.strip())
                if got is None:
                    continue
                cell, met = got
                lines.append(
                    f"| {suite} | {res.title[:80]} | {clause.strip()} | {cell} | {'yes' if met else '**no**'} |"
                )
    return lines


def _caches() -> str:
    """The CPU's cache sizes (Linux sysfs), e.g. ``L1d 48K, L2 1024K, L3 32768K``."""
    out = []
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            level = (index / "level").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        if kind != "Instruction":
            out.append(f"L{level}{'d' if kind == 'Data' else ''} {size}")
    return ", ".join(out) or "unknown"


def render(
    results: dict[str, list[BenchResult]],
    errors: dict[str, str],
    quick: bool,
    load: tuple[str, str],
    heading: str = "Benchmarks",
    command: str = "`nox -s bench` (`python benchmarks/run_all.py`)",
) -> str:
    """The markdown report."""
    import jax

    cpu = jax.default_backend() == "cpu"
    headlines = [
        "## Headline ratios, then and now",
        "",
        *headline_rows(results),
        "",
        '"went down": the ratio is lower than in the previous document. The method changed once since: the',
        "pause before every timed run (above), which lets multi-threaded peers run on idle cores; the rest is",
        "the noise of a shared machine.",
        "",
    ]
    lines = [
        f"# {heading}",
        "",
        f"Generated by {command}. Method: every contender of a case is",
        "built once, in one process, on the same data; its **first call** (trace and compile included) is timed",
        "on its own; after one warm-up run each, the contenders run **round-robin**, one run each per round, so",
        "a noisy spell of the machine falls on all of them alike. Tables show the median, min and max throughput",
        "of the rounds and their number; the ratio is modalax's median over the row's (above 1: modalax faster),",
        "and the per-round column the median (min-max) of modalax's rate over the row's within each round: the",
        "rows of a round ran back to back, so a busy spell moves that ratio less. Targets are checked on it.",
        "Where a case has a physical limit (a plain memory copy of the same bytes, raced with the contenders),",
        "its best and median rate follow the table, so a reader sees when memory bandwidth sets a ratio;",
        "the loader and prefetch suites run at two sizes, out of cache (`large`) and in cache (`small`).",
        "modalax rows use `DataLoader` at its default settings and the plugins' shipped operators; hand-written",
        "references compute what the shipped operators compute, written as one would by hand (each script checks",
        "equal outputs, to float32 rounding, before timing); rows named `extra:` are not targets. Every case",
        f"names the one command that reruns it. Before every timed run the process pauses {SETTLE_S} s, so that worker",
        "threads a library leaves spinning after a call (OpenBLAS, OpenMP) park before the next contender runs.",
        "",
        f"- date: {dt.date.today().isoformat()}",
        f"- machine: {_cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}",
        f"- caches: {_caches()}",
        f"- jax backend: {jax.default_backend()} ({len(jax.devices())} device(s): {jax.devices()[0].device_kind})",
        f"- versions: {', '.join(_versions())}",
        f"- mode: {'quick (reduced sizes and runs)' if quick else 'full sizes'}",
        f"- allocator: `GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '')}` (freed memory is kept: see"
        " `benchmarks/common.py`; without it, page faults of recycled batch buffers fell on one contender"
        " or another from run to run)",
        f"- load average (1/5/15 min) at start {load[0]}, at end {load[1]}: the machine was shared while this ran,"
        " so single runs vary (see min/max); compare rows of one table, which ran interleaved.",
        "",
        "## Targets",
        "",
        *target_rows(results),
        "",
        *(headlines if cpu else []),  # the figures before are CPU figures
    ]
    for suite, items in results.items():
        lines += [f"## {suite}", ""]
        for res in items:
            lines += markdown(res)
    for suite, err in errors.items():
        lines += [f"## {suite}", "", f"Not run: {err}", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="reduced sizes (a smoke run)")
    parser.add_argument("--runs", type=int, default=None, help="timed rounds per case (default: per script)")
    parser.add_argument("--only", default=None, help="comma-separated suites (default: every bench_*.py)")
    parser.add_argument("--out", default=str(HERE.parent / "docs" / "benchmarks.md"))
    parser.add_argument("--heading", default="Benchmarks", help="the document's title")
    parser.add_argument("--command", default=None, help="what the document says generated it")
    args = parser.parse_args(argv)
    steady_allocator()
    load_start = _load()
    results: dict[str, list[BenchResult]] = {}
    errors: dict[str, str] = {}
    for suite in suites(args.only):
        if not (HERE / f"bench_{suite}.py").exists():
            continue
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(f"bench_{suite}")
            if not callable(getattr(module, "run", None)):
                continue  # a stand-alone script, not a suite
            print(f"== {suite}", flush=True)
            results[suite] = call_run(module.run, quick=args.quick, runs=args.runs)
        except Exception as exc:
            traceback.print_exc()
            errors[suite] = f"{type(exc).__name__}: {exc}"
            continue
        print_results(results[suite])
        print(f"({time.perf_counter() - t0:.0f} s)", flush=True)
    load = (load_start, _load())
    command = f"`{args.command}`" if args.command else "`nox -s bench` (`python benchmarks/run_all.py`)"
    text = render(results, errors, args.quick, load, args.heading, command)
    Path(args.out).write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
