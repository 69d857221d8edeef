"""switch_api settings (``TANDEM_`` environment variables; see ``libs.config``)."""

from __future__ import annotations

from typing import ClassVar

from libs.config import HttpSettings, IdentitySettings, ServiceSettings


class SwitchApiSettings(ServiceSettings):
    required_secrets: ClassVar[tuple[str, ...]] = (
        "identity.peppers",
        "identity.encryption_keys",
        "identity.signing_keys",
    )

    http: HttpSettings = HttpSettings(port=8001)
    identity: IdentitySettings = IdentitySettings()
