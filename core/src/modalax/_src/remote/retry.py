"""Remote storage errors and retries: one policy, and messages that name the URL.

Every remote operation of ``RemotePath`` runs through ``call``. A failure is classified by
the exception and the HTTP status anywhere in its chain (fsspec's HTTP filesystem reports a
503 on ``info`` as a ``FileNotFoundError`` caused by the response error, s3fs turns botocore
errors into ``OSError`` subclasses):

* missing (404, ``FileNotFoundError``): raised at once as ``FileNotFoundError(url)``, so
  ``exists()`` and callers that name a missing file keep working;
* refused (401, 403, ``PermissionError``, no credentials found): a ``DataError`` at once,
  naming the URL and how credentials are given (retrying cannot help);
* transient (408, 425, 429, 5xx, timeouts, dropped connections, other ``OSError``): retried
  ``attempts`` times in all with a backoff doubling from ``backoff`` seconds (capped at
  ``max_backoff``), then a ``DataError`` naming the URL, the attempts and the last error;
* anything else (a malformed URL, a server without range requests): a ``DataError`` at once.

A request that hangs is cut by ``timeout`` (seconds, per request: fsspec's own timeout on
asynchronous filesystems, and the client's connect and read timeouts on HTTP and S3), so a
slow remote costs at most ``attempts * (timeout + backoff)`` before the error. The policy
comes from ``set_remote_retries`` or the environment (``MODALAX_REMOTE_ATTEMPTS``,
``MODALAX_REMOTE_BACKOFF``, ``MODALAX_REMOTE_TIMEOUT``), and travels with each path into
worker processes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from modalax._src.errors import ConfigError, DataError, ModalaxError

__all__ = ["RetryPolicy", "call", "classify", "retry_policy", "set_remote_retries"]

T = TypeVar("T")

_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_DENIED_STATUS = frozenset({401, 403})
_MISSING_STATUS = frozenset({404, 410})
_NO_CREDENTIALS = frozenset({"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"})
# Network libraries whose own exceptions (not OSError subclasses) mean a dropped or timed-out request.
_NETWORK_MODULES = ("aiohttp", "botocore", "urllib3", "requests", "google.auth.exceptions", "httpx")


@dataclass(frozen=True)
class RetryPolicy:
    """How remote reads fail: ``attempts`` tries, backoff from ``backoff`` s doubling to ``max_backoff`` s,
    each request cut after ``timeout`` s."""

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 8.0
    timeout: float = 60.0

    def delays(self) -> Iterator[float]:
        """The waits between attempts (``attempts - 1`` of them)."""
        for i in range(self.attempts - 1):
            yield min(self.max_backoff, self.backoff * 2**i)


def _env_number(name: str, default: float, kind: type) -> Any:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}: got {raw!r}, expected a {kind.__name__}") from None
    if value < (1 if kind is int else 0):
        raise ConfigError(f"{name}: got {raw!r}, expected a {'positive' if kind is int else 'non-negative'} number")
    return value


_POLICY: RetryPolicy | None = None


def retry_policy() -> RetryPolicy:
    """The policy new remote paths take: ``set_remote_retries``'s, else the environment's, else the defaults."""
    if _POLICY is not None:
        return _POLICY
    base = RetryPolicy()
    return RetryPolicy(
        _env_number("MODALAX_REMOTE_ATTEMPTS", base.attempts, int),
        _env_number("MODALAX_REMOTE_BACKOFF", base.backoff, float),
        base.max_backoff,
        _env_number("MODALAX_REMOTE_TIMEOUT", base.timeout, float),
    )


def _check(name: str, value: Any, minimum: float, integer: bool) -> None:
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok or value < minimum:
        what = "an int" if integer else "a number"
        raise ConfigError(f"set_remote_retries.{name}: got {value!r}, expected {what} >= {minimum}")


def set_remote_retries(
    attempts: int | None = None,
    backoff: float | None = None,
    *,
    max_backoff: float | None = None,
    timeout: float | None = None,
) -> RetryPolicy:
    """Set how remote storage is retried (for paths made from now on); returns the policy in force.

    ``attempts`` tries in all (1: no retry), waits ``backoff``, ``2*backoff``, ... seconds
    (at most ``max_backoff``) between them, and cuts each request after ``timeout`` seconds.
    Arguments left None keep their current value.
    """
    global _POLICY
    current = retry_policy()
    changes = {"attempts": attempts, "backoff": backoff, "max_backoff": max_backoff, "timeout": timeout}
    for name, value in changes.items():
        if value is not None:
            _check(name, value, 1 if name == "attempts" else 0, name == "attempts")
    _POLICY = replace(current, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]
    return _POLICY


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or id(e) in seen or len(seen) > 8:
            continue
        seen.add(id(e))
        yield e
        todo += [e.__cause__, e.__context__]


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status", None) or getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status
    response = getattr(exc, "response", None)  # botocore ClientError
    if isinstance(response, dict):
        code = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code if isinstance(code, int) else None
    return None


def classify(exc: BaseException) -> str:
    """``"missing"``, ``"denied"``, ``"transient"`` or ``"fatal"`` (see the module docstring)."""
    chain = list(_chain(exc))
    for e in chain:
        status = _status(e)
        if status in _DENIED_STATUS:
            return "denied"
        if status in _TRANSIENT_STATUS:
            return "transient"
        if status in _MISSING_STATUS:
            return "missing"
        if type(e).__name__ in _NO_CREDENTIALS:
            return "denied"
    if any(isinstance(e, PermissionError) for e in chain):
        return "denied"
    if isinstance(exc, FileNotFoundError):
        return "missing"
    if isinstance(exc, IsADirectoryError | NotADirectoryError):
        return "fatal"
    for e in chain:
        if isinstance(e, TimeoutError | ConnectionError | OSError):
            return "transient"
        if type(e).__module__.startswith(_NETWORK_MODULES) and _status(e) is None:
            return "transient"
    return "fatal"


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().replace("\n", " ")
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def refused(url: str, exc: BaseException) -> DataError:
    """The error for credentials the remote refused (or that were not found)."""
    return DataError(
        f"{url!r}: access refused by the remote ({_describe(exc)}); expected credentials that may read it: "
        "give them as the filesystem expects (environment variables such as AWS_ACCESS_KEY_ID, a credentials "
        "file, or modalax.set_storage_options(protocol, ...))"
    )


def call(
    url: str,
    what: str,
    fn: Callable[[], T],
    policy: RetryPolicy,
    *,
    reset: Callable[[], None] | None = None,
) -> T:
    """``fn()`` with ``policy``'s retries; ``reset()`` runs before each retry (reopening a file)."""
    delays = list(policy.delays())
    waited = 0.0
    last: BaseException | None = None
    for attempt in range(policy.attempts):
        try:
            return fn()
        except ModalaxError:
            raise
        except Exception as exc:
            kind = classify(exc)
            if kind == "missing":
                raise FileNotFoundError(f"{url}: no such file") from exc
            if kind == "denied":
                raise refused(url, exc) from exc
            if kind == "fatal":
                raise DataError(f"{url!r}: cannot {what} ({_describe(exc)})") from exc
            last = exc
        if attempt < len(delays):
            time.sleep(delays[attempt])
            waited += delays[attempt]
            if reset is not None:
                reset()
    assert last is not None
    raise DataError(
        f"{url!r}: cannot {what}: the remote failed {policy.attempts} time(s) ({_describe(last)}); gave up after "
        f"retrying with backoff for {waited:.1f} s (set_remote_retries or MODALAX_REMOTE_ATTEMPTS to retry longer)"
    ) from last
