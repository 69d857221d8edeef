"""The first operator: created from the command line with a one-time password.

``tandem admin create --email …`` makes an operator with the ``owner`` role and prints a
machine-generated one-time password once. Its first login reaches only the password change and
the TOTP enrolment; after both, a new login (with a TOTP code) gets a full session.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import ClassVar

from pydantic import SecretStr

from libs.config import IdentitySettings, ServiceSettings
from libs.db import Database
from libs.identity import IdentityContext, NewPerson, create_operator, ensure_builtin_roles
from libs.identity.permissions import OWNER_ROLE
from libs.identity.repositories import OperatorRepository
from libs.platform.devsecrets import SECRET_NAMES, ensure_dev_secrets
from libs.security import PrincipalKind

__all__ = ["count_operators", "create_first_operator", "identity_settings_for"]


class _IdentityOnly(ServiceSettings):
    """The identity part of the APIs' settings, read the way the APIs read it."""

    required_secrets: ClassVar[tuple[str, ...]] = (
        "identity.peppers",
        "identity.encryption_keys",
        "identity.signing_keys",
    )

    identity: IdentitySettings = IdentitySettings()


def identity_settings_for(data_dir: Path) -> IdentitySettings:
    """The identity settings as the APIs read them (``TANDEM_IDENTITY__…`` and ``…_FILE``);
    secrets left unset come from the embedded platform's generated files in ``data_dir``."""
    settings = _IdentityOnly().identity
    missing = [name for name in SECRET_NAMES if not getattr(settings, name).get_secret_value()]
    if not missing:
        return settings
    paths = ensure_dev_secrets(data_dir)
    generated = {name: paths[name].read_text(encoding="ascii").strip() for name in missing}
    return settings.model_copy(update={k: SecretStr(v) for k, v in generated.items()})


def create_first_operator(
    database_url: str, email: str, identity_settings: IdentitySettings, name: str = ""
) -> NewPerson:
    """Create an owner operator with a one-time password (blocking: runs its own loop)."""

    async def run() -> NewPerson:
        identity = IdentityContext.from_settings(
            identity_settings, kind=PrincipalKind.OPERATOR, service="switch_api"
        )
        database = Database(database_url, pool_size=1)
        try:
            async with database.session() as session:
                roles = await ensure_builtin_roles(session)
                created = await create_operator(
                    session, identity, email=email, name=name, role_id=roles[OWNER_ROLE].id
                )
                await session.commit()
                return created
        finally:
            await database.dispose()

    return asyncio.run(run())


def count_operators(database_url: str) -> int:
    """How many operators exist (blocking)."""

    async def run() -> int:
        database = Database(database_url, pool_size=1)
        try:
            async with database.session() as session:
                return await OperatorRepository(session).count()
        finally:
            await database.dispose()

    return asyncio.run(run())
