"""Hook module of the ``text`` plugin: light, it imports no jax.

Everything is registered as ``"module:attr"`` strings, imported on first use.
"""

from __future__ import annotations

from modalax.plugin import (
    AdapterRecord,
    DatasetRecord,
    KernelRecord,
    ModalityRecord,
    OperatorRecord,
    Register,
    hookimpl,
)

#: The modalax plugin API this plugin is built against (checked by discovery).
MODALAX_PLUGIN_API = "1.0"

_PKG = "modalax_text"

# kernel name -> (function in modalax_text.kernels, static argument names, description)
KERNELS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "text.mask_tokens": (
        "mask_tokens",
        ("mask_prob", "mask_token_id", "vocab_size", "protected", "specials", "random_prob", "keep_prob"),
        "BERT-style masking (mask / random / keep) with one key per record",
    ),
    "text.token_dropout": (
        "token_dropout",
        ("rate", "unk_token_id", "protected", "vocab_size"),
        "tokens to UNK at random",
    ),
    "text.random_substitution": (
        "random_substitution",
        ("rate", "vocab_size", "protected", "specials"),
        "tokens to random non-special ids",
    ),
    "text.padding_mask": ("padding_mask", ("pad_token_id",), "True where not padding"),
    "text.causal_mask": ("causal_mask", ("pad_token_id",), "causal attention masks, padded keys hidden"),
    "text.position_encoding": ("position_encoding", ("dim", "max_timescale"), "sinusoidal position encodings"),
}

OPERATORS: dict[str, tuple[str, str]] = {
    "mask_tokens": ("TokenMasking", "BERT-style masking; writes the selection to mask_key"),
    "token_dropout": ("TokenDropout", "replace tokens by UNK with probability rate"),
    "token_substitution": ("TokenSubstitution", "replace tokens by random ids with probability rate"),
    "padding_mask": ("PaddingMask", "padding mask field"),
    "causal_mask": ("CausalMask", "causal attention mask field"),
    "position_encoding": ("PositionEncoding", "sinusoidal position encoding field"),
}


@hookimpl
def register_modalities(register: Register) -> None:
    register(
        ModalityRecord(
            "text",
            f"{_PKG}.modality:TextModality",
            "word-level vocabulary tokenizer (byte-level until a vocabulary is built), text_tokens batches",
            config_class=f"{_PKG}.params:TextParams",
            previewer=f"{_PKG}.preview:preview",
        )
    )


@hookimpl
def register_datasets(register: Register) -> None:
    register(
        DatasetRecord(
            "text",
            "synthetic",
            f"{_PKG}.datasets.synthetic:SyntheticTextDataset",
            "grammar sentences, repeated phrases, number sequences, palindromes; made on demand",
        )
    )
    register(
        DatasetRecord("text", "simple", f"{_PKG}.datasets.simple:SimpleTextDataset", "a list of strings (texts=...)")
    )
    register(
        DatasetRecord(
            "text",
            "file",
            f"{_PKG}.datasets.files:TextFileDataset",
            "text files (one sample a line) or JSONL (a named field), read lazily (path=...)",
        )
    )
    register(DatasetRecord("text", "packed", f"{_PKG}.packed:PackedTextDataset", "ArrayRecord shards of modalax.pack"))


@hookimpl
def register_adapters(register: Register) -> None:
    register(AdapterRecord("text", "default", f"{_PKG}.adapter:TextAdapter", "causal transformer language model"))


@hookimpl
def register_kernels(register: Register) -> None:
    for name, (fn, static, description) in KERNELS.items():
        # every text kernel works per record: the conformance kit's example is the function's namesake
        register(KernelRecord(name, f"{_PKG}.kernels:{fn}", static, description, f"{_PKG}.examples:{fn}"))


@hookimpl
def register_operators(register: Register) -> None:
    for name, (cls, description) in OPERATORS.items():
        register(OperatorRecord("text", name, f"{_PKG}.operators:{cls}", description))
