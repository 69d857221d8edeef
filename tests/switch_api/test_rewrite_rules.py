"""Parameter rewrite rules: CRUD, RE2-only regexes, and the step-by-step test action."""

from __future__ import annotations

import time

import httpx

from tests.switch_api import factories


async def _owner(api: httpx.AsyncClient) -> str:
    customer = await factories.customer(api)
    entry = await factories.ip_auth(api, customer_id=customer["id"], address="192.0.2.77")
    return str(entry["id"])


async def test_rules_apply_in_order_and_the_test_shows_each_step(api: httpx.AsyncClient) -> None:
    owner = await _owner(api)
    plus = await factories.create(
        api,
        "/v1/rewrite-rules",
        {"ip_auth_id": owner, "kind": "prefix", "match": "+", "replacement": "", "order": 1},
    )
    await factories.create(
        api,
        "/v1/rewrite-rules",
        {
            "ip_auth_id": owner,
            "kind": "regex",
            "match": "^00(\\d+)$",
            "replacement": "\\1",
            "order": 2,
        },
    )
    await factories.create(
        api,
        "/v1/rewrite-rules",
        {"ip_auth_id": owner, "target": "cli", "kind": "prefix", "match": "0", "replacement": "44"},
    )
    result = await api.post(
        "/v1/rewrite-rules/test", json={"ip_auth_id": owner, "input": "+00442071234567"}
    )
    assert result.status_code == 200, result.text
    body = result.json()
    assert body["output"] == "442071234567"
    assert [(s["before"], s["after"], s["matched"]) for s in body["steps"]] == [
        ("+00442071234567", "00442071234567", True),
        ("00442071234567", "442071234567", True),
    ]
    assert body["steps"][0]["rule_id"] == plus["id"]

    cli = await api.post(
        "/v1/rewrite-rules/test",
        json={"ip_auth_id": owner, "target": "cli", "input": "07700900123"},
    )
    assert cli.json()["output"] == "447700900123"

    draft = await api.post(
        "/v1/rewrite-rules/test",
        json={
            "rules": [{"kind": "regex", "match": "^(?P<cc>44)0", "replacement": "${cc}"}],
            "input": "4402071234567",
        },
    )
    assert draft.json()["output"] == "442071234567"
    assert draft.json()["steps"][0]["rule_id"] is None

    moved = await api.patch(f"/v1/rewrite-rules/{plus['id']}", json={"order": 5})
    assert moved.json()["order"] == 5
    listed = (await api.get("/v1/rewrite-rules", params={"ip_auth_id": owner})).json()
    assert [r["order"] for r in listed["items"]] == [0, 2, 5]
    assert (await api.delete(f"/v1/rewrite-rules/{plus['id']}")).status_code == 204


async def test_patterns_re2_cannot_run_in_linear_time_are_refused(api: httpx.AsyncClient) -> None:
    owner = await _owner(api)
    for pattern in ("(a)\\1", "^(?=44)"):
        response = await api.post(
            "/v1/rewrite-rules",
            json={"ip_auth_id": owner, "kind": "regex", "match": pattern, "replacement": ""},
        )
        assert response.status_code == 422, pattern
        assert response.json()["errors"][0]["loc"] == ["body", "match"]
        assert "RE2" in response.json()["detail"]
    bad_template = await api.post(
        "/v1/rewrite-rules",
        json={"ip_auth_id": owner, "kind": "regex", "match": "^44", "replacement": "\\3"},
    )
    assert bad_template.json()["errors"][0]["loc"] == ["body", "replacement"]
    draft = await api.post(
        "/v1/rewrite-rules/test",
        json={"rules": [{"kind": "regex", "match": "(", "replacement": ""}], "input": "1"},
    )
    assert draft.json()["errors"][0]["loc"] == ["body", "rules.0.match"]


async def test_a_pathological_regex_is_harmless(api: httpx.AsyncClient) -> None:
    owner = await _owner(api)
    # Catastrophic for a backtracking engine (2^n steps); RE2 matches it in linear time.
    rule = await factories.create(
        api,
        "/v1/rewrite-rules",
        {"ip_auth_id": owner, "kind": "regex", "match": "(a+)+$", "replacement": "x"},
    )
    assert rule["match"] == "(a+)+$"
    started = time.monotonic()
    result = await api.post(
        "/v1/rewrite-rules/test", json={"ip_auth_id": owner, "input": "a" * 120 + "b"}
    )
    assert time.monotonic() - started < 1.0
    assert result.json()["steps"][0]["matched"] is False


async def test_a_rule_needs_one_existing_owner(api: httpx.AsyncClient) -> None:
    none = await api.post("/v1/rewrite-rules", json={"match": "1"})
    assert none.status_code == 422
    missing = await api.post(
        "/v1/rewrite-rules",
        json={"sip_user_id": "00000000-0000-0000-0000-000000000009", "match": "1"},
    )
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["loc"] == ["body", "sip_user_id"]
