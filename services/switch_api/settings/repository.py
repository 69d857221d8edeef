from __future__ import annotations

from sqlalchemy import func, select

from libs.db import Repository, SortKey
from libs.db.models import SETTINGS_ID, SipUser, SwitchSettings


class SettingsRepository(Repository[SwitchSettings]):
    model = SwitchSettings
    sort_keys = {"updated_at": SortKey(SwitchSettings.updated_at)}

    async def current(self) -> SwitchSettings | None:
        return await self.session.get(SwitchSettings, SETTINGS_ID)

    async def sip_users_outside_realm(self, realm: str) -> int:
        statement = select(func.count()).select_from(SipUser).where(SipUser.realm != realm)
        return int(await self.session.scalar(statement) or 0)
