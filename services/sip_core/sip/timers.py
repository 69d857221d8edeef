"""SIP transaction timer values — RFC 3261 §17.1.1.1, §17.1.2.2, table 4 (Appendix A), RFC 6026.

No clock here: these are durations in seconds. The transaction layer adds them to the ``now`` it
is given and reports the earliest deadline through ``TransactionLayer.next_timer()``.

============  ===================  ==========================================================
timer         value                meaning
============  ===================  ==========================================================
T1            500 ms (default)     RTT estimate (§17.1.1.1)
T2            4 s                  longest retransmit interval, non-INVITE requests and
                                   INVITE responses (§17.1.2.2)
T4            5 s                  longest time a message lives in the network (§17.1.2.2)
A             T1, doubling         INVITE request retransmit, UDP only (§17.1.1.2)
B             64·T1                INVITE transaction timeout (§17.1.1.2)
D             32 s UDP, 0 reliable wait for response retransmissions (§17.1.1.2)
E             T1, doubling to T2   non-INVITE request retransmit, UDP only (§17.1.2.2)
F             64·T1                non-INVITE transaction timeout (§17.1.2.2)
G             T1, doubling to T2   INVITE non-2xx response retransmit, UDP only (§17.2.1)
H             64·T1                wait for ACK receipt (§17.2.1)
I             T4 UDP, 0 reliable   wait for ACK retransmissions (§17.2.1)
J             64·T1 UDP, 0 rel.    wait for non-INVITE request retransmissions (§17.2.2)
K             T4 UDP, 0 reliable   wait for response retransmissions (§17.1.2.2)
L             64·T1                server INVITE "Accepted" lifetime (RFC 6026 §8.7)
M             64·T1                client INVITE "Accepted" lifetime (RFC 6026 §8.4)
============  ===================  ==========================================================

A reliable transport (TCP, TLS, SCTP, WS) never retransmits: timers A, E and G are not set, and
the timers whose value is "0 reliable" end the transaction at once (§17.1.1.2, §17.1.2.2,
§17.2.1, §17.2.2).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.sip_core.sip.errors import InvalidValue

__all__ = ["DEFAULT_TIMERS", "Timers"]


@dataclass(frozen=True, slots=True)
class Timers:
    """The base timer values; every lettered timer is derived from them (see module table).

    ``d`` is Timer D for unreliable transports: RFC 3261 §17.1.1.2 asks for *at least* 32 s,
    enough to absorb every retransmission of the final response a server sends for 64·T1.
    """

    t1: float = 0.5  # RFC 3261 §17.1.1.1
    t2: float = 4.0  # RFC 3261 §17.1.2.2
    t4: float = 5.0  # RFC 3261 §17.1.2.2
    d: float = 32.0  # RFC 3261 §17.1.1.2

    def __post_init__(self) -> None:
        if not (0 < self.t1 <= self.t2) or self.t4 <= 0 or self.d < 0:
            raise InvalidValue("Timers need 0 < T1 <= T2, T4 > 0 and D >= 0")

    @property
    def a(self) -> float:
        """Timer A's first interval (§17.1.1.2); it doubles on each firing."""
        return self.t1

    @property
    def b(self) -> float:
        """Timer B, INVITE client transaction timeout: 64·T1 (§17.1.1.2)."""
        return 64 * self.t1

    @property
    def e(self) -> float:
        """Timer E's first interval (§17.1.2.2); it doubles up to T2."""
        return self.t1

    @property
    def f(self) -> float:
        """Timer F, non-INVITE client transaction timeout: 64·T1 (§17.1.2.2)."""
        return 64 * self.t1

    @property
    def g(self) -> float:
        """Timer G's first interval (§17.2.1); it doubles up to T2."""
        return self.t1

    @property
    def h(self) -> float:
        """Timer H, wait for the ACK: 64·T1 (§17.2.1)."""
        return 64 * self.t1

    @property
    def i(self) -> float:
        """Timer I over an unreliable transport: T4 (§17.2.1)."""
        return self.t4

    @property
    def j(self) -> float:
        """Timer J over an unreliable transport: 64·T1 (§17.2.2)."""
        return 64 * self.t1

    @property
    def k(self) -> float:
        """Timer K over an unreliable transport: T4 (§17.1.2.2)."""
        return self.t4

    @property
    def l(self) -> float:  # noqa: E743 — the RFC's name for it
        """Timer L, server INVITE "Accepted" state: 64·T1 (RFC 6026 §8.7)."""
        return 64 * self.t1

    @property
    def m(self) -> float:
        """Timer M, client INVITE "Accepted" state: 64·T1 (RFC 6026 §8.4)."""
        return 64 * self.t1


DEFAULT_TIMERS = Timers()
