"""Data sources: the indexed-access protocol and the in-memory and file-backed bases."""

from modalax.sources.array import ArraySource
from modalax.sources.base import DataSource, IndexedSource
from modalax.sources.file import VALID_KEY, FileSource
from modalax.sources.folders import FolderScan, normalize_extensions, scan_class_folders, split_folder
from modalax.sources.foreign import SequenceSource, as_source
from modalax.sources.hf import HFSource
from modalax.sources.subsets import Concat, Subset, random_split

__all__ = [
    "VALID_KEY",
    "ArraySource",
    "Concat",
    "DataSource",
    "FileSource",
    "FolderScan",
    "HFSource",
    "IndexedSource",
    "SequenceSource",
    "Subset",
    "as_source",
    "normalize_extensions",
    "random_split",
    "scan_class_folders",
    "split_folder",
]
