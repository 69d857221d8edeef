"""Port pairs of the relay's range: even RTP port, RTCP on RTP + 1 (RFC 3550 §11).

Allocation and release are O(1): free pairs wait in a FIFO, so a pair just released goes to the
back and is reused as late as possible (stray packets of a finished call then meet a closed
port, not the next call). A pair whose ports someone else holds is *set aside*: it goes to the
back of the queue too, and is tried again only after every other free pair.
"""

from __future__ import annotations

from collections import deque

__all__ = ["PortPool", "PortsExhausted"]


class PortsExhausted(Exception):
    """No free port pair is left in the range."""


class PortPool:
    """The RTP/RTCP port pairs of ``[port_min, port_max]``, each identified by its RTP port."""

    __slots__ = ("_free", "_in_use", "capacity", "first", "last")

    def __init__(self, port_min: int, port_max: int) -> None:
        """Hold every pair ``(p, p + 1)`` with ``p`` even and both ports inside the range.

        Raises:
            ValueError: the range holds no pair.
        """
        first = port_min + (port_min % 2)
        pairs = range(first, port_max, 2)  # p + 1 <= port_max
        if not pairs:
            raise ValueError(f"port range {port_min}-{port_max} holds no RTP/RTCP pair")
        self.first = first
        self.last = pairs[-1]
        self.capacity = len(pairs)
        self._free: deque[int] = deque(pairs)
        self._in_use: set[int] = set()

    @property
    def in_use(self) -> int:
        """Pairs allocated and not released."""
        return len(self._in_use)

    @property
    def available(self) -> int:
        """Pairs that :meth:`allocate` can hand out."""
        return len(self._free)

    def allocate(self) -> int:
        """Take the least recently used free pair and return its RTP port.

        Raises:
            PortsExhausted: every pair is in use.
        """
        try:
            port = self._free.popleft()
        except IndexError:
            raise PortsExhausted(
                f"all {self.capacity} port pairs of {self.first}-{self.last + 1} are in use"
            ) from None
        self._in_use.add(port)
        return port

    def release(self, rtp_port: int) -> None:
        """Give a pair back (a pair not in use is ignored: release is idempotent)."""
        if rtp_port in self._in_use:
            self._in_use.remove(rtp_port)
            self._free.append(rtp_port)

    def set_aside(self, rtp_port: int) -> None:
        """Give back a pair that could not be bound (another process holds a port of it).

        It is offered again only after every other free pair, by which time it may be free.
        """
        self.release(rtp_port)
