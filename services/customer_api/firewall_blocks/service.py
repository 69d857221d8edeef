"""Blocks on the account's own addresses (:func:`libs.accounts.blocks_hitting_customer`).

The rule's network, times and origin are shown as they are. An automatic block's stored reason
and evidence are the operator's: they can name SIP usernames tried from the address (another
account's, for an attack) and switch nodes, so the customer gets the block's kind and a fixed
explanation instead. A manual block shows the reason the operator wrote.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from libs.accounts import AccountQueries
from libs.accounts.firewall import BlockHit, blocks_hitting_customer
from libs.db import UnitOfWork, utcnow
from libs.db.models import FirewallSource
from services.customer_api.firewall_blocks.schemas import FirewallBlock, FirewallBlockList

#: What a customer is told about an automatic block, by the IDS's reason.
AUTOMATIC_REASONS = {
    "auth_failures": "Too many failed SIP authentications from this address.",
    "username_attack": "Failed SIP authentications against one username from many addresses, "
    "this one among them.",
    "username_enumeration": "Too many different SIP usernames tried from this address.",
    "scanner": "A SIP scanner was seen sending from this address.",
    "flood": "Too many SIP requests from this address.",
}
AUTOMATIC_DEFAULT = "Blocked by the switch's intrusion detection."


async def firewall_blocks(
    uow: UnitOfWork, customer_id: uuid.UUID, *, include_expired: bool
) -> FirewallBlockList:
    now = utcnow()
    hits = await blocks_hitting_customer(
        AccountQueries(uow.session), customer_id, active_at=None if include_expired else now
    )
    return FirewallBlockList(items=[_view(hit, now) for hit in hits])


def _view(hit: BlockHit, now: datetime) -> FirewallBlock:
    rule = hit.rule
    automatic = rule.source is FirewallSource.AUTOMATIC
    stored = (rule.evidence or {}).get("reason") if automatic else None
    kind = stored if isinstance(stored, str) and stored in AUTOMATIC_REASONS else None
    reason = AUTOMATIC_REASONS.get(kind or "", AUTOMATIC_DEFAULT) if automatic else rule.reason
    return FirewallBlock(
        id=rule.id,
        network=rule.network,
        addresses=list(hit.addresses),
        source="automatic" if automatic else "manual",
        kind=kind,
        reason=reason,
        created_at=rule.created_at,
        expires_at=rule.expires_at,
        active=rule.expires_at is None or rule.expires_at > now,
    )
