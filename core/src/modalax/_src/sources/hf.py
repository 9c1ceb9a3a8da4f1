"""A HF ``datasets.Dataset`` as a source: Arrow slices per batch, media decoded as modalax decodes files.

Each batch is one Arrow slice (``dataset[indices]`` in Arrow format). Plain columns become numpy
columns as ``sources.arrow`` says: nulls, ragged lists and types with no array form are refused
with the record, the field and the value unless ``fill=``/``dtype=`` choose a stand-in or a
cast (``datasets``' own numpy formatting would turn them into NaN, float32 or object arrays).

Media columns (``Image()``, ``Audio()``, and any other feature that decodes, such as ``Video()``)
are read undecoded (their bytes or path) and each file is handed to the decoder its modality
registers, with the user's config of that modality (``configs={"image": ImageModalityConfig(...)}``)
or the config class's defaults, and ``decode_options``. The same file therefore gives the same
record here as through the modality's folder dataset or packed shards: greyscale, palette,
transparency, 16-bit depth, EXIF orientation, sizes and truncated audio all handled (or refused)
by the one decoder. A feature's own settings must agree with the config (``Image(mode="L")``
with an RGB config, ``Audio(sampling_rate=22050)`` with a 16 kHz config are a ``ConfigError``).

The decoded fields keep the decoder's names (``images``; ``audio``, ``length``,
``source_sample_rate``) when the dataset has one column of that modality; with several, each
column's fields sit in a nested dict under the column's name. Decoding runs on a thread pool,
like ``FileSource``'s. ``DatasetDict`` and streaming datasets are refused with the way out.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from modalax._src.errors import ConfigError, DataError
from modalax._src.sources.arrow import arrow_column
from modalax._src.sources.base import Batch, Fingerprint, IndexedSource, digest, sample_rows
from modalax._src.sources.checks import check_value_range
from modalax._src.sources.file import check_num_threads, decode_threads
from modalax._src.sources.media import MediaDecoder, media_decoder
from modalax._src.sources.stack import stack_records

__all__ = ["HFSource", "check_hf_dataset", "hf_kind", "is_hf_dataset"]

_OWNER = "HFSource"


def hf_kind(obj: Any) -> str | None:
    """``"Dataset"``, ``"DatasetDict"``, ``"IterableDataset"`` or ``"IterableDatasetDict"`` for such
    ``datasets`` objects (without importing ``datasets``), else None."""
    module = sys.modules.get("datasets")
    if module is None:
        return None
    for name in ("DatasetDict", "IterableDatasetDict", "IterableDataset", "Dataset"):
        cls = getattr(module, name, None)
        if cls is not None and isinstance(obj, cls):
            return name
    return None


def is_hf_dataset(obj: Any) -> bool:
    """Whether ``obj`` is a ``datasets.Dataset`` (without importing ``datasets``)."""
    return hf_kind(obj) == "Dataset"


def check_hf_dataset(obj: Any, owner: str) -> None:
    """``ConfigError`` for the ``datasets`` objects that are not one random-access ``Dataset``."""
    kind = hf_kind(obj)
    if kind in ("DatasetDict", "IterableDatasetDict"):
        splits = list(obj)
        first = splits[0] if splits else "train"
        raise ConfigError(
            f"{owner}: got a {kind} with the splits {splits}; expected one split: pick it, e.g. ds[{first!r}] "
            "(load_dataset(...) without split= returns every split)"
        )
    if kind == "IterableDataset":
        raise ConfigError(
            f"{owner}: got a streaming IterableDataset, which cannot be read by index; expected a Dataset "
            "(load_dataset(..., streaming=False)), or read the stream in order with DataLoader(stream, batch_size) "
            "(a StreamingLoader)"
        )
    if kind != "Dataset":
        raise ConfigError(f"{owner}: got {type(obj).__name__}, expected a datasets.Dataset")


def _is_media(feature: Any) -> bool:
    return hasattr(feature, "decode") and hasattr(feature, "encode_example") and not isinstance(feature, dict)


def _nested_media(feature: Any) -> bool:
    if isinstance(feature, dict):
        return any(_is_media(f) or _nested_media(f) for f in feature.values())
    if isinstance(feature, list | tuple):
        return any(_is_media(f) or _nested_media(f) for f in feature)
    inner = getattr(feature, "feature", None)
    return inner is not None and (_is_media(inner) or _nested_media(inner))


def _check_agreement(column: str, feature: Any, decoder: MediaDecoder) -> None:
    """A feature's own mode or sampling rate must be what the modality config decodes to."""
    kind = type(feature).__name__
    if kind == "Image" and getattr(feature, "mode", None):
        mode = getattr(getattr(decoder.config, "representation", None), "pil_mode", None)
        if mode is not None and mode != feature.mode:
            raise ConfigError(
                f"{_OWNER}: column {column!r} is Image(mode={feature.mode!r}), but the {decoder.modality!r} config "
                f"decodes to mode {mode!r}; expected them to agree (pass configs={{{decoder.modality!r}: ...}} with "
                "that representation, or cast the column to Image() to let the config decide)"
            )
    if kind == "Audio" and getattr(feature, "sampling_rate", None):
        rate = getattr(decoder.config, "sample_rate", None)
        if rate is not None and rate != feature.sampling_rate:
            raise ConfigError(
                f"{_OWNER}: column {column!r} is Audio(sampling_rate={feature.sampling_rate}), but the "
                f"{decoder.modality!r} config decodes at {rate} Hz; expected them to agree (pass "
                f"configs={{{decoder.modality!r}: ...}} with that sample_rate, or cast the column to Audio())"
            )


def _by_modality(given: Any, modalities: set[str], name: str) -> dict[str, Any]:
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise ConfigError(f"{_OWNER}.{name}: got {given!r}, expected a dict keyed by modality, e.g. {{'image': ...}}")
    unknown = sorted(set(given) - modalities)
    if unknown:
        raise ConfigError(
            f"{_OWNER}.{name}: got {unknown}, expected modalities of the dataset's media columns {sorted(modalities)}"
        )
    return dict(given)


def _by_field(given: Any, plain: list[str], name: str) -> dict[str, Any]:
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise ConfigError(f"{_OWNER}.{name}: got {given!r}, expected a dict keyed by column, e.g. {{'score': 0.0}}")
    unknown = sorted(k for k in given if str(k).split(".")[0] not in plain)
    if unknown:
        raise ConfigError(f"{_OWNER}.{name}: got {unknown}, expected (dotted) names of the plain columns {plain}")
    return dict(given)


class HFSource(IndexedSource):
    """Records of a HF ``datasets.Dataset`` (see the module docstring).

    ``columns`` picks columns (default all); ``configs`` and ``decode_options`` are keyed by
    modality; ``fill`` and ``dtype`` by (dotted) column name; ``num_threads`` decodes media
    (default as ``FileSource``).
    """

    traceable = False

    def __init__(
        self,
        dataset: Any,
        *,
        columns: Sequence[str] | None = None,
        configs: Mapping[str, Any] | None = None,
        decode_options: Mapping[str, Mapping[str, Any]] | None = None,
        fill: Mapping[str, Any] | None = None,
        dtype: Mapping[str, Any] | None = None,
        num_threads: int | None = None,
    ) -> None:
        check_hf_dataset(dataset, f"{_OWNER}.dataset")
        features = dataset.features
        if isinstance(columns, str):
            raise ConfigError(f"{_OWNER}.columns: got the string {columns!r}, expected a list of column names")
        names = list(columns) if columns is not None else list(features)
        unknown = [c for c in names if c not in features]
        if not names:
            raise ConfigError(f"{_OWNER}.columns: got [], expected at least one column of {list(features)}")
        if unknown:
            raise ConfigError(f"{_OWNER}.columns: got {unknown}, expected columns of the dataset {list(features)}")
        self.media: dict[str, str] = {}
        for c in names:
            if _is_media(features[c]):
                self.media[c] = type(features[c]).__name__.lower()
            elif _nested_media(features[c]):
                raise ConfigError(
                    f"{_OWNER}: column {c!r} holds media inside a list or struct ({features[c]}); expected media "
                    "columns at the top level (flatten it with ds.flatten(), or leave it out with columns=[...])"
                )
        self.plain = [c for c in names if c not in self.media]
        modalities = set(self.media.values())
        given_configs = _by_modality(configs, modalities, "configs")
        given_options = _by_modality(decode_options, modalities, "decode_options")
        self.decoders: dict[str, MediaDecoder] = {}
        for c, modality in self.media.items():
            if modality not in self.decoders:
                what = f"column {c!r} ({type(features[c]).__name__}())"
                self.decoders[modality] = media_decoder(
                    modality, given_configs.get(modality), given_options.get(modality), owner=_OWNER, what=what
                )
            _check_agreement(c, features[c], self.decoders[modality])
        self.fill = _by_field(fill, self.plain, "fill")
        self.dtype = _by_field(dtype, self.plain, "dtype")
        counts = {m: list(self.media.values()).count(m) for m in modalities}
        self.nested = {c: counts[m] > 1 for c, m in self.media.items()}
        view = dataset.select_columns(names)
        for c in self.media:
            view = view.cast_column(c, type(features[c])(decode=False))
        self.dataset = dataset
        self._view = view.with_format("arrow")
        self.requested_threads = check_num_threads(_OWNER, num_threads)
        self._pool: ThreadPoolExecutor | None = None

    def __len__(self) -> int:
        return len(self.dataset)

    @property
    def configs(self) -> dict[str, Any]:
        """The config each media modality is decoded with."""
        return {m: d.config for m, d in self.decoders.items()}

    def _decode(self, column: str, cell: Any, index: int) -> dict[str, Any]:
        where = f"HF column {column!r} record {index}"
        source = None
        if isinstance(cell, Mapping):
            source = cell.get("bytes") if cell.get("bytes") is not None else cell.get("path")
        if source is None:
            raise DataError(f"{where} is {cell!r}; expected an encoded file (its bytes or path)")
        return self.decoders[self.media[column]](source, where)

    def _decode_column(self, column: str, cells: list[Any], idx: np.ndarray) -> list[dict[str, Any]]:
        jobs = list(zip(cells, idx.tolist(), strict=True))
        threads = decode_threads(self.requested_threads)
        if len(jobs) < 2 or threads < 2:
            return [self._decode(column, cell, i) for cell, i in jobs]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(threads, thread_name_prefix="modalax-hf-decode")
        return list(self._pool.map(lambda job: self._decode(column, *job), jobs))

    def get_records(self, indices: Any) -> Batch:
        idx = np.asarray(self.checked_indices(indices), np.int64)
        if not idx.size:
            raise DataError(f"{_OWNER}.get_records: got no indices; expected at least one")
        table = self._view[idx.tolist()]
        out: Batch = {}
        for c in self.plain:
            out[c] = arrow_column(table.column(c), c, _OWNER, idx, self.fill, self.dtype)
        for c in self.media:
            records = self._decode_column(c, table.column(c).to_pylist(), idx)
            stacked = stack_records(records, owner=f"HF column {c!r}", indices=idx)
            if self.nested[c]:
                out[c] = stacked
                continue
            clash = sorted(set(stacked) & set(out))
            if clash:
                raise ConfigError(
                    f"{_OWNER}: column {c!r} decodes to the field(s) {clash}, which the dataset also has as columns; "
                    "expected distinct names (ds.rename_column(...), or leave one out with columns=[...])"
                )
            out.update(stacked)
        check_value_range(_OWNER, out, indices=idx)
        return out

    def fingerprint(self) -> Fingerprint:
        """Count, schema and the Arrow values (media undecoded) of a fixed sample of rows."""
        rows = sample_rows(len(self))
        table = self._view[rows.tolist()]
        schema = str(table.schema.remove_metadata())
        return {"kind": "hf", "count": len(self), "digest": digest(schema, repr(table.to_pylist()))}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_pool"] = None
        return state
