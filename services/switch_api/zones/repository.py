from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select

from libs.db import Repository, SortKey
from libs.db.models import Zone


class ZoneRepository(Repository[Zone]):
    model = Zone
    sort_keys = {
        "name": SortKey(Zone.name),
        "created_at": SortKey(Zone.created_at, datetime.fromisoformat),
    }

    def filtered(self, *, name_prefix: str | None = None) -> Select[tuple[Zone]]:
        statement = self.select()
        if name_prefix:
            statement = statement.where(Zone.name.startswith(name_prefix, autoescape=True))
        return statement
