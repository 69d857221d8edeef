"""Strictly their own data: every customer_api route, walked from ``app.routes`` (so a route added
later is covered without touching this test), refuses another account's ids with 404 and never
shows another account's rows.

Two accounts get one object of every kind (SIP user, IP authentication entry, sell card with a
scheduled revision, API key, CDR, a firewall block on the account's address). Logged in as the
first account's admin, each route that takes an id is called with the second account's id (404,
nothing of theirs in the body, their objects unchanged afterwards) and, for reads, with the
first account's own id (200: the 404 comes from the scoping, not from a broken route). Each list
is read whole and must hold none of the second account's identifiers or names.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from libs.web.identity import PUBLIC_PATHS
from tests.customer_api.factories import Account

NewAccount = Callable[..., Awaitable[Account]]

OPERATIONS = {"/healthz", "/readyz", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc"}
OPERATIONS |= {"/openapi.json"}
#: Each path parameter of customer_api, and the kind of object it names. A route with a
#: parameter missing here fails the test: add the new kind to :func:`_objects`.
PARAMETERS = {
    "user_id": "sip_user",
    "entry_id": "ip_auth",
    "card_id": "card",
    "key_id": "api_key",
    "cdr_id": "cdr",
    "call_id": "call",
}
#: Routes whose objects live on the sip_core nodes, not in the database. The apps under test
#: have no NATS, so these must answer 503 ("cannot be asked now") — never anyone's data; the
#: nodes' own scoping (a customer-scoped request sees only that customer's calls) is tested
#: with libs.bus.calls.
NODE_ROUTES = {"/v1/live-calls", "/v1/live-calls/{call_id}", "/v1/registrations"}
#: Query parameters that name an object, checked on the routes that take them (on node routes
#: too: the id is checked in the database before the nodes are asked, so 404, not 503).
QUERY_IDS = {"revision_id": "revision", "sip_user_id": "sip_user"}
#: Routes that must not be called in the walk (ending the session the walk runs on).
SKIPPED = {("POST", "/v1/auth/logout")}
_HOSTS = itertools.count(1)


async def _objects(account: Account) -> dict[str, dict[str, Any]]:
    """One object of every kind for ``account``; each with the texts that identify it."""
    user = await account.sip_user(channel_limit=2)
    address = f"203.0.113.{next(_HOSTS)}"
    entry = await account.ip_auth(address=address)
    made = await account.operator.post(
        "/v1/firewall-rules",
        json={"network": address, "action": "block", "reason": f"probe-{account.id[:8]}"},
    )
    assert made.status_code == 201, made.text
    block = made.json()
    card = await account.sell_card({"44": ("United Kingdom", "0.0100")})
    revision = await account.schedule(card, {"44": ("United Kingdom", "0.0090")})
    made = await account.client.post(
        "/v1/api-keys", json={"name": f"key-{account.id[:8]}", "permissions": {"rates": "read"}}
    )
    assert made.status_code == 201, made.text
    key = made.json()["api_key"] if "api_key" in made.json() else made.json()
    call = account.call(callee_received=f"49{next(_HOSTS):08d}")
    await account.calls(call)
    listed = (await account.client.get("/v1/cdrs")).json()["items"]
    cdr = next(c for c in listed if c["call_id"] == call.call_id)
    return {
        "sip_user": {"id": user["id"], "markers": [user["id"], user["username"]]},
        "ip_auth": {"id": entry["id"], "markers": [entry["id"]]},
        "block": {
            "id": block["id"],
            "markers": [block["id"], block["reason"], f'"{address}"', f'"{block["network"]}"'],
        },
        "card": {"id": card["id"], "markers": [card["id"], card["name"], card["revision_id"]]},
        "revision": {"id": revision["id"], "markers": [revision["id"]]},
        "api_key": {"id": key["id"], "markers": [key["id"], key["name"]]},
        "customer": {"id": account.id, "markers": [account.id]},
        "call": {"id": call.call_id, "markers": [call.call_id]},
        "cdr": {"id": cdr["id"], "markers": [cdr["id"], call.call_id, call.callee_received]},
    }


def _routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or route.path in OPERATIONS | set(PUBLIC_PATHS):
            continue
        for method in sorted(route.methods):
            if (method, route.path) not in SKIPPED:
                found.append((method, route))
    return found


def _fill(path: str, objects: dict[str, dict[str, Any]]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in PARAMETERS, f"{path}: unknown path parameter {name!r}; add it to the test"
        return str(objects[PARAMETERS[name]]["id"])

    return re.sub(r"\{([^}]+)\}", replace, path)


def _query_parameters(route: APIRoute) -> set[str]:
    return {p.name for p in route.dependant.query_params}


async def test_every_route_refuses_another_accounts_ids_and_rows(
    accounts: NewAccount, customer_app: FastAPI
) -> None:
    acme = await accounts(ip_auth_self_service=True, channel_limit=50)
    rival = await accounts(ip_auth_self_service=True, channel_limit=50)
    mine, theirs = await _objects(acme), await _objects(rival)
    markers = [m for kind in theirs.values() for m in kind["markers"]]

    def assert_nothing_of_theirs(label: str, body: str) -> None:
        for marker in markers:
            assert marker not in body, f"{label} shows {marker!r} of the other account"

    walked_with_ids, walked_lists = 0, 0
    for method, route in _routes(customer_app):
        label = f"{method} {route.path}"
        body = {} if method in ("POST", "PATCH", "PUT") else None
        if route.path in NODE_ROUTES:
            response = await acme.client.request(method, _fill(route.path, theirs), json=body)
            assert response.status_code == 503, (label, response.status_code, response.text)
            assert_nothing_of_theirs(label, response.text.replace(theirs["call"]["id"], ""))
            for name in _query_parameters(route) & set(QUERY_IDS):
                asked = theirs[QUERY_IDS[name]]["id"]
                foreign = await acme.client.request(
                    method, _fill(route.path, mine), params={name: asked}, json=body
                )
                assert foreign.status_code == 404, (label, name, foreign.text)
                assert_nothing_of_theirs(label, foreign.text.replace(asked, ""))
                own = await acme.client.request(
                    method, _fill(route.path, mine), params={name: mine[QUERY_IDS[name]]["id"]}
                )
                assert own.status_code == 503, (label, name, own.text)
            continue
        if "{" in route.path:
            response = await acme.client.request(method, _fill(route.path, theirs), json=body)
            assert response.status_code == 404, (label, response.status_code, response.text)
            # The 404 may echo the id asked for, nothing else of theirs.
            echoed = {theirs[PARAMETERS[p]]["id"] for p in re.findall(r"\{([^}]+)\}", route.path)}
            assert_nothing_of_theirs(
                label, re.sub("|".join(map(re.escape, echoed)), "", response.text)
            )
            if method == "GET":
                own = await acme.client.get(_fill(route.path, mine))
                assert own.status_code == 200, (label, own.text)
                assert_nothing_of_theirs(label, own.text)
                # A query parameter naming another account's object is refused the same way.
                for name in _query_parameters(route) & set(QUERY_IDS):
                    foreign = await acme.client.get(
                        _fill(route.path, mine), params={name: theirs[QUERY_IDS[name]]["id"]}
                    )
                    assert foreign.status_code == 404, (label, name, foreign.text)
                    asked = theirs[QUERY_IDS[name]]["id"]
                    assert_nothing_of_theirs(label, foreign.text.replace(asked, ""))
            walked_with_ids += 1
        elif method == "GET":
            params = {"limit": 1000, "include_expired": True}
            response = await acme.client.get(route.path, params=params)
            assert response.status_code == 200, (label, response.text)
            assert_nothing_of_theirs(label, response.text)
            walked_lists += 1
    assert walked_with_ids >= 12, walked_with_ids
    assert walked_lists >= 5, walked_lists

    # Nothing of theirs changed: every object reads back as the rival made it.
    user = await rival.client.get(f"/v1/sip-users/{theirs['sip_user']['id']}")
    assert user.status_code == 200
    assert user.json()["version"] == 1
    entry = await rival.client.get(f"/v1/ip-auth/{theirs['ip_auth']['id']}")
    assert entry.status_code == 200
    assert entry.json()["version"] == 1
    key = await rival.client.get(f"/v1/api-keys/{theirs['api_key']['id']}")
    assert key.status_code == 200
    assert key.json().get("revoked_at") is None


async def test_own_lists_hold_own_rows(accounts: NewAccount) -> None:
    """The other half of the proof: the lists above are not simply empty."""
    acme = await accounts()
    mine = await _objects(acme)
    for path, kind in (
        ("/v1/sip-users", "sip_user"),
        ("/v1/ip-auth", "ip_auth"),
        ("/v1/rate-cards", "card"),
        ("/v1/api-keys", "api_key"),
        ("/v1/cdrs", "cdr"),
        ("/v1/ledger", "cdr"),
        ("/v1/firewall-blocks", "block"),
    ):
        response = await acme.client.get(path)
        assert response.status_code == 200, response.text
        assert any(m in response.text for m in mine[kind]["markers"]), path
