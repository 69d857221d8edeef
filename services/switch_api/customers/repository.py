from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select

from libs.db import Repository, SortKey
from libs.db.models import Customer, CustomerStatus


class CustomerRepository(Repository[Customer]):
    model = Customer
    sort_keys = {
        "name": SortKey(Customer.name),
        "created_at": SortKey(Customer.created_at, datetime.fromisoformat),
    }

    def filtered(
        self, *, status: CustomerStatus | None = None, name_contains: str | None = None
    ) -> Select[tuple[Customer]]:
        statement = self.select()
        if status is not None:
            statement = statement.where(Customer.status == status)
        if name_contains:
            statement = statement.where(Customer.name.icontains(name_contains, autoescape=True))
        return statement
