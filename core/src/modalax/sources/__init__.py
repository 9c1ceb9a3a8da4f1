"""Data sources: the indexed-access protocol and the in-memory and file-backed bases."""

from modalax.sources.array import ArraySource
from modalax.sources.base import DataSource, IndexedSource
from modalax.sources.file import VALID_KEY, FileSource
from modalax.sources.folders import FolderScan, normalize_extensions, scan_class_folders, split_folder

__all__ = [
    "VALID_KEY",
    "ArraySource",
    "DataSource",
    "FileSource",
    "FolderScan",
    "IndexedSource",
    "normalize_extensions",
    "scan_class_folders",
    "split_folder",
]
