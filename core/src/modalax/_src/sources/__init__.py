"""Data sources: the indexed-access protocol and the in-memory and file-backed bases."""

from modalax._src.sources.array import ArraySource
from modalax._src.sources.base import DataSource, Fingerprint, IndexedSource, fingerprint_of
from modalax._src.sources.file import VALID_KEY, FileSource
from modalax._src.sources.folders import FolderScan, list_files, normalize_extensions, scan_class_folders, split_folder
from modalax._src.sources.foreign import SequenceSource, as_source
from modalax._src.sources.hf import HFSource
from modalax._src.sources.subsets import Concat, Subset, random_split

__all__ = [
    "VALID_KEY",
    "ArraySource",
    "Concat",
    "DataSource",
    "FileSource",
    "Fingerprint",
    "FolderScan",
    "HFSource",
    "IndexedSource",
    "SequenceSource",
    "Subset",
    "as_source",
    "fingerprint_of",
    "list_files",
    "normalize_extensions",
    "random_split",
    "scan_class_folders",
    "split_folder",
]
