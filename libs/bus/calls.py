"""Live calls: each sip_core node lists its calls and hangs one up on request.

Addressed per node over NATS request/reply (nodes are found in the presence bucket)::

    subject                        request       reply
    sip.calls.list.<node_id>       ListCalls     CallsListed
    sip.calls.hangup.<node_id>     HangUpCall    CallHungUp

A customer-scoped request (``customer_id`` set) sees and ends only that customer's calls: a
hang-up of another customer's call answers ``found=False``, like an unknown call. A listing is
bounded (``limit``): the reply carries the node's ``total`` so a caller knows what it did not
get. :func:`gather_live_calls` asks every live sip_core node at once and merges the answers;
:func:`hang_up_live_call` asks them all to end one call. Both take one overall timeout: a node
that does not answer in time is named in the result, never waited for.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from libs.bus.errors import BusError, MessageDecodeError
from libs.bus.messages import BusMessage

if TYPE_CHECKING:  # libs.bus.messages registers this module's messages: no import cycle
    from libs.bus.client import Bus

__all__ = [
    "CALLS_MESSAGES",
    "CallHungUp",
    "CallsListed",
    "GatheredCalls",
    "HangUpCall",
    "ListCalls",
    "LiveCall",
    "calls_subject",
    "gather_live_calls",
    "hang_up_live_call",
]

#: Calls one node lists at most per request (a NATS message stays well under 1 MB).
MAX_LISTED = 2_000

CallState = Literal["routing", "early", "answered"]


def calls_subject(node_id: str, command: Literal["list", "hangup", "*"]) -> str:
    """The live-calls subject of one sip_core node for one command (``*`` for all)."""
    return f"sip.calls.{command}.{node_id}"


class LiveCall(BaseModel):
    """One call in progress on a sip_core node."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    call_id: Annotated[str, Field(description="The call's id (its CDR's call_id).")]
    node_id: str
    zone: str
    customer_id: uuid.UUID | None = None
    caller: Annotated[str, Field(description="The calling number as sent to the carrier.")]
    callee: Annotated[str, Field(description="The called number as sent to the carrier.")]
    state: CallState
    started_at: AwareDatetime
    answered_at: AwareDatetime | None = None
    source_address: Annotated[str, Field(description="Where the caller's INVITE came from.")]
    carrier_id: Annotated[
        uuid.UUID | None, Field(description="The carrier of the current attempt.")
    ] = None
    gateway: Annotated[
        str | None, Field(description="host:port of the current attempt's gateway.")
    ] = None
    attempt: Annotated[int, Field(ge=0, description="Carriers tried before the current one.")] = 0


class ListCalls(BusMessage):
    """List the node's calls, optionally one customer's only."""

    customer_id: uuid.UUID | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_LISTED)] = 500


class CallsListed(BusMessage):
    """A node's calls (at most the request's ``limit``, oldest first) and how many it has."""

    node_id: str
    calls: list[LiveCall]
    total: Annotated[int, Field(ge=0, description="Calls matching the request on the node.")]


class HangUpCall(BusMessage):
    """End a call (the switch releases it: ``operator_hangup`` in its CDR)."""

    call_id: Annotated[str, Field(min_length=1, max_length=64)]
    customer_id: Annotated[
        uuid.UUID | None, Field(description="When set, only this customer's call is ended.")
    ] = None


class CallHungUp(BusMessage):
    """The answer to :class:`HangUpCall`: whether the node had (and ended) that call."""

    node_id: str
    call_id: str
    found: bool


CALLS_MESSAGES: tuple[type[BusMessage], ...] = (ListCalls, CallsListed, HangUpCall, CallHungUp)
"""The live-calls messages, for :data:`libs.bus.messages.ALL_MESSAGES`."""


@dataclass
class GatheredCalls:
    """Live calls of every node that answered, and the nodes that did not."""

    calls: list[LiveCall] = field(default_factory=list)
    #: Calls matching on the nodes that answered (more than ``calls`` when a node hit the limit).
    total: int = 0
    unreachable: list[str] = field(default_factory=list)


async def _sip_nodes(bus: Bus, timeout: float) -> list[str]:  # noqa: ASYNC109
    from libs.bus.presence import live_nodes  # the client, not needed to decode messages

    return [node.node_id for node in await live_nodes(bus, "sip_core", timeout=timeout)]


async def gather_live_calls(
    bus: Bus,
    *,
    customer_id: uuid.UUID | None = None,
    limit: int = 500,
    timeout: float = 2.0,  # noqa: ASYNC109 - bounds the whole gathering
    nodes: list[str] | None = None,
) -> GatheredCalls:
    """The live calls of all sip_core nodes (or of ``nodes``), oldest first, at most ``limit``.

    Raises:
        BusUnavailable / BusTimeout: the presence bucket could not be read.
    """
    limit = max(1, min(limit, MAX_LISTED))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    node_ids = nodes if nodes is not None else await _sip_nodes(bus, timeout)
    request = ListCalls(customer_id=customer_id, limit=limit)

    async def ask(node_id: str) -> CallsListed | None:
        remaining = max(0.05, deadline - loop.time())
        try:
            return await bus.request(
                calls_subject(node_id, "list"), request, CallsListed, timeout=remaining
            )
        except (BusError, MessageDecodeError):
            return None

    replies = await asyncio.gather(*(ask(node_id) for node_id in node_ids))
    result = GatheredCalls()
    for node_id, reply in zip(node_ids, replies, strict=True):
        if reply is None:
            result.unreachable.append(node_id)
            continue
        result.calls.extend(reply.calls)
        result.total += reply.total
    result.calls.sort(key=lambda call: call.started_at)
    del result.calls[limit:]
    return result


async def hang_up_live_call(
    bus: Bus,
    call_id: str,
    *,
    customer_id: uuid.UUID | None = None,
    timeout: float = 2.0,  # noqa: ASYNC109 - bounds the whole request
    nodes: list[str] | None = None,
) -> tuple[bool, list[str]]:
    """Ask every sip_core node (or ``nodes``) to end ``call_id``.

    Returns whether a node had the call (and ended it), and the nodes that did not answer.

    Raises:
        BusUnavailable / BusTimeout: the presence bucket could not be read.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    node_ids = nodes if nodes is not None else await _sip_nodes(bus, timeout)
    request = HangUpCall(call_id=call_id, customer_id=customer_id)

    async def ask(node_id: str) -> CallHungUp | None:
        remaining = max(0.05, deadline - loop.time())
        try:
            return await bus.request(
                calls_subject(node_id, "hangup"), request, CallHungUp, timeout=remaining
            )
        except (BusError, MessageDecodeError):
            return None

    replies = await asyncio.gather(*(ask(node_id) for node_id in node_ids))
    found = any(reply is not None and reply.found for reply in replies)
    unreachable = [n for n, reply in zip(node_ids, replies, strict=True) if reply is None]
    return found, unreachable
