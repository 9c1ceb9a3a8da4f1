"""Bring your own tokenizer: one protocol, one thin adapter over the common tokenizer APIs.

Any object with ``encode`` and ``decode`` (``EncodeDecode``) drives the text modality through
``ExternalTokenizer``, which normalises the three common APIs:

* a HF ``tokenizers.Tokenizer``: ``encode_batch(texts, add_special_tokens=False)`` -> ``.ids``,
  special ids from ``token_to_id("[PAD]")`` / ``"<pad>"`` ..., size from ``get_vocab_size()``;
* a ``transformers`` tokenizer: ``encode(text, add_special_tokens=False)`` -> list of ids,
  special ids from ``pad_token_id``, ``unk_token_id``, ``bos_token_id`` (or ``cls_token_id``),
  ``eos_token_id`` (or ``sep_token_id``), ``mask_token_id``, size from ``len(tokenizer)``;
* a SentencePiece processor: ``encode_as_ids(text)``, special ids from ``pad_id()``,
  ``unk_id()``, ``bos_id()``, ``eos_id()`` (-1 means absent), size from ``get_piece_size()``.

The adapter adds BOS and EOS itself and pads/truncates to ``max_length`` exactly as modalax's
own tokenizers do, so ``text_tokens`` rows are ``[bos, *tokenizer ids, eos, pad...]``.  Special
ids given as keywords win over the tokenizer's; a needed one (pad, unk, bos, eos) that is
neither given nor defined is a ``ConfigError``.  ``case_sensitive=False`` lower-cases the text
and ``normalization`` puts it in a Unicode normal form before it reaches the tokenizer.

Special-token *text* in the input (a user writing ``"</s>"`` or ``"[SEP]"``) is text, never a
special token: a HF ``tokenizers.Tokenizer`` encodes through a private copy with
``encode_special_tokens = True`` (HF's own switch for exactly this; the user's object is not
touched), a ``transformers`` tokenizer gets ``split_special_tokens=True`` (its equivalent).
The row layout reserves the padding, BOS and EOS ids, so a piece of text that the tokenizer's
model still maps to one of them (a word-level vocabulary that holds ``"</s>"`` as a word) is
written as UNK: a row then ends at its own EOS, and decodes as the tokenizer's own
``decode`` does (which skips special tokens).
"""

from __future__ import annotations

import copy
import inspect
import os
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from modalax.plugin import ConfigError, DataError
from modalax_text.ids import check_token_ids
from modalax_text.normalize import prepare
from modalax_text.params import TextParams, text_params_from
from modalax_text.tokenizer import Tokenizer, _as_text_list, pack

__all__ = ["EncodeDecode", "ExternalTokenizer", "TextTokenizer", "as_text_tokenizer"]


@runtime_checkable
class EncodeDecode(Protocol):
    """Any tokenizer: ``encode(text)`` gives ids (a list, or an object with ``.ids``), ``decode(ids)`` text."""

    def encode(self, text: str, /, *args: Any, **kwargs: Any) -> Any: ...

    def decode(self, ids: Any, /, *args: Any, **kwargs: Any) -> Any: ...


@runtime_checkable
class TextTokenizer(Protocol):
    """What text datasets and ``TextModality`` use: fixed-length int32 ids and back."""

    params: TextParams

    def tokenize(self, texts: str | Sequence[str], *, max_length: int | None = None) -> np.ndarray: ...

    def detokenize(self, ids: Any) -> str | list[str]: ...

    def encode(self, text: str) -> np.ndarray: ...

    def normalize(self, text: str) -> str: ...


# special field -> (token strings to look up, attributes, SentencePiece-style methods)
_SPECIALS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "pad_token_id": (("[PAD]", "<pad>", "<|pad|>"), ("pad_token_id",), ("pad_id",)),
    "unk_token_id": (("[UNK]", "<unk>", "<|unk|>"), ("unk_token_id",), ("unk_id",)),
    "bos_token_id": (("[BOS]", "<bos>", "<s>", "[CLS]"), ("bos_token_id", "cls_token_id"), ("bos_id",)),
    "eos_token_id": (("[EOS]", "<eos>", "</s>", "[SEP]"), ("eos_token_id", "sep_token_id"), ("eos_id",)),
    "mask_token_id": (("[MASK]", "<mask>"), ("mask_token_id",), ()),
}


def _special_id(tok: Any, name: str) -> int | None:
    """The tokenizer's id for special ``name``, or None where it defines none."""
    tokens, attrs, methods = _SPECIALS[name]
    for attr in attrs:  # transformers: attributes (None when absent)
        value = getattr(tok, attr, None)
        if isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= 0:
            return int(value)
    for method in methods:  # SentencePiece: pad_id() ... (-1 when absent)
        fn = getattr(tok, method, None)
        if callable(fn):
            value = fn()
            if isinstance(value, int | np.integer) and value >= 0:
                return int(value)
    lookup = getattr(tok, "token_to_id", None)  # HF tokenizers: None for an unknown token
    if callable(lookup):
        for token in tokens:
            value = lookup(token)
            if value is not None:
                return int(value)
    return None


def _vocab_size(tok: Any) -> int | None:
    for method in ("get_vocab_size", "get_piece_size"):
        fn = getattr(tok, method, None)
        if callable(fn):
            return int(fn())
    if hasattr(tok, "__len__"):
        return len(tok)
    size = getattr(tok, "vocab_size", None)
    size = size() if callable(size) else size
    return int(size) if isinstance(size, int | np.integer) else None


class ExternalTokenizer:
    """A ``TextTokenizer`` over any ``encode``/``decode`` tokenizer (HF ``tokenizers``, ``transformers``,
    SentencePiece, or your own).

    ``params`` gives ``max_length`` and ``case_sensitive``; ``vocab_size`` and the special ids
    come from keywords, else from the tokenizer.  ``mask_token_id`` is the tokenizer's mask id
    (None when it has none), for ``TokenMaskingConfig``.
    """

    byte_level = False
    vocabulary = None

    def __init__(
        self,
        tokenizer: Any,
        params: Any = None,
        *,
        vocab_size: int | None = None,
        pad_token_id: int | None = None,
        unk_token_id: int | None = None,
        bos_token_id: int | None = None,
        eos_token_id: int | None = None,
        mask_token_id: int | None = None,
    ) -> None:
        if not isinstance(tokenizer, EncodeDecode):
            raise ConfigError(
                f"tokenizer: got {type(tokenizer).__name__}, expected an object with encode(text) and decode(ids) "
                "(a HF tokenizers.Tokenizer, a transformers tokenizer, a SentencePiece processor, "
                "or a modalax Tokenizer)"
            )
        self.tokenizer: Any = tokenizer  # duck-typed: its optional methods are probed by name
        base = text_params_from(params)
        given = {
            "pad_token_id": pad_token_id,
            "unk_token_id": unk_token_id,
            "bos_token_id": bos_token_id,
            "eos_token_id": eos_token_id,
            "mask_token_id": mask_token_id,
        }
        found = {k: (v if v is not None else _special_id(tokenizer, k)) for k, v in given.items()}
        name = type(tokenizer).__name__
        missing = [k for k, v in found.items() if v is None and k != "mask_token_id"]
        if missing:
            raise ConfigError(
                f"tokenizer {name}: defines no {', '.join(missing)} (looked for tokens such as "
                f"{', '.join(repr(t) for k in missing for t in _SPECIALS[k][0][:2])}); expected them given, e.g. "
                f"ExternalTokenizer(tokenizer, params, {missing[0]}=...)"
            )
        size = vocab_size if vocab_size is not None else _vocab_size(tokenizer)
        if size is None:
            raise ConfigError(f"tokenizer {name}: cannot tell its vocabulary size; expected vocab_size=... given")
        self.mask_token_id: int | None = found.pop("mask_token_id")
        try:
            self.params = base.replace(vocab_size=int(size), **found)
        except ConfigError as exc:
            raise ConfigError(f"tokenizer {name}: its ids do not fit TextParams: {exc}") from None
        if self.mask_token_id is not None and self.mask_token_id >= self.params.vocab_size:
            raise ConfigError(
                f"tokenizer {name}: mask_token_id {self.mask_token_id} is not below vocab_size={self.params.vocab_size}"
            )
        p = self.params
        self._framing = np.array([p.pad_token_id, p.bos_token_id, p.eos_token_id], np.int64)
        # HF tokenizers: a private copy that reads special-token text as text (the flag is set
        # again before each call: it does not survive pickling)
        self._as_text: Any = None
        if callable(getattr(tokenizer, "encode_batch", None)) and hasattr(tokenizer, "encode_special_tokens"):
            self._as_text = copy.deepcopy(tokenizer)
        self._split_kwargs = _split_special_kwargs(tokenizer)

    # ------------------------------------------------------------ properties
    @property
    def lowercase(self) -> bool:
        """Whether text is lower-cased before it reaches the tokenizer (``case_sensitive=False``)."""
        return not self.params.case_sensitive

    def __len__(self) -> int:
        return self.params.vocab_size

    def normalize(self, text: str) -> str:
        """The text handed to the tokenizer: lower-cased unless ``case_sensitive``, in the normal form."""
        return prepare(text, lowercase=self.lowercase, form=self.params.normalization)

    def save(self, path: str | os.PathLike[str]) -> Any:
        """Not supported: save the tokenizer with its own library."""
        raise ConfigError(f"{type(self.tokenizer).__name__}: save this tokenizer with its own library, not modalax")

    # ------------------------------------------------------------ text -> ids
    def _ids(self, texts: list[str]) -> list[Any]:
        tok = self.tokenizer
        texts = [self.normalize(t) for t in texts]
        if self._as_text is not None:  # HF tokenizers: one parallel call, special-token text as text
            self._as_text.encode_special_tokens = True
            return [e.ids for e in self._as_text.encode_batch(texts, add_special_tokens=False)]
        if callable(getattr(tok, "encode_batch", None)):
            return [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
        if callable(getattr(tok, "encode_as_ids", None)):  # SentencePiece (control symbols never come from text)
            return [tok.encode_as_ids(t) for t in texts]
        if callable(getattr(tok, "convert_tokens_to_ids", None)):  # transformers
            return [tok.encode(t, add_special_tokens=False, **self._split_kwargs) for t in texts]
        out = []
        for t in texts:
            ids = tok.encode(t)
            out.append(ids.ids if hasattr(ids, "ids") else ids)
        return out

    def _flat(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        runs = [np.asarray(r, dtype=np.int64).reshape(-1) for r in self._ids(texts)]
        lengths = np.fromiter(map(len, runs), dtype=np.int64, count=len(runs))
        flat = np.concatenate(runs) if runs else np.zeros(0, np.int64)
        check_token_ids(flat, self.params.vocab_size, f"{type(self.tokenizer).__name__}.encode output")
        # text the model maps to a padding, BOS or EOS id would frame the row: it reads as UNK
        flat = np.where(np.isin(flat, self._framing), self.params.unk_token_id, flat)
        return flat.astype(np.int32), lengths

    def encode(self, text: str) -> np.ndarray:
        """The tokenizer's ids of ``text`` (int32), without BOS, EOS or padding."""
        if not isinstance(text, str):
            raise DataError(f"ExternalTokenizer.encode: got {type(text).__name__}, expected str")
        return self._flat([text])[0]

    def tokenize(self, texts: str | Sequence[str], *, max_length: int | None = None) -> np.ndarray:
        """int32 ``(max_length,)`` or ``(B, max_length)``: BOS, the tokenizer's ids, EOS, padding."""
        length = int(self.params.max_length if max_length is None else max_length)
        if length < 2:
            raise ConfigError(f"ExternalTokenizer.tokenize.max_length: got {length!r}, expected an int >= 2")
        if isinstance(texts, str):
            return self.tokenize([texts], max_length=length)[0]
        flat, lengths = self._flat(_as_text_list(texts))
        return pack(flat, lengths, self.params, length)

    __call__ = tokenize

    # ------------------------------------------------------------ ids -> text
    def detokenize(self, ids: Any) -> str | list[str]:
        """The tokenizer's ``decode`` of each row, after dropping BOS and padding and stopping at EOS."""
        arr = np.asarray(ids)
        if arr.ndim == 1:
            return self.detokenize(arr[None])[0]
        if arr.ndim != 2:
            raise DataError(f"ExternalTokenizer.detokenize: got ids of shape {arr.shape}, expected (L,) or (B, L)")
        p = self.params
        arr = check_token_ids(arr, p.vocab_size, "ExternalTokenizer.detokenize: ids").astype(np.int64)
        is_eos = arr == p.eos_token_id
        cut = np.where(is_eos.any(axis=1), is_eos.argmax(axis=1), arr.shape[1])
        keep = (np.arange(arr.shape[1]) < cut[:, None]) & (arr != p.pad_token_id) & (arr != p.bos_token_id)
        decode = getattr(self.tokenizer, "decode_ids", None) or self.tokenizer.decode
        return [str(decode(arr[i][keep[i]].tolist())) for i in range(len(arr))]

    def __repr__(self) -> str:
        return f"ExternalTokenizer({type(self.tokenizer).__name__}, {self.params})"


def _split_special_kwargs(tokenizer: Any) -> dict[str, Any]:
    """``{"split_special_tokens": True}`` for a ``transformers`` tokenizer that has the option, else ``{}``."""
    if not hasattr(tokenizer, "split_special_tokens"):
        return {}
    try:
        params = inspect.signature(tokenizer.encode).parameters
    except (TypeError, ValueError):
        return {}
    takes = "split_special_tokens" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
    return {"split_special_tokens": True} if takes else {}


def as_text_tokenizer(tokenizer: Any, params: Any = None) -> Any:
    """A ``TextTokenizer`` from a modalax tokenizer, a saved vocabulary path, or any encode/decode tokenizer.

    ``None`` gives the byte-level ``Tokenizer`` for ``params``.
    """
    if tokenizer is None:
        return Tokenizer(params)
    if isinstance(tokenizer, Tokenizer | ExternalTokenizer):
        return tokenizer
    if isinstance(tokenizer, str | os.PathLike):
        return Tokenizer.load(tokenizer, params)
    return ExternalTokenizer(tokenizer, params)
