"""Which filesystem a URL names: its protocols, the storage options given for them, and fsspec.

``filesystem`` resolves a URL through ``fsspec.core.url_to_fs`` with the options that
``set_storage_options`` gave its protocol, merged over modalax's defaults (request timeouts,
so that no read waits forever). A protocol whose implementation is not installed is a
``ConfigError`` naming the package to install, never fsspec's bare ``ImportError``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from modalax._src.errors import ConfigError
from modalax._src.install_hints import extra_hint, pip_install
from modalax._src.remote.retry import RetryPolicy

__all__ = ["PACKAGES", "filesystem", "set_storage_options", "storage_options", "string_protocols"]

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+(?:::[A-Za-z][A-Za-z0-9+.\-]+)*)://")

#: The package each protocol's fsspec implementation lives in (named when it is missing).
PACKAGES = {
    "s3": "s3fs",
    "s3a": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "hf": "huggingface_hub",
    "http": "fsspec[http]",
    "https": "fsspec[http]",
    "az": "adlfs",
    "abfs": "adlfs",
    "abfss": "adlfs",
    "adl": "adlfs",
    "sftp": "paramiko",
    "ssh": "paramiko",
    "oci": "ocifs",
    "webdav": "webdav4",
    "dropbox": "dropboxdrivefs",
}
_OPTIONS: dict[str, dict[str, Any]] = {}
_LOCK = threading.Lock()


def set_storage_options(protocol: str, **options: Any) -> dict[str, Any]:
    """fsspec options for every URL of ``protocol`` made from now on (``endpoint_url``, ``key``, ``headers``...).

    They are passed to the filesystem's constructor (``s3fs.S3FileSystem(**options)``), merged
    over modalax's defaults (request timeouts); no options resets them. fsspec's own
    configuration (``FSSPEC_S3_ENDPOINT_URL=...``, ``~/.config/fsspec``) applies too.
    Returns the options now in force for the protocol.
    """
    if not isinstance(protocol, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]+", protocol):
        raise ConfigError(f"set_storage_options.protocol: got {protocol!r}, expected a protocol name such as 's3'")
    with _LOCK:
        if options:
            _OPTIONS[protocol.lower()] = dict(options)
        else:
            _OPTIONS.pop(protocol.lower(), None)
        return dict(_OPTIONS.get(protocol.lower(), {}))


def storage_options(protocol: str) -> dict[str, Any]:
    """The options ``set_storage_options`` gave ``protocol`` (a copy)."""
    with _LOCK:
        return dict(_OPTIONS.get(protocol.lower(), {}))


def _defaults(protocol: str, policy: RetryPolicy) -> dict[str, Any]:
    """Request timeouts where the filesystem takes them, so that no read waits forever."""
    if protocol in ("http", "https"):
        try:
            import aiohttp
        except ImportError:
            return {}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=policy.timeout, sock_read=policy.timeout)
        return {"client_kwargs": {"timeout": timeout}}
    if protocol in ("s3", "s3a"):
        return {"config_kwargs": {"connect_timeout": policy.timeout, "read_timeout": policy.timeout}}
    return {}


def _missing_package(url: str, protocol: str, exc: BaseException) -> ConfigError:
    package = PACKAGES.get(protocol)
    if package is None:
        return ConfigError(
            f"{url!r}: no fsspec implementation of {protocol}:// is installed ({exc}); expected a protocol fsspec "
            "knows with its package installed (see fsspec.available_protocols())"
        )
    return ConfigError(
        f"{url!r}: the {protocol}:// protocol needs {package}, which is not installed: {pip_install(package)}"
    )


def filesystem(url: str, protocols: tuple[str, ...], options: Mapping[str, Any], policy: RetryPolicy) -> Any:
    """``(fs, path)`` for ``url`` through ``fsspec.core.url_to_fs``; ``ConfigError`` naming what to install."""
    try:
        from fsspec.core import url_to_fs
    except ImportError as exc:
        raise ConfigError(
            f"{url!r}: remote paths need fsspec, which is not installed: " + extra_hint("remote")
        ) from exc
    target = protocols[-1]
    merged = {**_defaults(target, policy), **options}
    kwargs = merged if len(protocols) == 1 else {target: merged}
    try:
        return url_to_fs(url, **kwargs)
    except ImportError as exc:
        raise _missing_package(url, target, exc) from exc
    except ValueError as exc:
        if "not known" in str(exc) or "Protocol" in str(exc):
            raise _missing_package(url, target, exc) from exc
        raise ConfigError(f"{url!r}: not a URL fsspec can open ({exc})") from exc


def string_protocols(value: str) -> tuple[str, ...]:
    """The protocols of a URL string (``("simplecache", "s3")`` for a chained one); ``()`` for a local path."""
    match = _URL.match(value)
    if match is None:
        return ()
    protocols = tuple(p.lower() for p in match.group(1).split("::"))
    return () if protocols == ("file",) else protocols
