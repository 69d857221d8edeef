"""GET /v1/firewall-blocks: the blocks that hit the account's own authorised addresses (IP
authentication entries and source ranges), manual or automatic, newest first — never a block
on someone else's address, never an automatic block's operator-only detail."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from libs.db import utcnow
from libs.db.models import FirewallAction, FirewallRule, FirewallSource
from tests.customer_api.factories import Account

NewAccount = Callable[..., Awaitable[Account]]


async def _block(account: Account, network: str, **fields: Any) -> dict[str, Any]:
    made = await account.operator.post(
        "/v1/firewall-rules", json={"network": network, "action": "block", **fields}
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


async def test_blocks_on_own_addresses_with_reason_and_expiry(accounts: NewAccount) -> None:
    acme = await accounts(source_ranges=["192.0.2.8/29", "198.51.100.0/28"])
    rival = await accounts()
    await acme.ip_auth(address="192.0.2.10")
    await rival.ip_auth(address="192.0.2.77")
    until = (utcnow() + timedelta(hours=2)).isoformat()
    exact = await _block(acme, "192.0.2.10", reason="INVITE flood", expires_at=until)
    wide = await _block(acme, "192.0.2.0/24", reason="Abuse from this network")
    in_range = await _block(acme, "198.51.100.3", reason="Scanner in your range")
    theirs = await _block(acme, "192.0.2.77", reason="Rival's own trouble")
    await _block(acme, "203.0.113.0/24", reason="Nobody's")
    allowed = await acme.operator.post(
        "/v1/firewall-rules", json={"network": "192.0.2.10/31", "action": "allow"}
    )
    assert allowed.status_code == 201  # an allow rule is no block

    listed = await acme.client.get("/v1/firewall-blocks")
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [i["id"] for i in items] == [in_range["id"], wide["id"], exact["id"]]  # newest first
    first = items[2]
    assert first["network"] == exact["network"]
    assert first["addresses"] == ["192.0.2.10/32", "192.0.2.8/29"]
    assert (first["reason"], first["source"], first["kind"]) == ("INVITE flood", "manual", None)
    assert first["expires_at"] is not None
    assert first["active"] is True
    assert first["created_at"]
    assert items[1]["addresses"] == ["192.0.2.10/32", "192.0.2.8/29"]
    assert items[1]["expires_at"] is None
    assert items[0]["addresses"] == ["198.51.100.0/28"]
    assert theirs["id"] not in listed.text
    assert "192.0.2.77" not in listed.text

    # The rival sees the block on its own address, and neither of acme's.
    seen = (await rival.client.get("/v1/firewall-blocks")).json()["items"]
    assert [i["id"] for i in seen] == [theirs["id"], wide["id"]]
    assert seen[1]["addresses"] == ["192.0.2.77/32"]  # the shared /24: only its own address


async def test_automatic_blocks_show_their_kind_not_the_operators_detail(
    accounts: NewAccount,
) -> None:
    acme = await accounts()
    await acme.ip_auth(address="192.0.2.20")
    await acme.ip_auth(address="192.0.2.21")
    now = utcnow()
    async with acme.database.session() as session:
        session.add_all(
            [
                FirewallRule(
                    id=uuid.uuid4(), network="192.0.2.20/32", action=FirewallAction.BLOCK,
                    source=FirewallSource.AUTOMATIC, expires_at=now + timedelta(hours=1),
                    reason="automatic: 40 failed authentications for username 'rival-1001' "
                    "from 3 sources within 300 s (12 from this one)",
                    evidence={"reason": "username_attack", "username": "rival-1001",
                              "nodes": ["sip-7"]},
                    offences=2,
                ),
                FirewallRule(
                    id=uuid.uuid4(), network="192.0.2.21/32", action=FirewallAction.BLOCK,
                    source=FirewallSource.AUTOMATIC, expires_at=now - timedelta(minutes=5),
                    reason="automatic: flood: 900 requests within 10 s (limit 200) on sip-7",
                    evidence={"reason": "flood"}, offences=1,
                ),
            ]
        )  # fmt: skip
        await session.commit()

    active = await acme.client.get("/v1/firewall-blocks")
    assert active.status_code == 200, active.text
    (block,) = active.json()["items"]
    assert (block["network"], block["source"], block["kind"]) == (
        "192.0.2.20/32",
        "automatic",
        "username_attack",
    )
    assert "many addresses" in block["reason"]
    for secret in ("rival-1001", "sip-7", "evidence", "offences"):
        assert secret not in active.text

    history = await acme.client.get("/v1/firewall-blocks", params={"include_expired": True})
    items = history.json()["items"]
    assert sorted((i["network"], i["active"], i["kind"]) for i in items) == [
        ("192.0.2.20/32", True, "username_attack"),
        ("192.0.2.21/32", False, "flood"),
    ]
    assert "sip-7" not in history.text


async def test_an_account_without_addresses_has_no_blocks(accounts: NewAccount) -> None:
    acme = await accounts()
    other = await accounts()
    await other.ip_auth(address="192.0.2.30")
    await _block(other, "0.0.0.0/0", reason="Everything")
    listed = await acme.client.get("/v1/firewall-blocks", params={"include_expired": True})
    assert (listed.status_code, listed.json()) == (200, {"items": []})
