"""The plugin as installed: discovery, a light hook module, registrations, the previewer, the guide."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

import modalax
from modalax.plugin import get_modality_record, resolve
from modalax_text import SyntheticTextDataset, text_config

DOC = Path(__file__).resolve().parents[2] / "docs" / "modalities" / "text.md"


def test_discovered_through_the_entry_point():
    assert "text" in modalax.list_modalities()
    info = next(p for p in modalax.list_plugins() if p.id == "text")
    assert info.distribution == "modalax-text" and info.status == "loaded"
    assert info.registered["modalities"] == ["text"]
    assert sorted(info.registered["datasets"]) == ["text/file", "text/packed", "text/simple", "text/synthetic"]
    assert modalax.list_kernels("text.") == [
        "text.causal_mask",
        "text.mask_tokens",
        "text.padding_mask",
        "text.position_encoding",
        "text.random_substitution",
        "text.token_dropout",
    ]
    assert modalax.list_operators("text") == [
        "text/causal_mask",
        "text/mask_tokens",
        "text/padding_mask",
        "text/position_encoding",
        "text/token_dropout",
        "text/token_substitution",
    ]
    for name in modalax.list_operators("text"):
        assert modalax.get_operator(*name.split("/")).__module__ == "modalax_text.operators"


def test_hook_module_and_package_import_no_jax():
    code = textwrap.dedent("""
        import sys
        import modalax, modalax_text, modalax_text.plugin
        assert modalax.list_modalities() == ["text"], modalax.list_modalities()
        modalax.list_kernels(); modalax.list_operators(); modalax.list_datasets()
        print(sorted(m for m in ("jax", "flax", "numpy") if m in sys.modules))
    """)
    env = {**os.environ, "MODALAX_LOAD_PLUGINS": "text", "MODALAX_STRICT_PLUGINS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120, env=env)
    assert out.stdout.strip() == "[]"


def test_previewer_writes_texts_and_ids(tmp_path):
    ds = SyntheticTextDataset(text_config(max_length=16), 8, "palindromes", rngs=0)
    idx = np.arange(4)
    batch = {**ds.get_records(idx), **ds.host_records(idx)}
    record = get_modality_record("text")
    written = resolve(record.previewer)(batch, tmp_path)
    assert [p.name for p in written] == ["texts.txt", "tokens.txt"]
    texts = written[0].read_text(encoding="utf-8").splitlines()
    assert texts[0] == f"   0: {batch['texts'][0]}"
    ids = [list(map(int, line.split(": ")[1].split())) for line in written[1].read_text().splitlines()]
    assert ids[1] == np.asarray(batch["text_tokens"][1])[: len(ids[1])].tolist() and ids[1][-1] == 3


def test_cli_preview(tmp_path):
    env = {**os.environ, "MODALAX_LOAD_PLUGINS": "text"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "modalax",
            "preview",
            "text",
            "synthetic",
            "--n",
            "3",
            "--out",
            str(tmp_path),
            "--set",
            "pattern_type=sequences",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = (tmp_path / "texts.txt").read_text().splitlines()
    assert len(lines) == 3 and all(re.fullmatch(r"\s+\d: (\d+ ?)+", line) for line in lines)
