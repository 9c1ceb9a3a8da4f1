"""Data sources: the indexed-access protocol and the in-memory and file-backed bases."""

from modalax.sources.array import ArraySource
from modalax.sources.base import DataSource, IndexedSource
from modalax.sources.file import FileSource

__all__ = ["ArraySource", "DataSource", "FileSource", "IndexedSource"]
