"""Progress of ``modalax demo``: every stage says what it does and moves while it runs.

A stage is a numbered header line (``[2/6] training contrastive encoders ...``) and, for work
counted in steps, a bar: tqdm's when tqdm is installed, else a plain line every tenth of the
way (so a log file or a pipe shows progress too). The loss shown is read every 25 steps only:
reading it waits for that step, which would otherwise slow the training it reports on.
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any

__all__ = ["Stages"]

_LOSS_EVERY = 25


class Stages:
    """Numbered stages of one run; ``bar(total, unit)`` gives a step callback for the current stage."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.current = 0
        self._tqdm = importlib.util.find_spec("tqdm") is not None

    def start(self, title: str) -> None:
        """Print the next stage's header."""
        self.current += 1
        print(f"[{self.current}/{self.total}] {title}", flush=True)

    def bar(self, total: int, unit: str = "step") -> _Bar:
        """A progress bar over ``total`` units; call it with ``(index, loss)`` after each, ``close()`` at the end."""
        return _Bar(total, unit, self._tqdm)


class _Bar:
    def __init__(self, total: int, unit: str, use_tqdm: bool) -> None:
        self.total, self.unit, self.done = total, unit, 0
        self.start = time.perf_counter()
        self._next_line = max(1, total // 10)
        self._tqdm: Any = None
        if use_tqdm:
            from tqdm.auto import tqdm

            shape = "      {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} " + unit + "s [{elapsed}<{remaining}{postfix}]"
            self._tqdm = tqdm(total=total, unit=unit, leave=False, dynamic_ncols=True, bar_format=shape)

    def __call__(self, index: int, loss: Any = None) -> None:
        self.done = index + 1
        show_loss = loss is not None and (self.done % _LOSS_EVERY == 0 or self.done == self.total)
        if self._tqdm is not None:
            self._tqdm.update(1)
            if show_loss:
                self._tqdm.set_postfix(loss=f"{float(loss):.3f}", refresh=False)
        elif self.done % self._next_line == 0 or self.done == self.total:
            text = f", loss {float(loss):.3f}" if loss is not None else ""
            print(
                f"      {self.done}/{self.total} {self.unit}s, {time.perf_counter() - self.start:.0f} s{text}",
                flush=True,
            )

    def close(self) -> float:
        """End the bar; returns the seconds it ran."""
        if self._tqdm is not None:
            self._tqdm.close()
        return time.perf_counter() - self.start
