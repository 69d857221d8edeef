from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, or_

from libs.db import Repository, SortKey
from libs.db.models import FirewallAction, FirewallRule, FirewallSource


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
