"""Packed shards: a dataset written once into ArrayRecord files and read by index.

``pack(data, out_dir, shards=N)`` writes; ``PackedDataset(root=out_dir)`` reads (modality plugins
register a ``packed`` dataset type that decodes file records like their folder datasets);
``verify(out_dir)`` reads a pack whole and compares it with its checksums.
Needs the ``array_record`` package: ``python -m pip install "array_record>=0.5"`` (the ``packed`` extra).
"""

from modalax._src.packed.dataset import PackedDataset
from modalax._src.packed.index import INDEX_NAME, FieldInfo, FileSum, PackedIndex, ShardInfo, shard_name
from modalax._src.packed.integrity import VerifyReport, verify
from modalax._src.packed.reader import PackedReader
from modalax._src.packed.record import decode_record, encode_record
from modalax._src.packed.writer import DEFAULT_WRITER_OPTIONS, pack

#: ``modalax.verify_pack``: the same function under the name the public API gives it.
verify_pack = verify

__all__ = [
    "DEFAULT_WRITER_OPTIONS",
    "INDEX_NAME",
    "FieldInfo",
    "FileSum",
    "PackedDataset",
    "PackedIndex",
    "PackedReader",
    "ShardInfo",
    "VerifyReport",
    "decode_record",
    "encode_record",
    "pack",
    "shard_name",
    "verify",
    "verify_pack",
]
