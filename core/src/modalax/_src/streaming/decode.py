"""Decoding the fields of a sample by extension: modalities' own decoders, a few built-ins, or yours.

A sample is a set of encoded fields (``000123.jpg``, ``000123.cls``; or the cells of a HF
row). Each field's decoder is chosen once per field name, in this order:

1. ``decode={name: ...}`` given by the user, by field name (``"seg.png"``) or extension
   (``".png"``): a callable ``fn(data) -> value or dict``, ``"bytes"`` (kept raw), a built-in
   name (``"text"``, ``"json"``, ``"int"``, ``"npy"``) or a modality name (``"image"``);
2. the built-ins by extension: ``.txt``/``.text`` -> ``str`` (UTF-8), ``.json``/``.jsn`` ->
   the parsed value, ``.cls``/``.cls2``/``.index``/``.id`` -> ``int32``, ``.npy`` -> the array
   (``allow_pickle=False``);
3. the decoder a modality registered for the extension (``ModalityRecord.decoder`` and
   ``.extensions``: images through Pillow, audio through libsndfile), called as
   ``decoder(data, configs.get(modality))``: the one decode path of the folder and packed
   datasets, so a file gives the same values whichever door it comes through;
4. otherwise the bytes, kept as they are.

A value is stored under the field's name; a dict (what modality decoders return, e.g.
``{"images": ...}``) is merged into the record, and two fields giving one key is a
``DataError``. ``rename`` maps record keys last (``{"cls": "labels"}``). The table of
decoders is built in the process that builds the source (it asks the registry), and travels
to worker processes with it, so workers need no plugin discovery.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from modalax._src.errors import ConfigError, DataError

__all__ = ["BUILTINS", "FieldDecoding", "modality_decoders"]

_I32 = np.iinfo(np.int32)


def _bytes(data: Any) -> bytes:
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    raise DataError(f"got {type(data).__name__}, expected the field's bytes")


def decode_text(data: Any) -> str:
    """UTF-8 text."""
    return _bytes(data).decode("utf-8")


def decode_json(data: Any) -> Any:
    """The parsed JSON value."""
    return json.loads(_bytes(data).decode("utf-8"))


def decode_int(data: Any) -> np.ndarray:
    """A class index written as decimal text (``b"7"``), as an int32 scalar."""
    text = _bytes(data).decode("ascii").strip()
    try:
        value = int(text)
    except ValueError:
        raise DataError(f"got {text[:40]!r}, expected an integer written as text") from None
    if not _I32.min <= value <= _I32.max:
        raise DataError(f"got {value}, expected an int32 class index")
    return np.asarray(value, np.int32)


def decode_npy(data: Any) -> np.ndarray:
    """A ``.npy`` array (no pickled objects)."""
    return np.load(io.BytesIO(_bytes(data)), allow_pickle=False)


#: Built-in decoders by name, and the extensions that pick them without a ``decode=`` entry.
BUILTINS: dict[str, Callable[[Any], Any]] = {
    "text": decode_text,
    "json": decode_json,
    "int": decode_int,
    "npy": decode_npy,
}
_BY_EXTENSION = {
    ".txt": "text",
    ".text": "text",
    ".json": "json",
    ".jsn": "json",
    ".cls": "int",
    ".cls2": "int",
    ".index": "int",
    ".id": "int",
    ".npy": "npy",
}


def modality_decoders() -> dict[str, str]:
    """Extension -> modality, over the registered modalities that have a decoder (first name wins)."""
    from modalax._src import registry
    from modalax._src.records import resolve

    table: dict[str, str] = {}
    for name in registry.list_modalities():
        record = registry.get_modality_record(name)
        if record.decoder is None or record.extensions is None:
            continue
        for ext in resolve(record.extensions)():
            table.setdefault(str(ext).lower(), name)
    return table


class _ModalityDecoder:
    """``decoder(data, config)`` of a modality (picklable: the function travels by reference)."""

    def __init__(self, modality: str, config: Any) -> None:
        from modalax._src import registry
        from modalax._src.records import resolve

        record = registry.get_modality_record(modality)
        if record.decoder is None:
            raise ConfigError(f"decode: modality {modality!r} registers no decoder; expected one that reads files")
        self.modality, self.config, self.fn = modality, config, resolve(record.decoder)

    def __call__(self, data: Any) -> Any:
        return self.fn(_bytes(data) if isinstance(data, bytearray | memoryview) else data, self.config)


class FieldDecoding:
    """The decoder of each field of a sample (see the module docstring); picklable.

    ``by_extension=False`` (columns of a table) uses only the ``decode`` entries, by exact name.
    """

    def __init__(
        self,
        owner: str,
        decode: Mapping[str, Any] | None = None,
        configs: Mapping[str, Any] | None = None,
        rename: Mapping[str, str] | None = None,
        *,
        by_extension: bool = True,
    ) -> None:
        self.owner = owner
        self.by_ext = by_extension
        if configs is not None and not isinstance(configs, Mapping):
            raise ConfigError(f"{owner}.configs: got {type(configs).__name__}, expected a mapping modality -> config")
        if rename is not None and (
            not isinstance(rename, Mapping) or not all(isinstance(v, str) and v for v in rename.values())
        ):
            raise ConfigError(f"{owner}.rename: got {rename!r}, expected a mapping record key -> new key")
        self.configs = dict(configs or {})
        self.rename = dict(rename or {})
        self.by_extension = modality_decoders()
        for name in self.configs:
            if name not in set(self.by_extension.values()):
                from modalax._src import registry

                registry.get_modality_record(name)  # an unknown name: UnknownNameError with the closest match
        self.user = {str(k).lower(): self._choice(k, v) for k, v in (decode or {}).items()}
        self._cache: dict[str, Any] = {}

    def _choice(self, name: Any, value: Any) -> Any:
        if not isinstance(name, str) or not name.strip("."):
            raise ConfigError(f"{self.owner}.decode: got key {name!r}, expected a field name or an extension ('.png')")
        if callable(value) or value is None or value == "bytes":
            return value if callable(value) else None
        if isinstance(value, str) and value in BUILTINS:
            return BUILTINS[value]
        if isinstance(value, str):
            return _ModalityDecoder(value, self.configs.get(value))
        raise ConfigError(
            f"{self.owner}.decode[{name!r}]: got {value!r}, expected a function, 'bytes', one of "
            f"{sorted(BUILTINS)} or a modality name"
        )

    def decoder(self, field: str) -> Callable[[Any], Any] | None:
        """The decoder of ``field`` (None keeps the bytes)."""
        if field in self._cache:
            return self._cache[field]
        name = field.lower()
        ext = "." + name.rsplit(".", 1)[-1]
        found: Any
        if name in self.user:
            found = self.user[name]
        elif not self.by_ext:
            found = None
        elif ext in self.user:
            found = self.user[ext]
        elif ext in _BY_EXTENSION:
            found = BUILTINS[_BY_EXTENSION[ext]]
        elif ext in self.by_extension:
            modality = self.by_extension[ext]
            found = _ModalityDecoder(modality, self.configs.get(modality))
        else:
            found = None
        self._cache[field] = found
        return found

    def record(self, fields: Mapping[str, Any], where: str) -> dict[str, Any]:
        """The record of one sample's ``fields`` (name -> data); ``DataError`` naming ``where`` and the field."""
        out: dict[str, Any] = {}
        origin: dict[str, str] = {}
        for field in sorted(fields):
            fn = self.decoder(field)
            try:
                value = fields[field] if fn is None else fn(fields[field])
            except (DataError, ConfigError) as exc:
                raise DataError(f"{where}: field {field!r}: {exc}") from exc
            except Exception as exc:
                raise DataError(f"{where}: field {field!r} cannot be decoded ({type(exc).__name__}: {exc})") from exc
            parts = value if isinstance(value, dict) and fn is not None and fn not in BUILTINS.values() else None
            for name, v in (parts or {field: value}).items():
                key = self.rename.get(str(name), str(name))
                if key in out:
                    raise DataError(
                        f"{where}: fields {origin[key]!r} and {field!r} both give the record key {key!r}; expected "
                        f"one field per key (decode={{{field!r}: 'bytes'}} or a decode function of your own)"
                    )
                out[key], origin[key] = v, field
        return out

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_cache": {}}
