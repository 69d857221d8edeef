"""API keys on lookup_api: rate limits and daily quotas (429 + Retry-After), allow lists,
revocation, and quotas counted across nodes from their usage reports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from libs.liveconfig.models import LookupKeyConfig
from services.lookup_api.access import Gate
from services.lookup_api.state import LookupState
from tests.lookup_api.factories import client, lookup_app, make_key, state_of


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.wall = datetime(2026, 3, 1, 23, 59, 0, tzinfo=UTC)

    def monotonic(self) -> float:
        return self.now

    def today(self) -> datetime:
        return self.wall


def install(state: LookupState, *keys: LookupKeyConfig) -> None:
    state.install({"lookupkey": {k.id: k for k in keys}}, {"lookupkey"})


@pytest.fixture
async def setup() -> AsyncIterator[tuple[httpx.AsyncClient, LookupState, Clock]]:
    app = lookup_app()
    clock = Clock()
    state = state_of(app)
    gate: Gate = app.state.gate
    gate._clock, gate._today = clock.monotonic, clock.today  # the test's clocks
    async with client(app, source="192.0.2.10") as http:
        yield http, state, clock


async def test_rate_limit_answers_429_with_retry_after(setup: Any) -> None:
    http, state, clock = setup
    key, config = make_key(rps=2)
    install(state, config)
    headers = {"X-API-Key": key}
    assert (await http.get("/v1/numbers/+442079460018", headers=headers)).status_code == 200
    assert (await http.get("/v1/numbers/+442079460018", headers=headers)).status_code == 200
    limited = await http.get("/v1/numbers/+442079460018", headers=headers)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "1"
    assert "2 lookups a second" in limited.json()["detail"]
    clock.now += 0.5  # one token back
    assert (await http.get("/v1/numbers/+442079460018", headers=headers)).status_code == 200
    assert (await http.get("/v1/numbers/+442079460018", headers=headers)).status_code == 429
    # a batch costs one token per number; a big batch passes on a full bucket, then waits
    clock.now += 10
    big = await http.post("/v1/batch", headers=headers, json={"numbers": ["+4420794600"] * 5})
    assert big.status_code == 200
    after = await http.get("/v1/numbers/+442079460018", headers=headers)
    assert after.status_code == 429
    assert after.headers["retry-after"] == "2"  # 3 tokens in debt + 1 needed, at 2 a second


async def test_daily_quota_counts_every_node_and_resets_at_utc_midnight(setup: Any) -> None:
    http, state, clock = setup
    key, config = make_key(quota=5)
    install(state, config)
    headers = {"X-API-Key": key}
    gate: Gate = http._transport.app.state.gate  # type: ignore[attr-defined]
    for _ in range(2):
        assert (await http.get("/v1/lrn/+12125550123", headers=headers)).status_code == 200
    report = gate.report()
    assert report is not None
    assert [(k.requests, k.requests_today) for k in report.keys] == [(2, 2)]
    assert gate.report() is None  # nothing new since
    # another node reports 2 of its own: 4 used cluster-wide
    other = report.model_copy(update={"node_id": "other-node"})
    gate.learn(other)
    assert (await http.get("/v1/lrn/+12125550123", headers=headers)).status_code == 200
    refused = await http.get("/v1/lrn/+12125550123", headers=headers)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"  # 23:59 UTC: a minute to midnight
    assert "daily quota of 5" in refused.json()["detail"]
    usage = (await http.get("/v1/usage", headers=headers)).json()
    assert (usage["used_today"], usage["refused_today"], usage["daily_quota"]) == (5, 1, 5)
    clock.wall = datetime(2026, 3, 2, 0, 0, 1, tzinfo=UTC)
    assert (await http.get("/v1/lrn/+12125550123", headers=headers)).status_code == 200


async def test_allow_lists_and_revocation(setup: Any) -> None:
    http, state, _ = setup
    key, config = make_key(sources=["198.51.100.0/24"])
    install(state, config)
    refused = await http.get("/v1/numbers/+442079460018", headers={"X-API-Key": key})
    assert refused.status_code == 403
    assert "192.0.2.10" in refused.json()["detail"]
    allowed_key, allowed = make_key(sources=["192.0.2.0/24"])
    install(state, allowed)
    ok = await http.get("/v1/numbers/+442079460018", headers={"X-API-Key": allowed_key})
    assert ok.status_code == 200
    install(state)  # the key's lookupkey object deleted (revoked): refused at once
    gone = await http.get("/v1/numbers/+442079460018", headers={"X-API-Key": allowed_key})
    assert gone.status_code == 401
    assert gone.headers["www-authenticate"] == "Bearer"
