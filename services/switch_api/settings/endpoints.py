from __future__ import annotations

from fastapi import APIRouter

from services.switch_api.deps import LiveDep, SecurityRead, SecurityWrite, UnitOfWorkDep
from services.switch_api.openapi import errors
from services.switch_api.settings.schemas import Settings, SettingsUpdate
from services.switch_api.settings.service import SettingsService

router = APIRouter(prefix="/v1/settings", tags=["settings"])


@router.get("", operation_id="settings_get", responses=errors())
async def get_settings(_: SecurityRead, uow: UnitOfWorkDep, live: LiveDep) -> Settings:
    """Get the global settings."""
    return Settings.model_validate(await SettingsService(uow, live).get())


@router.patch("", operation_id="settings_update", responses=errors(409))
async def update_settings(
    _: SecurityWrite, uow: UnitOfWorkDep, live: LiveDep, data: SettingsUpdate
) -> Settings:
    """Change global settings (only the fields sent)."""
    return Settings.model_validate(await SettingsService(uow, live).update(data))
