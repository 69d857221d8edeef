"""Exceptions of the SIP message codec.

The contract of the parser (``parse_datagram``, ``StreamFramer``) is the one websockets keeps for
its HTTP parser: every input is either accepted, returning a message, or rejected with one of the
exceptions below. Nothing else escapes, whatever the bytes.

Exception tree::

    SIPError                      root: catch this to catch everything the codec raises
    ├── ParseError                the input is not a well-formed SIP message (answer: 400)
    │   ├── MessageTooLarge       a size limit was exceeded (answer: 513, RFC 3261 §21.5.14)
    │   ├── VersionNotSupported   the Request-Line names a SIP version other than 2.0
    │   │                         (answer: 505, RFC 3261 §8.2.2 / §21.5.7)
    │   └── FramingError          the message boundary cannot be known: Content-Length missing
    │                             on a stream, negative, non-numeric, repeated, or larger than
    │                             the datagram (answer: 400; on a stream, close the connection)
    └── InvalidValue              application code set a value that cannot be serialised
                                  (CR/LF in a header, a non-token method, a status out of range)

A ``ParseError`` carries what the transport needs to answer without understanding the error:

* ``status_code`` and ``reason``: the status line to send (``reason`` is static text chosen by
  the codec; it never echoes the input, so it is safe to send and to log).
* ``partial``: the request as far as it could be read, or ``None``. It is set only for requests
  that can be answered: not for responses (RFC 3261 §18.1.2 discards them), not for ACK (a UAS
  never answers an ACK, §17.2.1), and only when at least one Via header field could be read
  (without one a response has nowhere to go, §18.2.2). Pass it to ``make_response`` — or call
  ``error_response(err)`` which does exactly that — to build the 4xx/5xx. It may hold only the
  header fields that could be split; its Request-URI and values are not validated.

Lazily parsed header fields (``Message.contact``, ``Message.route``, ``Message.credentials`` …)
raise ``ParseError`` (with ``partial`` left ``None``: the caller already holds the message) when
the application first reads them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.sip_core.sip.message import Request

__all__ = [
    "FramingError",
    "InvalidValue",
    "MessageTooLarge",
    "ParseError",
    "SIPError",
    "VersionNotSupported",
]


class SIPError(Exception):
    """Root of every exception raised by the SIP codec."""


class ParseError(SIPError):
    """The bytes are not a well-formed SIP message; answer with ``status_code`` ``reason``."""

    default_status = 400

    def __init__(
        self, reason: str, *, status_code: int | None = None, partial: Request | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = self.default_status if status_code is None else status_code
        self.partial = partial


class MessageTooLarge(ParseError):
    """A message, header line or header count exceeded the configured ``Limits``."""

    default_status = 513


class VersionNotSupported(ParseError):
    """The request names a SIP version this element does not speak."""

    default_status = 505


class FramingError(ParseError):
    """Where the message (or the next one on a stream) ends cannot be known."""


class InvalidValue(SIPError, ValueError):
    """A value given by application code cannot be put on the wire as it is."""
