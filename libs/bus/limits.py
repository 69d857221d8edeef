"""Channel and CPS limits shared by every sip_core node of the platform.

A customer sold 100 channels gets 100 channels, however many sip_core nodes carry its traffic.
Each node counts the calls it admits; several times a second it publishes what it holds against
every limited key (channels in use, calls admitted per second), and it adds what the other nodes
published to its own counts before admitting a call::

    subject                      message
    sip.limits.usage.<node_id>   LimitUsage   (core NATS: current state, nothing to replay)

Sharing is eventually consistent by design: a call is admitted on local state, never after a
round trip (a NATS outage must not stop calls). So the platform may overshoot a limit by what the
other nodes admitted within one exchange interval, and while a node hears nothing from the others
(NATS unreachable) it enforces each limit on its own. A node's figures count until
``expires_after`` passes without a new report (a node that died holds nothing).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from libs.bus.messages import BusMessage

__all__ = [
    "LIMITS_MESSAGES",
    "LIMIT_USAGE_SUBJECTS",
    "MAX_REPORTED_KEYS",
    "LimitUsage",
    "limit_usage_subject",
]

#: Keys one report carries at most (a key is e.g. ``customer:<uuid>``: a report stays < 1 MB).
MAX_REPORTED_KEYS = 10_000

#: Every node's reports (what a node subscribes to).
LIMIT_USAGE_SUBJECTS = "sip.limits.usage.*"

LimitKeyName = Annotated[str, Field(min_length=1, max_length=128)]


def limit_usage_subject(node_id: str) -> str:
    """The subject a node publishes its :class:`LimitUsage` on."""
    return f"sip.limits.usage.{node_id}"


class LimitUsage(BusMessage):
    """What one sip_core node holds against the limited keys (only keys with a non-zero figure)."""

    node_id: Annotated[str, Field(min_length=1, max_length=128)]
    sequence: Annotated[
        int, Field(ge=0, description="Increases with every report of the node (older are stale).")
    ]
    expires_after: Annotated[
        float,
        Field(gt=0, le=60, description="Seconds the figures count without a newer report."),
    ]
    channels: Annotated[
        dict[LimitKeyName, Annotated[int, Field(ge=0)]],
        Field(max_length=MAX_REPORTED_KEYS, description="Calls in progress per limited key."),
    ] = {}
    cps: Annotated[
        dict[LimitKeyName, Annotated[float, Field(ge=0)]],
        Field(
            max_length=MAX_REPORTED_KEYS,
            description="Calls admitted per second over the last interval, per CPS-limited key.",
        ),
    ] = {}


LIMITS_MESSAGES: tuple[type[BusMessage], ...] = (LimitUsage,)
"""The shared-limits messages, for :data:`libs.bus.messages.ALL_MESSAGES`."""
