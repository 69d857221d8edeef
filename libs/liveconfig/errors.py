"""Errors of the live configuration library.

Exception tree::

    LiveConfigError
    ├── ConfigDecodeError      an entry does not decode as its kind (skipped by consumers)
    └── BlobIntegrityError     a downloaded blob does not match its pointer's digest or size
"""

from __future__ import annotations

__all__ = ["BlobIntegrityError", "ConfigDecodeError", "LiveConfigError"]


class LiveConfigError(Exception):
    """Root of the live configuration library's errors."""


class ConfigDecodeError(LiveConfigError):
    """A configuration entry does not decode as its kind."""


class BlobIntegrityError(LiveConfigError):
    """A blob does not match the digest or size its pointer promised."""
