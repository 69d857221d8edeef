from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select

from libs.db import Repository, SortKey
from libs.db.models import Carrier, CarrierStatus


class CarrierRepository(Repository[Carrier]):
    model = Carrier
    sort_keys = {
        "name": SortKey(Carrier.name),
        "created_at": SortKey(Carrier.created_at, datetime.fromisoformat),
    }

    def filtered(
        self, *, status: CarrierStatus | None = None, name_contains: str | None = None
    ) -> Select[tuple[Carrier]]:
        statement = self.select()
        if status is not None:
            statement = statement.where(Carrier.status == status)
        if name_contains:
            statement = statement.where(Carrier.name.icontains(name_contains, autoescape=True))
        return statement
