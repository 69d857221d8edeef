from __future__ import annotations

import builtins
import uuid
from datetime import datetime

from libs.accounts import AccountQueries
from libs.accounts.firewall import blocks_hitting_customer
from libs.db import DuplicateKey, KeysetPage, UnitOfWork, utcnow
from libs.db.listing import list_page
from libs.db.models import FirewallAction, FirewallRule, FirewallSource
from libs.errors import Conflict, NotFound
from libs.liveconfig.snapshot import firewall_config
from services.switch_api.firewall.repository import FirewallRepository
from services.switch_api.firewall.schemas import FirewallRuleCreate, FirewallRuleUpdate
from services.switch_api.live import LiveConfig
from services.switch_api.rules import apply_changes, changes_of, invalid, normalise_network


def is_expired(rule: FirewallRule, now: datetime | None = None) -> bool:
    return rule.expires_at is not None and rule.expires_at <= (now or utcnow())


class FirewallService:
    def __init__(self, uow: UnitOfWork, live: LiveConfig) -> None:
        self.uow = uow
        self.live = live
        self.rules = FirewallRepository(uow.session)

    async def list(
        self,
        *,
        action: FirewallAction | None,
        source: FirewallSource | None,
        active: bool,
        network_prefix: str | None,
        sort: str,
        cursor: str | None,
        limit: int,
    ) -> KeysetPage[FirewallRule]:
        statement = self.rules.filtered(
            action=action,
            source=source,
            active_at=utcnow() if active else None,
            network_prefix=network_prefix,
        )
        return await list_page(self.rules, statement, sort=sort, cursor=cursor, limit=limit)

    async def get(self, rule_id: uuid.UUID) -> FirewallRule:
        rule = await self.rules.get(rule_id)
        if rule is None:
            raise NotFound(f"No firewall rule with id {rule_id}")
        return rule

    async def create(self, data: FirewallRuleCreate) -> FirewallRule:
        self._check_expiry(data.expires_at)
        rule = FirewallRule(
            network=normalise_network("network", data.network),
            action=data.action,
            reason=data.reason,
            source=data.source,
            expires_at=data.expires_at,
        )
        try:
            await self.rules.add(rule)
        except DuplicateKey:
            raise Conflict(
                f"A firewall rule for {rule.network} exists already: change that one"
            ) from None
        self._publish(rule)
        return rule

    async def update(self, rule_id: uuid.UUID, data: FirewallRuleUpdate) -> FirewallRule:
        rule = await self.get(rule_id)
        changes = changes_of(data, nullable={"expires_at"})
        if "expires_at" in changes:
            self._check_expiry(changes["expires_at"])
        if "network" in changes:
            changes["network"] = normalise_network("network", changes["network"])
        apply_changes(rule, changes)
        try:
            await self.rules.flush()
        except DuplicateKey:
            raise Conflict(
                f"A firewall rule for {rule.network} exists already: change that one"
            ) from None
        self._publish(rule)
        return rule

    async def delete(self, rule_id: uuid.UUID) -> None:
        await self.rules.delete(await self.get(rule_id))
        self.live.delete(self.uow, [("firewall", rule_id)])

    async def blocks_hitting_customer(
        self, customer_id: uuid.UUID, *, active_only: bool = True
    ) -> builtins.list[FirewallRule]:
        """Block rules whose network overlaps the customer's authorised addresses (its IP
        authentication entries and source ranges), newest first — what customer_api shows a
        customer ("your address was blocked"), automatic or manual; the query is shared with
        customer_api in :mod:`libs.accounts.firewall`."""
        hits = await blocks_hitting_customer(
            AccountQueries(self.uow.session),
            customer_id,
            active_at=utcnow() if active_only else None,
        )
        return [hit.rule for hit in hits]

    @staticmethod
    def _check_expiry(expires_at: datetime | None) -> None:
        if expires_at is not None and expires_at <= utcnow():
            raise invalid("expires_at", "must be in the future (omit it for a permanent rule)")

    def _publish(self, rule: FirewallRule) -> None:
        if is_expired(rule):
            self.live.delete(self.uow, [("firewall", rule.id)])
        else:
            self.live.put(self.uow, firewall_config(rule))
        if rule.expires_at is not None:
            self.live.schedule_changed(self.uow)
