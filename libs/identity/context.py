"""Everything identity needs at run time, built once per API process from its settings."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from libs.config import ConfigError, IdentitySettings
from libs.identity.events import NoSecurityEvents, SecurityEvents
from libs.security import (
    ArgonCost,
    ConfigurationError,
    KeyRing,
    PasswordPolicy,
    PasswordService,
    PepperRing,
    PrincipalKind,
    SigningKeyRing,
    ThrottlePolicy,
)

__all__ = ["IdentityContext", "Service"]

Service = str
"""``switch_api`` or ``customer_api``: which login-bearing API a context serves."""


@dataclass(slots=True)
class IdentityContext:
    """Key rings, policies and the clock of one API, shared by every request.

    ``kind`` says whose logins the API takes: operators (switch_api) or customer users
    (customer_api); a token of the other kind is refused. ``clock`` returns Unix seconds (the
    tests pass a fake one). Argon2 work runs in worker threads, at most ``hash_slots`` at once,
    so a login burst cannot allocate ``64 MiB x requests`` of memory.
    """

    kind: PrincipalKind
    service: Service
    passwords: PasswordService
    encryption: KeyRing
    signing: SigningKeyRing
    policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)
    access_ttl: int = 900
    refresh_ttl: int = 30 * 86400
    totp_issuer: str = "Tandem"
    clock: Callable[[], float] = time.time
    events: SecurityEvents = field(default_factory=NoSecurityEvents)
    hash_slots: int = field(default_factory=lambda: os.cpu_count() or 1)
    #: Seconds between purges of forgotten login-throttle rows.
    purge_every: float = 3600.0
    _semaphore: asyncio.Semaphore | None = None
    _last_purge: float | None = None

    @classmethod
    def from_settings(
        cls,
        settings: IdentitySettings,
        *,
        kind: PrincipalKind,
        service: Service,
        clock: Callable[[], float] = time.time,
        events: SecurityEvents | None = None,
    ) -> IdentityContext:
        """Build the context; :class:`ConfigError` names a missing or malformed key ring."""
        rings = {}
        for name, ring in (
            ("peppers", PepperRing),
            ("encryption_keys", KeyRing),
            ("signing_keys", SigningKeyRing),
        ):
            spec = getattr(settings, name).get_secret_value()
            if not spec.strip():
                raise ConfigError(
                    f"identity.{name} is not set: set TANDEM_IDENTITY__{name.upper()}_FILE "
                    "(or run `tandem up`, which generates development keys)"
                )
            try:
                rings[name] = ring.from_spec(spec)
            except ConfigurationError as exc:
                raise ConfigError(f"identity.{name}: {exc}") from None
        cost = ArgonCost(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        peppers = rings["peppers"]
        encryption = rings["encryption_keys"]
        signing = rings["signing_keys"]
        assert isinstance(peppers, PepperRing)
        assert isinstance(encryption, KeyRing)
        assert isinstance(signing, SigningKeyRing)
        return cls(
            kind=kind,
            service=service,
            passwords=PasswordService(peppers, cost),
            encryption=encryption,
            signing=signing,
            access_ttl=settings.access_token_ttl,
            refresh_ttl=settings.refresh_token_ttl,
            totp_issuer=settings.totp_issuer,
            clock=clock,
            events=events or NoSecurityEvents(),
        )

    def now(self) -> float:
        """Unix seconds from the context's clock."""
        return self.clock()

    def now_dt(self) -> datetime:
        """The clock's time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.clock(), UTC)

    def purge_due(self, now: float) -> bool:
        """True at most once per ``purge_every`` seconds (the first call included)."""
        if self._last_purge is not None and now - self._last_purge < self.purge_every:
            return False
        self._last_purge = now
        return True

    def _slots(self) -> asyncio.Semaphore:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.hash_slots)
        return self._semaphore

    async def verify_password(self, stored: str, password: str, email: str) -> bool:
        """:meth:`PasswordService.verify` in a worker thread."""
        async with self._slots():
            return await asyncio.to_thread(self.passwords.verify, stored, password, email)

    async def dummy_verify(self, password: str) -> None:
        """One verification's worth of work, for an account that does not exist."""
        async with self._slots():
            await asyncio.to_thread(self.passwords.dummy_verify, password)

    async def hash_password(self, password: str, email: str) -> str:
        """:meth:`PasswordService.hash` in a worker thread."""
        async with self._slots():
            return await asyncio.to_thread(self.passwords.hash, password, email)
