"""Exceptions raised by :mod:`libs.routing`.

Every exception the library raises on purpose derives from one root, so a caller can catch
``RoutingError`` and know it caught nothing else::

    RoutingError
    ├── InvalidNumber       a number to look up that is not a non-empty ASCII digit string
    ├── InvalidPrefix       a prefix to index that is not an ASCII digit string
    │   └── DuplicatePrefix the same prefix twice in one index (one rate card revision)
    ├── InvalidPattern      a regex RE2 cannot compile (backreferences, lookaround …) or
    │                       a replacement naming a group the regex does not have
    ├── InvalidConfig       a model object or plain configuration that is not consistent
    ├── InvalidTime         a naive datetime where an aware one is needed
    ├── InvalidStatus       a SIP status that is not a final response (2xx-6xx)
    └── RewriteError        rewrite rules made a number longer than ``MAX_NUMBER_LENGTH``

All of them are also ``ValueError`` s.

Rating errors (a negative rate, bad increments) are :class:`libs.rating.RatingError`; the
plain-data loader (:meth:`RoutingTable.from_data`) turns them into :class:`InvalidConfig`
naming the object at fault.
"""

from __future__ import annotations

__all__ = [
    "DuplicatePrefix",
    "InvalidConfig",
    "InvalidNumber",
    "InvalidPattern",
    "InvalidPrefix",
    "InvalidStatus",
    "InvalidTime",
    "RewriteError",
    "RoutingError",
]


class RoutingError(Exception):
    """The root of every exception :mod:`libs.routing` raises on purpose."""


class InvalidNumber(RoutingError, ValueError):
    """A number to look up that is not a non-empty string of ASCII digits."""


class InvalidPrefix(RoutingError, ValueError):
    """A prefix to index that is not a string of ASCII digits (or is too long)."""


class DuplicatePrefix(InvalidPrefix):
    """The same prefix was given twice to one index."""


class InvalidPattern(RoutingError, ValueError):
    """A regular expression RE2 refuses, or a replacement template that does not fit it."""


class InvalidConfig(RoutingError, ValueError):
    """A model object or a plain-data configuration that is not consistent.

    ``path`` names the object at fault in plain data (``"rate_cards[2].revisions[0].rates[17]"``),
    or is empty when the error is about a model object built directly.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class InvalidTime(RoutingError, ValueError):
    """A naive datetime where an aware one (with a time zone) is needed."""


class InvalidStatus(RoutingError, ValueError):
    """A SIP status code that is not a final response."""


class RewriteError(RoutingError, ValueError):
    """Rewrite rules grew a number past ``MAX_NUMBER_LENGTH`` characters."""
