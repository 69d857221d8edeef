from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from libs.db import UnitOfWork
from libs.db.models import SETTINGS_ID, SwitchSettings
from libs.errors import Conflict
from libs.liveconfig.models import SettingsConfig
from libs.liveconfig.snapshot import settings_config
from services.switch_api.live import LiveConfig
from services.switch_api.rules import apply_changes, changes_of
from services.switch_api.settings.repository import SettingsRepository
from services.switch_api.settings.schemas import SettingsUpdate

_DEFAULTS = SettingsConfig(id=SETTINGS_ID)


async def sip_realm(uow: UnitOfWork) -> str:
    """The realm new SIP user HA1s are computed in."""
    row = await SettingsRepository(uow.session).current()
    return row.sip_realm if row is not None else _DEFAULTS.sip_realm


class SettingsService:
    def __init__(self, uow: UnitOfWork, live: LiveConfig) -> None:
        self.uow = uow
        self.live = live
        self.settings = SettingsRepository(uow.session)

    async def get(self) -> Any:
        """The settings row, or the defaults (version 0) while none was ever written."""
        row = await self.settings.current()
        if row is not None:
            return row
        return SimpleNamespace(
            **_DEFAULTS.model_dump(exclude={"id", "version"}), version=0, updated_at=None
        )

    async def update(self, data: SettingsUpdate) -> SwitchSettings:
        row = await self.settings.current()
        if row is None:
            row = SwitchSettings(id=SETTINGS_ID, **_DEFAULTS.model_dump(exclude={"id", "version"}))
            self.uow.session.add(row)
        changes = changes_of(data)
        realm = changes.get("sip_realm")
        if realm is not None and realm != row.sip_realm:
            stale = await self.settings.sip_users_outside_realm(realm)
            if stale:
                raise Conflict(
                    f"{stale} SIP users have passwords hashed in realm {row.sip_realm!r}: a new "
                    "realm would make them all fail authentication. Set each one's password "
                    "again after the change, or delete them first.",
                    sip_users=stale,
                )
        apply_changes(row, changes)
        await self.settings.flush()
        self.live.put(self.uow, settings_config(row))
        return row
