"""Text datasets: synthetic, in-memory and file-backed, and the API reference's factory."""

from modalax_text.datasets.base import TextDataset, get_vocab_stats
from modalax_text.datasets.factory import DATASET_TYPES, create_text_dataset
from modalax_text.datasets.files import TextFileDataset
from modalax_text.datasets.simple import SimpleTextDataset
from modalax_text.datasets.synthetic import PatternType, SyntheticTextDataset

__all__ = [
    "DATASET_TYPES",
    "PatternType",
    "SimpleTextDataset",
    "SyntheticTextDataset",
    "TextDataset",
    "TextFileDataset",
    "create_text_dataset",
    "get_vocab_stats",
]
