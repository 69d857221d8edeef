"""switch_api's lookup side: dataset imports (line-numbered errors, all or nothing), lookup
access for API keys, and usage counters from lookup_api's reports."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

from libs.bus.lookup import KeyUsage, LookupUsageReported
from libs.db.models import LookupDataset
from libs.liveconfig.snapshot import dataset_blob, lookup_keys
from libs.lookup import LrnIndex, load_dataset
from services.switch_api.lookup.usage import UsageRecorder


async def _dataset(api: httpx.AsyncClient, kind: str, name: str) -> dict[str, object]:
    response = await api.post("/v1/lookup/datasets", json={"name": name, "kind": kind})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_an_lrn_import_reports_bad_lines_then_stores_the_compiled_dataset(
    api: httpx.AsyncClient, switch_app: FastAPI
) -> None:
    dataset = await _dataset(api, "lrn", "npac")
    bad = "number,lrn,operator\n2125550123,2125550000,VZN\nabc,1,X\n2125550123,2125559999,ATT\n"
    response = await api.post(
        f"/v1/lookup/datasets/{dataset['id']}/import",
        params={"prepend": "1"},
        content=bad,
        headers={"content-type": "text/csv"},
    )
    assert response.status_code == 422
    problem = response.json()
    assert [e["line"] for e in problem["errors"]] == [3]
    assert "nothing was imported" in problem["detail"]
    duplicate = "number,lrn\n2125550123,2125550000\n2125550124,\n2125550123,2125559999\n"
    response = await api.post(
        f"/v1/lookup/datasets/{dataset['id']}/import", params={"prepend": "1"}, content=duplicate
    )
    assert response.status_code == 422
    assert "also on line 2" in response.json()["errors"][0]["msg"]
    assert (await api.get(f"/v1/lookup/datasets/{dataset['id']}")).json()["row_count"] == 0

    good = "tn,routing_number,spid\n+1 212 555 0124,,\n(212) 555-0123,2125550000,VZN\n"
    response = await api.post(
        f"/v1/lookup/datasets/{dataset['id']}/import", params={"prepend": "1"}, content=good
    )
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == 2
    stored = (await api.get(f"/v1/lookup/datasets/{dataset['id']}")).json()
    assert (stored["row_count"], len(stored["blob_sha256"])) == (2, 64)
    async with switch_app.state.database.session() as session:
        row = await session.get(LookupDataset, uuid.UUID(str(dataset["id"])))
        assert row is not None
        index = load_dataset(await dataset_blob(session, row.id))
    assert isinstance(index, LrnIndex)
    found = index.get("12125550123")
    assert found is not None
    assert (found.lrn, found.operator) == ("12125550000", "VZN")


async def test_lookup_access_and_usage(api: httpx.AsyncClient, switch_app: FastAPI) -> None:
    created = await api.post(
        "/v1/api-keys", json={"name": "lookups", "permissions": {"routing": "read"}}
    )
    assert created.status_code == 201, created.text
    key_id = created.json()["id"]
    assert (await api.get(f"/v1/lookup/access/{key_id}")).status_code == 404
    granted = await api.put(
        f"/v1/lookup/access/{key_id}", json={"requests_per_second": 50, "daily_quota": 1000}
    )
    assert granted.status_code == 200, granted.text
    async with switch_app.state.database.session() as session:
        published = await lookup_keys(session)
    assert [(k.requests_per_second, k.daily_quota) for k in published] == [(50, 1000)]
    assert published[0].key_hash != created.json()["key"]

    recorder = UsageRecorder(switch_app.state.database, switch_app.state.bus)
    today = datetime.now(UTC).date()
    for requests in (3, 4):
        await recorder.record(
            LookupUsageReported(
                node_id="n1",
                day=today,
                sent_at=datetime.now(UTC),
                keys=[KeyUsage(api_key_id=key_id, requests=requests, refused=1)],
            )
        )
    usage = (await api.get("/v1/lookup/usage", params={"api_key_id": key_id})).json()
    assert [(u["requests"], u["refused"]) for u in usage] == [(7, 2)]

    assert (await api.delete(f"/v1/api-keys/{key_id}")).status_code == 204
    async with switch_app.state.database.session() as session:
        assert await lookup_keys(session) == []
