"""``/v1/auth``: login, refresh, logout, who am I, password change, TOTP, recovery codes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from libs.identity import AccountService, AuthService, IssuedTokens, LoginAttempt, Principal
from libs.telemetry import correlation_id
from libs.web.auth import enrolment, person
from libs.web.deps import IdentityDep, SourceAddress, UnitOfWorkDep
from libs.web.identity.schemas import (
    LoginRequest,
    Me,
    PasswordChange,
    RecoveryCodes,
    RefreshRequest,
    Tokens,
    TotpCode,
    TotpEnrolment,
)
from libs.web.problems import error_responses

__all__ = ["PUBLIC_PATHS", "auth_router"]

#: Routes reachable without credentials (besides health, metrics and the OpenAPI pages).
PUBLIC_PATHS = frozenset({"/v1/auth/login", "/v1/auth/refresh"})

Enrolling = Annotated[Principal, enrolment()]
Person = Annotated[Principal, person()]


def _tokens(issued: IssuedTokens) -> Tokens:
    return Tokens(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token,
        restrictions=sorted(r.value for r in issued.restrictions),
    )


def auth_router(*, totp_optional: bool) -> APIRouter:
    """The auth routes; ``totp_optional`` adds TOTP removal (customer users, never operators)."""
    router = APIRouter(prefix="/v1/auth", tags=["auth"])

    @router.post("/login", operation_id="auth_login", responses=error_responses(401, 403, 429))
    async def login(
        uow: UnitOfWorkDep, identity: IdentityDep, source: SourceAddress, data: LoginRequest
    ) -> Tokens:
        """Log in with email, password and (when enrolled) a TOTP or recovery code."""
        issued = await AuthService(uow, identity).login(
            LoginAttempt(
                email=data.email,
                password=data.password,
                totp_code=data.totp_code,
                recovery_code=data.recovery_code,
                source_address=source,
                correlation_id=correlation_id(),
            )
        )
        return _tokens(issued)

    @router.post("/refresh", operation_id="auth_refresh", responses=error_responses(401, 403))
    async def refresh(
        uow: UnitOfWorkDep, identity: IdentityDep, source: SourceAddress, data: RefreshRequest
    ) -> Tokens:
        """Exchange a refresh token (once) for new tokens."""
        issued = await AuthService(uow, identity).refresh(
            data.refresh_token, source_address=source, correlation_id=correlation_id()
        )
        return _tokens(issued)

    @router.post(
        "/logout",
        operation_id="auth_logout",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=error_responses(401, 403),
    )
    async def logout(uow: UnitOfWorkDep, identity: IdentityDep, principal: Enrolling) -> None:
        """End this session: its access and refresh tokens stop working."""
        await AuthService(uow, identity).logout(principal)

    @router.get("/me", operation_id="auth_me", responses=error_responses(401, 403))
    async def me(principal: Enrolling) -> Me:
        """Who the credentials speak for, with their rights and restrictions."""
        return Me(
            kind=principal.kind.value,
            user_id=principal.user_id,
            label=principal.label,
            tenant=principal.tenant,
            api_key_id=principal.api_key_id,
            permissions={a.value: x.value for a, x in principal.permissions.items()},
            restrictions=sorted(r.value for r in principal.restrictions),
            source_address=principal.source_address,
        )

    @router.post(
        "/password",
        operation_id="auth_password_change",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=error_responses(401, 403, 429),
    )
    async def change_password(
        uow: UnitOfWorkDep, identity: IdentityDep, principal: Enrolling, data: PasswordChange
    ) -> None:
        """Change your password (ends your other sessions)."""
        await AccountService(uow, identity).change_password(
            principal, current_password=data.current_password, new_password=data.new_password
        )

    @router.post(
        "/totp/enrol", operation_id="auth_totp_enrol", responses=error_responses(401, 403, 409)
    )
    async def totp_enrol(
        uow: UnitOfWorkDep, identity: IdentityDep, principal: Enrolling
    ) -> TotpEnrolment:
        """Start enrolling an authenticator app: its secret, otpauth URI and QR code."""
        enrolled = await AccountService(uow, identity).begin_totp_enrolment(principal)
        return TotpEnrolment(
            secret=enrolled.secret,
            otpauth_uri=enrolled.otpauth_uri,
            qr_png_base64=enrolled.qr_png_base64,
        )

    @router.post(
        "/totp/confirm",
        operation_id="auth_totp_confirm",
        responses=error_responses(400, 401, 403, 409, 429),
    )
    async def totp_confirm(
        uow: UnitOfWorkDep, identity: IdentityDep, principal: Enrolling, data: TotpCode
    ) -> RecoveryCodes:
        """Finish the enrolment with the app's first code; returns 10 recovery codes."""
        codes = await AccountService(uow, identity).confirm_totp_enrolment(principal, data.code)
        return RecoveryCodes(recovery_codes=list(codes))

    @router.post(
        "/recovery-codes",
        operation_id="auth_recovery_codes_regenerate",
        responses=error_responses(401, 403, 409, 429),
    )
    async def regenerate_recovery_codes(
        uow: UnitOfWorkDep, identity: IdentityDep, principal: Person, data: TotpCode
    ) -> RecoveryCodes:
        """Replace your recovery codes (needs a current TOTP code)."""
        codes = await AccountService(uow, identity).regenerate_recovery_codes(principal, data.code)
        return RecoveryCodes(recovery_codes=list(codes))

    if totp_optional:

        @router.post(
            "/totp/remove",
            operation_id="auth_totp_remove",
            status_code=status.HTTP_204_NO_CONTENT,
            responses=error_responses(401, 403, 409, 429),
        )
        async def totp_remove(
            uow: UnitOfWorkDep, identity: IdentityDep, principal: Person, data: TotpCode
        ) -> None:
            """Remove your second factor (needs a current TOTP code)."""
            await AccountService(uow, identity).remove_totp(principal, data.code)

    return router
