"""Run the one Alembic history (``libs/db/migrations``) against SQLite or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL

__all__ = ["alembic_config", "downgrade", "upgrade"]

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str | URL) -> Config:
    """An Alembic configuration for ``url``; the URL (a secret) is never written to a file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = url
    return config


def upgrade(url: str | URL, revision: str = "heads") -> None:
    """Migrate the database at ``url`` up to ``revision``.

    Blocking (Alembic drives its own event loop): call it from a thread, never a coroutine.
    """
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | URL, revision: str = "base") -> None:
    """Migrate the database at ``url`` down to ``revision`` (blocking, like :func:`upgrade`)."""
    command.downgrade(alembic_config(url), revision)
