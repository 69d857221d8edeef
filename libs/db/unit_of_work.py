"""One unit of work per request: a session, its commit, and side effects that wait for it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["AfterCommit", "UnitOfWork"]

AfterCommit = Callable[[], Awaitable[None]]

_log = structlog.get_logger(__name__)


class UnitOfWork:
    """Wraps a session so that side effects (a NATS publish) run only after a commit.

    A write's event must never announce something a rollback then undoes, so services register
    their side effects with :meth:`after_commit`; :meth:`commit` runs them once the transaction
    is durable. A failing side effect is logged, not raised: the write itself has succeeded, and
    the reconciler (``tandem config publish``) repairs a missed publish.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._after_commit: list[AfterCommit] = []

    def after_commit(self, effect: AfterCommit) -> None:
        """Run ``effect`` after the next successful commit (in registration order)."""
        self._after_commit.append(effect)

    async def commit(self) -> None:
        await self.session.commit()
        effects, self._after_commit = self._after_commit, []
        for effect in effects:
            try:
                await effect()
            except Exception:
                _log.exception("after-commit side effect failed")

    async def rollback(self) -> None:
        self._after_commit.clear()
        await self.session.rollback()
