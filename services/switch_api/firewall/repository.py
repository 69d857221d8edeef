from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, or_, select

from libs.db import Repository, SortKey
from libs.db.models import FirewallAction, FirewallRule, FirewallSource, IpAuthEntry


class FirewallRepository(Repository[FirewallRule]):
    model = FirewallRule
    sort_keys = {
        "network": SortKey(FirewallRule.network),
        "created_at": SortKey(FirewallRule.created_at, datetime.fromisoformat),
    }

    def filtered(
        self,
        *,
        action: FirewallAction | None = None,
        source: FirewallSource | None = None,
        active_at: datetime | None = None,
        network_prefix: str | None = None,
    ) -> Select[tuple[FirewallRule]]:
        statement = self.select()
        if action is not None:
            statement = statement.where(FirewallRule.action == action)
        if source is not None:
            statement = statement.where(FirewallRule.source == source)
        if active_at is not None:
            statement = statement.where(
                or_(FirewallRule.expires_at.is_(None), FirewallRule.expires_at > active_at)
            )
        if network_prefix:
            statement = statement.where(
                FirewallRule.network.startswith(network_prefix, autoescape=True)
            )
        return statement

    async def by_network(self, network: str) -> FirewallRule | None:
        return await self.session.scalar(
            select(FirewallRule).where(FirewallRule.network == network)
        )

    async def active(
        self, actions: Sequence[FirewallAction], at: datetime | None
    ) -> Sequence[FirewallRule]:
        """Rules with one of ``actions`` that have not expired at ``at`` (``None``: all)."""
        statement = self.filtered(active_at=at).where(FirewallRule.action.in_(list(actions)))
        rules: Sequence[FirewallRule] = (await self.session.scalars(statement)).all()  # type: ignore[assignment]
        return rules

    async def authorised_addresses(self) -> Sequence[IpAuthEntry]:
        """Every IP authentication entry (customers' and carriers', both directions)."""
        return (await self.session.scalars(select(IpAuthEntry))).all()
