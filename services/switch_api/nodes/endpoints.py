from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request

from services.switch_api.deps import RoutingRead
from services.switch_api.nodes.schemas import Node
from services.switch_api.nodes.service import list_nodes
from services.switch_api.openapi import errors

router = APIRouter(prefix="/v1/nodes", tags=["nodes"])


@router.get("", operation_id="nodes_list", responses=errors(503))
async def get_nodes(
    _: RoutingRead,
    request: Request,
    role: Literal["sip_core", "rtp_relay", "lookup_api", "switch_api", "customer_api"]
    | None = None,
    zone: Annotated[str | None, Query(max_length=63)] = None,
) -> list[Node]:
    """List the live nodes (read-only: from their heartbeats), optionally of a role or zone."""
    return await list_nodes(getattr(request.app.state, "bus", None), role=role, zone=zone)
