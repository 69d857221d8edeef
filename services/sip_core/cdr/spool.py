"""A durable local spool for CDRs that NATS could not take.

CDRs are appended as JSON lines to segment files (``<seq>.cdr``) in the spool folder and
fsync'ed before :meth:`CdrSpool.append` returns, so a CDR handed to the spool survives a crash
or a restart of the node. Draining closes the current segment and replays closed segments in
order; a segment is removed only after every CDR in it was acknowledged by JetStream. A crash
mid-drain replays some CDRs again: they carry their call id as ``Nats-Msg-Id`` and the billing
worker refuses a second CDR with the same call id, so a replay duplicates nothing.

A line that does not decode (a write cut by a crash) is counted, kept aside in ``<seq>.bad``
for an operator, and skipped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog
from prometheus_client import Counter, Gauge

from libs.bus import MessageDecodeError
from libs.bus.cdr import CallEnded

__all__ = ["CdrSpool"]

_log = structlog.get_logger(__name__)
_SEGMENT = re.compile(r"^(\d{12})\.cdr$")

SPOOLED = Counter("tandem_cdr_spooled_total", "CDRs written to the local spool")
SPOOL_CORRUPT = Counter("tandem_cdr_spool_corrupt_total", "Spool lines that did not decode")
SPOOL_BACKLOG = Gauge("tandem_cdr_spool_backlog", "CDRs waiting in the local spool")

Publish = Callable[[CallEnded], Awaitable[None]]


class CdrSpool:
    """Append-only, fsync'ed, segment-rotated spool of :class:`CallEnded` records.

    Blocking file I/O: call :meth:`append` and :meth:`drain`'s reads through
    ``asyncio.to_thread`` from a coroutine (the :class:`CdrSender` does).
    """

    def __init__(self, directory: Path, *, segment_records: int = 10_000) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.segment_records = segment_records
        segments = self._segments()
        self._next = (int(segments[-1].stem) + 1) if segments else 1
        self._current: Path | None = None
        self._current_count = 0
        self.backlog = sum(self._count_lines(s) for s in segments)
        SPOOL_BACKLOG.set(self.backlog)

    def _segments(self) -> list[Path]:
        return sorted(p for p in self.directory.iterdir() if _SEGMENT.match(p.name))

    @staticmethod
    def _count_lines(path: Path) -> int:
        with path.open("rb") as f:
            return sum(1 for line in f if line.strip())

    def append(self, cdr: CallEnded) -> None:
        """Write ``cdr`` durably (flushed and fsync'ed) before returning."""
        if self._current is None or self._current_count >= self.segment_records:
            self._current = self.directory / f"{self._next:012d}.cdr"
            self._next += 1
            self._current_count = 0
        with self._current.open("ab") as f:
            f.write(cdr.to_bytes() + b"\n")
            f.flush()
            os.fsync(f.fileno())
        self._current_count += 1
        self.backlog += 1
        SPOOLED.inc()
        SPOOL_BACKLOG.set(self.backlog)

    def rotate(self) -> None:
        """Close the current segment: the next append starts a new one."""
        self._current = None

    def closed_segments(self) -> list[Path]:
        """Segments no longer appended to, oldest first."""
        return [s for s in self._segments() if s != self._current]

    def read(self, segment: Path) -> list[CallEnded]:
        """The CDRs of ``segment``; undecodable lines are moved aside to ``<seq>.bad``."""
        records: list[CallEnded] = []
        bad: list[bytes] = []
        with segment.open("rb") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    records.append(CallEnded.from_bytes(line))
                except MessageDecodeError:
                    bad.append(line)
        if bad:
            SPOOL_CORRUPT.inc(len(bad))
            _log.error("unreadable CDR lines set aside", segment=segment.name, lines=len(bad))
            with segment.with_suffix(".bad").open("ab") as f:
                f.writelines(line if line.endswith(b"\n") else line + b"\n" for line in bad)
                os.fsync(f.fileno())
            self.backlog -= len(bad)
        return records

    def remove(self, segment: Path, records: int) -> None:
        """Forget ``segment`` after its ``records`` CDRs were acknowledged."""
        segment.unlink()
        self.backlog = max(0, self.backlog - records)
        SPOOL_BACKLOG.set(self.backlog)
