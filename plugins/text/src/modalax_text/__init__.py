"""modalax-text: the text modality of modalax.

A word-level vocabulary tokenizer (with a lossless byte-level fallback), a character-level one,
any tokenizer with ``encode``/``decode`` (HF ``tokenizers``, ``transformers``, SentencePiece), synthetic, in-memory
and file-backed text datasets, token operators and kernels, text metrics and a model adapter.

``import modalax_text`` is light (the entry point imports it): jax-heavy names are imported on
first access.
"""

from __future__ import annotations

from modalax.plugin import lazy_exports

__version__ = "0.2.0"

_LAZY = {
    "TextParams": "modalax_text.params",
    "text_config": "modalax_text.params",
    "text_params_from": "modalax_text.params",
    "Vocabulary": "modalax_text.vocabulary",
    "Tokenizer": "modalax_text.tokenizer",
    "CharTokenizer": "modalax_text.char",
    "EncodeDecode": "modalax_text.external",
    "ExternalTokenizer": "modalax_text.external",
    "TextTokenizer": "modalax_text.external",
    "as_text_tokenizer": "modalax_text.external",
    "check_token_ids": "modalax_text.ids",
    "sentence_bleu": "modalax_text.sequence_metrics",
    "rouge_l_per_sequence": "modalax_text.sequence_metrics",
    "distinct_n_per_sequence": "modalax_text.sequence_metrics",
    "vocabulary_coverage": "modalax_text.sequence_metrics",
    "unk_rate": "modalax_text.sequence_metrics",
    "TextModality": "modalax_text.modality",
    "TextDataset": "modalax_text.datasets",
    "SyntheticTextDataset": "modalax_text.datasets",
    "SimpleTextDataset": "modalax_text.datasets",
    "TextFileDataset": "modalax_text.datasets",
    "PatternType": "modalax_text.datasets",
    "create_text_dataset": "modalax_text.datasets",
    "get_vocab_stats": "modalax_text.datasets",
    "TextEvaluationSuite": "modalax_text.evaluation",
    "TextAdapter": "modalax_text.adapter",
    "TextLanguageModel": "modalax_text.model",
    "TextModel": "modalax_text.model",
    "cross_entropy_loss": "modalax_text.model",
    "TokenMaskingConfig": "modalax_text.operators",
    "TokenMasking": "modalax_text.operators",
    "TokenDropoutConfig": "modalax_text.operators",
    "TokenDropout": "modalax_text.operators",
    "TokenSubstitutionConfig": "modalax_text.operators",
    "TokenSubstitution": "modalax_text.operators",
    "PaddingMaskConfig": "modalax_text.operators",
    "PaddingMask": "modalax_text.operators",
    "CausalMaskConfig": "modalax_text.operators",
    "CausalMask": "modalax_text.operators",
    "PositionEncodingConfig": "modalax_text.operators",
    "PositionEncoding": "modalax_text.operators",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


__all__ = sorted(_LAZY)
