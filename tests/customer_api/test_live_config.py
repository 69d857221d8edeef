"""Writes through customer_api reach the switch nodes: a ConfigView on a real nats-server sees a
customer's SIP users and IP authentication entries appear, change and go, after each commit."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from nats.js.errors import KeyNotFoundError

from libs.bus import CONFIG_BUCKET
from libs.db.models import LookupAccess
from libs.liveconfig import ConfigPublisher, config_key
from libs.liveconfig.snapshot import lookup_keys
from libs.security import digest
from tests.customer_api.conftest import Portal


async def eventually(predicate: Callable[[], bool], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_sip_user_writes_are_published_after_commit(portal: Portal) -> None:
    client, view, customer_id = portal.client, portal.view, portal.customer_id
    made = await client.post("/v1/sip-users", json={"username": "pbx", "channel_limit": 0})
    assert made.status_code == 201, made.text
    user_id = uuid.UUID(made.json()["sip_user"]["id"])
    await eventually(lambda: view.get("sipuser", user_id) is not None)
    seen = view.get("sipuser", user_id)
    assert seen.customer_id == customer_id
    password = made.json()["generated_password"]
    assert seen.ha1_md5 == digest.ha1("pbx", seen.realm, password, "MD5")

    reset = await client.post(f"/v1/sip-users/{user_id}/reset-password")
    new_password = reset.json()["password"]
    await eventually(
        lambda: (
            view.get("sipuser", user_id).ha1_md5
            == digest.ha1("pbx", seen.realm, new_password, "MD5")
        )
    )
    await client.patch(f"/v1/sip-users/{user_id}", json={"cps_limit": 3})
    await eventually(lambda: view.get("sipuser", user_id).cps_limit == 3)

    assert (await client.delete(f"/v1/sip-users/{user_id}")).status_code == 204
    await eventually(lambda: view.get("sipuser", user_id) is None)


async def test_revoking_a_key_withdraws_it_from_lookup_api_at_once(portal: Portal) -> None:
    """A customer's key the operator gave lookup access (its ``lookupkey`` object published):
    revoked in customer_api, the object is gone from the bucket before the 204 is answered."""
    client, view = portal.client, portal.view
    keys = []
    for name in ("lookups", "kept"):
        made = await client.post(
            "/v1/api-keys", json={"name": name, "permissions": {"routing": "read"}}
        )
        assert made.status_code == 201, made.text
        keys.append(uuid.UUID(made.json()["id"]))
    async with portal.app.state.database.session() as session:
        session.add_all(LookupAccess(api_key_id=k, requests_per_second=5) for k in keys)
        await session.commit()
        granted = await lookup_keys(session)
    assert {k.id for k in granted} == set(keys)
    assert all(k.customer_id == portal.customer_id for k in granted)
    assert await ConfigPublisher(portal.connector).publish(put=granted)
    await eventually(lambda: all(view.get("lookupkey", k) is not None for k in keys))

    assert (await client.delete(f"/v1/api-keys/{keys[0]}")).status_code == 204
    # Published before the response: the bucket no longer holds it (the view follows).
    kv = await portal.connector.bus.key_value(CONFIG_BUCKET)
    with pytest.raises(KeyNotFoundError):  # KeyDeletedError: deleted, not merely absent
        await kv.get(config_key("lookupkey", keys[0]))
    assert (await kv.get(config_key("lookupkey", keys[1]))).value
    await eventually(lambda: view.get("lookupkey", keys[0]) is None)
    assert view.get("lookupkey", keys[1]) is not None
    # The database agrees: a reconcile would not bring it back.
    async with portal.app.state.database.session() as session:
        assert [k.id for k in await lookup_keys(session)] == [keys[1]]
    # One hook per lifespan (tests run the same app's lifespan many times).
    assert len(portal.app.state.api_key_revoked) == 1
