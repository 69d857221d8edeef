"""Every table of the source-of-truth database (one module per domain).

Importing this package registers all models on :data:`libs.db.Base.metadata`, which Alembic
compares against the migrations.
"""

from libs.db.models.customers import Customer, CustomerStatus
from libs.db.models.zones import Zone

__all__ = ["Customer", "CustomerStatus", "Zone"]
