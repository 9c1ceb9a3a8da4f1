"""Remote storage: one fsspec-backed path helper that every path-taking API calls (see ``path``).

Needs ``fsspec`` (``python -m pip install "fsspec[http]>=2024.2"``) and the package of each protocol
(``s3fs``, ``gcsfs``, ``huggingface_hub``, ``aiohttp`` for HTTP) only when a URL is used.
"""

from modalax._src.remote.path import (
    PathArg,
    RemoteFile,
    RemotePath,
    RemoteStat,
    as_path,
    is_url,
    open_path,
    set_storage_options,
    storage_options,
    url_protocols,
)
from modalax._src.remote.retry import RetryPolicy, classify, retry_policy, set_remote_retries

__all__ = [
    "PathArg",
    "RemoteFile",
    "RemotePath",
    "RemoteStat",
    "RetryPolicy",
    "as_path",
    "classify",
    "is_url",
    "open_path",
    "retry_policy",
    "set_remote_retries",
    "set_storage_options",
    "storage_options",
    "url_protocols",
]
