from __future__ import annotations

from pydantic import BaseModel, Field

from libs.bus.calls import LiveCall as BusLiveCall


class LiveCall(BusLiveCall):
    """A call in progress (``state``: routing to a carrier, ringing/early media, answered)."""


class LiveCallList(BaseModel):
    items: list[LiveCall]
    total: int = Field(
        description="Calls matching on the nodes that answered (more than ``items`` when the "
        "limit cut the list)."
    )
    unreachable_nodes: list[str] = Field(
        description="sip_core nodes that did not answer in time: their calls are missing."
    )
