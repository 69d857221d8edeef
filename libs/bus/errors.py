"""The bus library's exceptions: one root, :class:`BusError`.

Exception tree::

    BusError                  anything the bus library raises on purpose
    ├── BusUnavailable        not connected, connection closed, no responders, no stream
    ├── BusTimeout            a request, a JetStream acknowledgement or a wait timed out
    ├── MessageDecodeError    a payload is not a valid message of the expected type
    └── AssetConflict         a stream/bucket exists with a configuration NATS cannot update

nats-py's own exceptions never escape the :class:`~libs.bus.Bus` methods: they are translated
into these, with the original chained as ``__cause__``.
"""

from __future__ import annotations

import nats.errors
import nats.js.errors

__all__ = [
    "AssetConflict",
    "BusError",
    "BusTimeout",
    "BusUnavailable",
    "MessageDecodeError",
]


# What nats-py raises on a failed operation (nats.errors.TimeoutError is a TimeoutError).
_NATS_FAILURES = (nats.errors.Error, OSError, TimeoutError)


class BusError(Exception):
    """Root of every error raised by ``libs.bus``."""


class BusUnavailable(BusError):
    """NATS cannot serve the operation now: no connection, or nobody listens on the subject."""


class BusTimeout(BusError):
    """No answer (reply, acknowledgement, connection) arrived in time."""


class MessageDecodeError(BusError):
    """A payload is not valid JSON for the expected message type.

    The message names the type and the invalid fields, never the payload itself (it may carry
    personal data).
    """


class AssetConflict(BusError):
    """A stream or bucket exists with settings NATS cannot change in place (e.g. storage)."""


def _from_nats(exc: BaseException, what: str) -> BusError:
    """Translate a nats-py (or socket) exception raised while doing ``what`` into a BusError."""
    if isinstance(exc, nats.errors.NoRespondersError):
        return BusUnavailable(f"{what}: no responders")
    if isinstance(exc, nats.js.errors.NoStreamResponseError):
        return BusUnavailable(f"{what}: no JetStream stream captures the subject")
    if isinstance(exc, nats.js.errors.ServiceUnavailableError):
        return BusUnavailable(f"{what}: JetStream unavailable ({exc.description})")
    if isinstance(exc, TimeoutError):  # nats.errors.TimeoutError is one too
        return BusTimeout(f"{what}: timed out")
    if isinstance(exc, nats.js.errors.APIError):
        codes = f"code {exc.code}, err_code {exc.err_code}"
        return BusError(f"{what}: JetStream refused: {exc.description} ({codes})")
    if isinstance(
        exc,
        nats.errors.ConnectionClosedError
        | nats.errors.ConnectionDrainingError
        | nats.errors.ConnectionReconnectingError
        | nats.errors.StaleConnectionError
        | nats.errors.OutboundBufferLimitError
        | nats.errors.NoServersError
        | OSError,
    ):
        return BusUnavailable(f"{what}: {type(exc).__name__}: {exc}")
    return BusError(f"{what}: {type(exc).__name__}: {exc}")
