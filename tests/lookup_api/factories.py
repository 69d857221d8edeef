"""Small factories for lookup_api tests: keys, datasets, routing configuration, an app."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import httpx
from fastapi import FastAPI

from libs.identity import API_KEY_PREFIX
from libs.liveconfig.models import (
    CarrierConfig,
    GatewayConfig,
    LookupKeyConfig,
    RouteCarrierConfig,
    RouteConfig,
)
from libs.lookup import DatasetBuilder, DatasetIndex, DatasetKind, dnc_key, load_dataset, sort_rows
from libs.security import new_token
from services.lookup_api.app import create_app
from services.lookup_api.config import LookupApiSettings
from services.lookup_api.state import LookupState
from tests.identity.factories import unreachable_nats
from tests.routing.factories import card


def make_key(
    *,
    rps: int = 0,
    quota: int = 0,
    customer_id: uuid.UUID | None = None,
    sources: list[str] | None = None,
) -> tuple[str, LookupKeyConfig]:
    token = new_token(API_KEY_PREFIX)
    config = LookupKeyConfig(
        id=uuid.uuid4(),
        lookup_id=token.lookup_id,
        key_hash=token.token_hash,
        name="test",
        customer_id=customer_id,
        allowed_sources=[sources] if sources else [],
        requests_per_second=rps,
        daily_quota=quota,
    )
    return token.plaintext, config


def lrn_dataset(
    rows: Iterable[tuple[str, str, str]], *, name: str = "lrn", priority: int = 0
) -> DatasetIndex:
    builder = DatasetBuilder(DatasetKind.LRN)
    for number, lrn, operator in rows:
        builder.add_lrn(int(number), int(lrn) if lrn else 0, operator)
    order, duplicates = sort_rows(builder.keys)
    assert not duplicates
    header = {"id": str(uuid.uuid4()), "name": name, "priority": priority}
    return load_dataset(builder.compile(header, order))


def cnam_dataset(rows: Iterable[tuple[str, str]], *, name: str = "cnam") -> DatasetIndex:
    builder = DatasetBuilder(DatasetKind.CNAM)
    for number, caller in rows:
        builder.add_cnam(int(number), caller)
    order, _ = sort_rows(builder.keys)
    return load_dataset(builder.compile({"id": str(uuid.uuid4()), "name": name}, order))


def dnc_dataset(entries: Iterable[str], *, name: str = "dnc") -> DatasetIndex:
    builder = DatasetBuilder(DatasetKind.DNC)
    for entry in entries:
        builder.add_dnc(dnc_key(entry.rstrip("*"), exact=not entry.endswith("*")))
    order, _ = sort_rows(builder.keys)
    return load_dataset(builder.compile({"id": str(uuid.uuid4()), "name": name}, order))


CUSTOMER = uuid.UUID("00000000-0000-0000-0000-0000000000c1")


def routing_config() -> dict[str, dict[uuid.UUID, Any]]:
    """Three carriers on one route (least cost), a sell card and three buy cards."""
    carriers = {}
    for n, host in ((1, "127.0.0.11"), (2, "127.0.0.12"), (3, "127.0.0.13")):
        carrier_id = uuid.UUID(int=n)
        carriers[carrier_id] = CarrierConfig(
            id=carrier_id,
            name=f"carrier {n}",
            rate_card_id=f"buy{n}",
            tech_prefix="99" if n == 2 else "",
            gateways=[GatewayConfig(id=f"gw{n}", host=host)],
        )
    route_id = uuid.UUID(int=100)
    routes = {
        route_id: RouteConfig(
            id=route_id,
            customer_id=str(CUSTOMER),
            rate_card_id="sell",
            dial_pattern={"prefix": "44"},
            carriers=[RouteCarrierConfig(carrier_id=str(uuid.UUID(int=n))) for n in (1, 2, 3)],
        )
    }
    cards = {
        uuid.uuid4(): card("sell", {"44": "0.0200", "4420": "0.0150", "447": "0.0900"}),
        uuid.uuid4(): card("buy1", {"44": "0.0100", "4420": "0.0120"}),
        uuid.uuid4(): card("buy2", {"44": "0.0090", "4420": "0.0110", "447": "0.0500"}),
        uuid.uuid4(): card("buy3", {"4420": "0.0200"}),
    }
    return {"carrier": carriers, "route": routes, "ratecard": cards}


def lookup_app(*, fast_path: bool = True) -> FastAPI:
    settings = LookupApiSettings(
        environment="test", nats=unreachable_nats(), lookup={"fast_path": fast_path}
    )
    return create_app(settings)


def state_of(app: FastAPI) -> LookupState:
    state: LookupState = app.state.lookup
    return state


def client(app: FastAPI, source: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(source, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://lookup")
