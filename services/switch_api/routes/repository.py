from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select

from libs.db import Repository, SortKey
from libs.db.models import Route


class RouteRepository(Repository[Route]):
    model = Route
    sort_keys = {
        "name": SortKey(Route.name),
        "priority": SortKey(Route.priority, int),
        "created_at": SortKey(Route.created_at, datetime.fromisoformat),
    }

    def filtered(
        self,
        *,
        customer_id: uuid.UUID | None = None,
        rate_card_id: uuid.UUID | None = None,
        tech_prefix: str | None = None,
    ) -> Select[tuple[Route]]:
        statement = self.select()
        if customer_id is not None:
            statement = statement.where(Route.customer_id == customer_id)
        if rate_card_id is not None:
            statement = statement.where(Route.rate_card_id == rate_card_id)
        if tech_prefix is not None:
            statement = statement.where(Route.tech_prefix == tech_prefix)
        return statement
