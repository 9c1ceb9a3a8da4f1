"""Encoded media met in foreign sources, decoded by the one decoder its modality registers.

A modality that reads files registers ``decoder(source, config, **options) -> record`` on its
``ModalityRecord`` (the function its folder and packed datasets call). A foreign source that
holds encoded files (a HF ``Image()`` or ``Audio()`` column: bytes or a path per record) hands
each one to that decoder with a config of the modality, so a file gives the same record
through a folder, packed shards or another library's dataset. The config is the user's
(``configs={"image": ImageModalityConfig(...)}``, or a dict of its fields) or the config
class's defaults; decode options (``decode_options={"image": {"exif_transpose": False}}``) go
to the decoder, which checks them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modalax._src.errors import ConfigError, DataError, ModalaxError
from modalax._src.install_hints import plugin_hint

__all__ = ["MediaDecoder", "media_decoder"]


@dataclass(frozen=True)
class MediaDecoder:
    """The decoder, config and options of one modality, resolved once."""

    modality: str
    decode: Callable[..., Any]
    config: Any
    options: dict[str, Any] = field(default_factory=dict)

    def __call__(self, source: Any, where: str) -> dict[str, Any]:
        """One encoded file (bytes or a path) as a record; ``DataError`` prefixed with ``where``."""
        try:
            record = self.decode(source, self.config, **self.options)
        except ConfigError:
            raise
        except ModalaxError as exc:
            raise DataError(f"{where}: {exc}") from exc
        except Exception as exc:
            raise DataError(f"{where}: cannot decode it: {type(exc).__name__}: {exc}") from exc
        if not isinstance(record, Mapping) or not record:
            raise DataError(f"{where}: the {self.modality!r} decoder returned {record!r}, expected a dict of arrays")
        return dict(record)


def _config(modality: str, config_class: Any, given: Any, owner: str) -> Any:
    if config_class is None:
        return given
    if given is None:
        return config_class()
    if isinstance(given, Mapping) and hasattr(config_class, "from_dict"):
        return config_class.from_dict(dict(given))
    if not isinstance(given, config_class):
        raise ConfigError(
            f"{owner}.configs[{modality!r}]: got {type(given).__name__}, expected a {config_class.__name__} "
            "(or a dict of its fields)"
        )
    return given


def media_decoder(
    modality: str, config: Any, options: Mapping[str, Any] | None, *, owner: str, what: str
) -> MediaDecoder:
    """The registered decoder of ``modality`` with ``config`` (None: its defaults); ``what`` names the data."""
    from modalax._src.records import resolve
    from modalax._src.registry import get_modality_record

    try:
        record = get_modality_record(modality)
    except KeyError as exc:
        raise ConfigError(
            f"{owner}: {what} needs the {modality!r} modality to decode it, which is not installed "
            f"({plugin_hint(modality)}), or leave the column out with columns=[...]"
        ) from exc
    if record.decoder is None:
        raise ConfigError(
            f"{owner}: {what} needs a file decoder, but the {modality!r} modality registers none "
            "(ModalityRecord.decoder); update its plugin, or leave the column out with columns=[...]"
        )
    if options is not None and not isinstance(options, Mapping):
        raise ConfigError(f"{owner}.decode_options[{modality!r}]: got {options!r}, expected a dict of options")
    decode = resolve(record.decoder)
    try:
        inspect.signature(decode).bind(None, None, **(options or {}))
    except TypeError as exc:
        raise ConfigError(f"{owner}.decode_options[{modality!r}]: got {dict(options or {})!r}: {exc}") from exc
    except ValueError:  # a builtin without a signature: its own call checks
        pass
    return MediaDecoder(
        modality, decode, _config(modality, resolve(record.config_class), config, owner), dict(options or {})
    )
