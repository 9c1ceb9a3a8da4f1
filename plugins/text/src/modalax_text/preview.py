"""Previewer of the text modality: the samples as a person reads them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from modalax.plugin import save_text

__all__ = ["preview"]


def preview(batch: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write ``texts.txt`` (raw texts, when the batch has them) and ``tokens.txt`` (ids, trailing zeros cut)."""
    out_dir = Path(out_dir)
    written = []
    if "texts" in batch:
        written.append(save_text([str(t) for t in batch["texts"]], out_dir / "texts.txt"))
    if "text_tokens" in batch:
        tokens = np.asarray(batch["text_tokens"])
        tokens = tokens[None] if tokens.ndim == 1 else tokens
        nonpad = tokens != 0  # the default padding id
        ends = np.where(nonpad.any(axis=1), tokens.shape[1] - np.argmax(nonpad[:, ::-1], axis=1), 0)
        lines = [" ".join(map(str, row[:end].tolist())) for row, end in zip(tokens, ends, strict=True)]
        written.append(save_text(lines, out_dir / "tokens.txt"))
    return written
