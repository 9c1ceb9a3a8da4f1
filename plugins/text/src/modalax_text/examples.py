"""Examples the conformance kit runs the ``text.*`` kernels on (registered in ``plugin.py``).

A kernel's example is ``() -> (args, kwargs)``: a small batched call, arrays with a leading
batch axis in ``args`` and the static settings real callers use in ``kwargs``; the kit jits the
kernel on it and checks each record's output against the kernel run on that record alone. The
tokens are records of the plugin's generated dataset (sentences of different lengths with BOS,
EOS and padding), the special ids and vocabulary size those of the default ``TextParams``, as
the operators pass them. Every ``text.*`` kernel works per record, so each has an example; the
operators' default configs fit the generated records, so they need none.

Imported only when the kit runs (it imports jax); cost: one small generated dataset per process.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import numpy as np

import modalax
from modalax_text.params import TextParams

__all__ = ["causal_mask", "mask_tokens", "padding_mask", "position_encoding", "random_substitution", "token_dropout"]

Call = tuple[tuple[Any, ...], dict[str, Any]]

#: Records per example and their padded length.
N, LENGTH = 5, 24
PARAMS = TextParams(max_length=LENGTH)
#: Never changed by the stochastic kernels: padding, BOS and EOS (the operators' ``protected``).
PROTECTED = (PARAMS.pad_token_id, PARAMS.bos_token_id, PARAMS.eos_token_id)
#: Never drawn as a random replacement: every special id.
SPECIALS = tuple(PARAMS.special_ids.values())


@functools.cache
def _token_rows() -> np.ndarray:
    ds = modalax.create_dataset("text", "synthetic", config=PARAMS, dataset_size=N, seed=0)
    out = np.asarray(ds.fetch(np.arange(N, dtype=np.int32))["text_tokens"], np.int32)
    out.setflags(write=False)
    return out


def _tokens() -> np.ndarray:
    """``(N, 24)`` int32: BOS, word ids, EOS, then padding."""
    return _token_rows()


def _keys() -> jax.Array:
    """One key per record, as the loader gives operators."""
    return jax.random.split(jax.random.key(0), N)


def mask_tokens() -> Call:
    """BERT masking at a rate high enough that every record has masked, random and kept tokens."""
    kwargs = {
        "mask_prob": 0.5,
        "mask_token_id": PARAMS.unk_token_id,
        "vocab_size": PARAMS.vocab_size,
        "protected": PROTECTED,
        "specials": SPECIALS,
        "random_prob": 0.1,
        "keep_prob": 0.1,
    }
    return (_tokens(), _keys()), kwargs


def token_dropout() -> Call:
    """Tokens to UNK with probability 0.3."""
    kwargs = {"rate": 0.3, "unk_token_id": PARAMS.unk_token_id, "protected": PROTECTED, "vocab_size": PARAMS.vocab_size}
    return (_tokens(), _keys()), kwargs


def random_substitution() -> Call:
    """Tokens to random regular ids with probability 0.3."""
    kwargs = {"rate": 0.3, "vocab_size": PARAMS.vocab_size, "protected": PROTECTED, "specials": SPECIALS}
    return (_tokens(), _keys()), kwargs


def padding_mask() -> Call:
    """True where not padding."""
    return (_tokens(),), {"pad_token_id": PARAMS.pad_token_id}


def causal_mask() -> Call:
    """Causal masks hiding the padded keys."""
    return (_tokens(),), {"pad_token_id": PARAMS.pad_token_id}


def position_encoding() -> Call:
    """64-dimensional sinusoidal encodings."""
    return (_tokens(),), {"dim": 64, "max_timescale": 10000.0}
