"""Messages of the media relays' control protocol (``media.relay.<node_id>.<command>``).

Requests are named for the command, replies for what happened (STYLE.md). The offer, answer,
delete and query commands of the relay build on the same subjects.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from libs.bus.messages import BusMessage

__all__ = ["RelayStatus", "RelayStatusRequested", "relay_subject"]


def relay_subject(node_id: str, command: str) -> str:
    """The control subject of one relay node for one command (``*`` for all)."""
    return f"media.relay.{node_id}.{command}"


class RelayStatusRequested(BusMessage):
    """Ask one relay for its capacity (sip_core probes a relay before trusting it)."""


class RelayStatus(BusMessage):
    """A relay's answer: who it is and how many port pairs it has and uses."""

    node_id: Annotated[str, Field(min_length=1)]
    zone: Annotated[str, Field(min_length=1)]
    port_pairs: Annotated[int, Field(ge=0, description="RTP/RTCP port pairs in the range.")]
    port_pairs_in_use: Annotated[int, Field(ge=0)]
