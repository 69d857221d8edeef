from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from libs.db.models import SipUser


class RegistrationRepository:
    """The SQL the registrations domain needs: only whether a SIP user exists."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def sip_user(self, user_id: uuid.UUID) -> SipUser | None:
        return await self.session.get(SipUser, user_id)
