"""Logging in, refreshing, logging out, and turning a credential into a :class:`Principal`.

The login flow (NIST SP 800-63B §5.2.2 and the reference's "exponentially increasing delay"):

1. The account's and the source address's throttles are read, locked, and checked **first**: an
   attempt before the next allowed time gets 429 + ``Retry-After`` and the password is not tried.
2. The attempt is recorded as a failure *before* the password is checked (and the lock released),
   so parallel guesses cannot all pass the check while one is being verified; a success resets.
3. An unknown email, a disabled account or a refused source address still costs one Argon2
   verification and gets the same answer as a wrong password.
4. The second factor: a TOTP code (never the same step twice) or a single-use recovery code.
5. Every attempt leaves an audit entry and a ``security.login.<outcome>`` event.

Access tokens (15 minutes) name their session (``sid:<id>`` scope); each request checks that
the session is live, so logging out takes effect at once. Refresh tokens rotate on each use;
presenting a rotated one again revokes the whole session (someone copied it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog

from libs.bus import LoginAttempted, LoginOutcome, login_subject
from libs.db import UnitOfWork
from libs.db.models import (
    AuthSession,
    Customer,
    CustomerStatus,
    CustomerUser,
    Operator,
    RefreshToken,
)
from libs.errors import PermissionDenied, RateLimited, Unauthenticated
from libs.identity import audit
from libs.identity.context import IdentityContext
from libs.identity.people import (
    Person,
    account_throttle_key,
    owner_columns,
    people,
    permissions_of,
    restrictions_of,
    source_allowed,
    source_throttle_key,
    store_throttle,
    throttle_state,
    totp_associated_data,
)
from libs.identity.permissions import (
    CUSTOMER_ROLES,
    CustomerRole,
    Permissions,
    intersect,
    parse_permissions,
)
from libs.identity.principal import Actor, ActorKind, Principal, Restriction
from libs.identity.repositories import (
    ApiKeyRepository,
    RecoveryCodeRepository,
    RefreshTokenRepository,
    SessionRepository,
    ThrottleRepository,
)
from libs.security import (
    DecisionReason,
    PrincipalKind,
    ThrottleState,
    TokenExpired,
    TokenInvalid,
    decode_access_token,
    issue_access_token,
    new_token,
    parse_token,
    totp,
    verify_token,
)
from libs.security import throttle as throttling
from libs.security.policy import normalize_email

__all__ = [
    "API_KEY_PREFIX",
    "REFRESH_PREFIX",
    "AuthService",
    "IssuedTokens",
    "LoginAttempt",
]

API_KEY_PREFIX = "tdm_key"
REFRESH_PREFIX = "tdm_refresh"
_SESSION_SCOPE = "sid:"
_RESTRICTED_SCOPE = "restricted"
#: ``last_used_at`` of an API key is written at most this often (seconds): not on every request.
_TOUCH_EVERY = 60.0
_BAD_CREDENTIALS = "The email, password or code is wrong."

_log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """What a client sent to log in, and where from."""

    email: str
    password: str
    source_address: str
    totp_code: str | None = None
    recovery_code: str | None = None
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True, repr=False)
class IssuedTokens:
    """A fresh access token and refresh token (shown once; ``repr`` hides them)."""

    access_token: str
    expires_in: int
    refresh_token: str
    session_id: uuid.UUID
    restrictions: frozenset[Restriction]

    def __repr__(self) -> str:
        return f"IssuedTokens(session_id={self.session_id}, tokens=<hidden>)"


class AuthService:
    """Login, refresh, logout and per-request authentication for one API (``identity.kind``)."""

    def __init__(self, uow: UnitOfWork, identity: IdentityContext) -> None:
        self.uow = uow
        self.identity = identity
        self.session = uow.session
        self.people = people(uow.session, identity.kind)
        self.throttles = ThrottleRepository(uow.session)
        self.sessions = SessionRepository(uow.session)
        self.refresh_tokens = RefreshTokenRepository(uow.session)

    # -- login ---------------------------------------------------------------------------------

    async def login(self, attempt: LoginAttempt) -> IssuedTokens:
        """Check an attempt; return tokens, or raise 429 / 401 after recording the attempt."""
        identity = self.identity
        now = identity.now()
        email = normalize_email(attempt.email)[:320]
        keys = [
            account_throttle_key(identity.kind, email),
            source_throttle_key(attempt.source_address),
        ]
        if identity.purge_due(now):
            # Failures older than the policy's memory no longer count: drop their rows, so
            # guesses at random addresses from random sources do not pile up for ever.
            await self.throttles.purge(
                identity.now_dt() - timedelta(seconds=identity.throttle.forget_after)
            )
        rows = await self.throttles.lock(keys)
        account_row, source_row = rows[keys[0]], rows[keys[1]]
        person = await self.people.by_email(email)

        decisions = [
            throttling.check(throttle_state(row), now, identity.throttle)
            for row in (account_row, source_row)
        ]
        refused = [decision for decision in decisions if not decision.allowed]
        if refused:
            retry_after = max(decision.retry_after_seconds for decision in refused)
            locked = any(decision.reason is DecisionReason.LOCKED for decision in refused)
            reason = "locked" if locked else "delayed"
            self._report(
                attempt,
                email,
                person,
                "throttled",
                reason,
                failures=account_row.failures,
                retry_after=retry_after,
            )
            for row in (account_row, source_row):
                if row.failures == 0:  # made just now: nothing to remember
                    await self.session.delete(row)
            await self.uow.commit()
            raise RateLimited(
                "Too many failed login attempts"
                + (" (locked)" if locked else "")
                + f": try again in {retry_after} s.",
                retry_after=retry_after,
            )

        # Counted as a failure before the password is tried; undone or reset below.
        before = {row.key: throttle_state(row) for row in (account_row, source_row)}
        for row in (account_row, source_row):
            store_throttle(row, throttling.record_failure(before[row.key], now, identity.throttle))
        failures = account_row.failures
        await self.uow.commit()

        reason = await self._check(person, attempt, now)
        if reason == "ok":
            assert person is not None
            return await self._succeed(person, attempt, email, keys, now)
        if reason == "totp_required":
            # The password was right: this attempt was no guess, so it does not count.
            rows = await self.throttles.lock(keys)
            for row in rows.values():
                store_throttle(row, self._undo_failure(throttle_state(row), before[row.key]))
            failures = rows[keys[0]].failures
        self._report(attempt, email, person, "failed", reason, failures=failures)
        await self.uow.commit()
        if reason == "totp_required":
            raise Unauthenticated(
                "A TOTP code (or a recovery code) is required for this account.",
                totp_required=True,
            )
        raise Unauthenticated(_BAD_CREDENTIALS)

    def _undo_failure(self, state: ThrottleState, before: ThrottleState) -> ThrottleState:
        """Take back this attempt's failure; others counted meanwhile stay counted."""
        failures = max(0, state.failures - 1)
        if failures == before.failures:
            return before
        locked = throttling.is_locked(failures, self.identity.throttle)
        return ThrottleState(
            failures=failures,
            last_failure_at=state.last_failure_at,
            locked_until=state.locked_until if locked else None,
        )

    async def _check(self, person: Person | None, attempt: LoginAttempt, now: float) -> str:
        """``ok``, or why the attempt fails. Every path costs one password verification."""
        identity = self.identity
        if person is None:
            await identity.dummy_verify(attempt.password)
            return "unknown_account"
        if person.disabled:
            await identity.dummy_verify(attempt.password)
            return "disabled"
        if not source_allowed(person.allowed_sources, attempt.source_address):
            await identity.dummy_verify(attempt.password)
            return "source_not_allowed"
        if not await identity.verify_password(person.password_hash, attempt.password, person.email):
            return "bad_password"
        if person.totp_secret is None:
            return "ok"
        if attempt.totp_code:
            secret = identity.encryption.decrypt(person.totp_secret, totp_associated_data(person))
            step = totp.verify(
                secret.decode("ascii"),
                attempt.totp_code,
                now=now,
                last_used_step=person.totp_last_step,
            )
            if step is None or not await self.people.store_totp_step(person.id, step):
                return "bad_totp"
            return "ok"
        if attempt.recovery_code:
            codes = RecoveryCodeRepository(self.session)
            stored = list(await codes.of(person))
            index = totp.match_recovery_code(attempt.recovery_code, [c.code_hash for c in stored])
            if index is None or not await codes.use(stored[index].id):
                return "bad_recovery_code"
            return "ok"
        return "totp_required"

    async def _succeed(
        self,
        person: Person,
        attempt: LoginAttempt,
        email: str,
        keys: list[str],
        now: float,
    ) -> IssuedTokens:
        identity = self.identity
        await self.throttles.clear(keys)
        if identity.passwords.needs_rehash(person.password_hash):
            # The cost or the pepper changed since this hash was made: upgrade it now, while
            # the password is at hand (it never is otherwise).
            person.password_hash = await identity.hash_password(attempt.password, person.email)
        person.last_login_at = identity.now_dt()
        restrictions = restrictions_of(person)
        tokens = await self._open_session(person, restrictions, attempt.source_address, now)
        self._report(attempt, email, person, "succeeded", "ok", failures=0)
        await self.uow.commit()
        return tokens

    async def _open_session(
        self, person: Person, restrictions: frozenset[Restriction], source: str, now: float
    ) -> IssuedTokens:
        identity = self.identity
        now_dt = identity.now_dt()
        auth_session = AuthSession(
            id=uuid.uuid4(),
            restricted=bool(restrictions),
            source_address=source[:64],
            created_at=now_dt,
            expires_at=now_dt + timedelta(seconds=identity.refresh_ttl),
            **owner_columns(person),
        )
        self.session.add(auth_session)
        await self.sessions.flush()
        return await self._issue(person, auth_session, restrictions, now)

    async def _issue(
        self,
        person: Person,
        auth_session: AuthSession,
        restrictions: frozenset[Restriction],
        now: float,
    ) -> IssuedTokens:
        identity = self.identity
        refresh = new_token(REFRESH_PREFIX)
        self.session.add(
            RefreshToken(
                session_id=auth_session.id,
                lookup_id=refresh.lookup_id,
                token_hash=refresh.token_hash,
                created_at=identity.now_dt(),
            )
        )
        await self.refresh_tokens.flush()
        scopes = [f"{_SESSION_SCOPE}{auth_session.id}"]
        if restrictions:
            scopes.append(_RESTRICTED_SCOPE)
        access = issue_access_token(
            identity.signing,
            sub=str(person.id),
            kind=identity.kind,
            scopes=scopes,
            now=now,
            ttl=identity.access_ttl,
            tenant=str(person.customer_id) if isinstance(person, CustomerUser) else None,
        )
        return IssuedTokens(
            access_token=access,
            expires_in=identity.access_ttl,
            refresh_token=refresh.plaintext,
            session_id=auth_session.id,
            restrictions=restrictions,
        )

    def _report(
        self,
        attempt: LoginAttempt,
        email: str,
        person: Person | None,
        outcome: LoginOutcome,
        reason: str,
        *,
        failures: int,
        retry_after: int | None = None,
    ) -> None:
        """The attempt's audit entry (in this transaction) and its event (after the commit)."""
        identity = self.identity
        actor = Actor(
            kind=ActorKind.ANONYMOUS if person is None else _actor_kind(person),
            id=str(person.id) if person is not None else None,
            label=email,
            tenant_id=person.customer_id if isinstance(person, CustomerUser) else None,
            source_address=attempt.source_address,
            correlation_id=attempt.correlation_id,
        )
        audit.record(
            self.session,
            actor,
            "auth.login",
            object_type=_object_type(identity.kind),
            object_id=person.id if person is not None else None,
            outcome="success" if outcome == "succeeded" else reason,
        )
        event = LoginAttempted(
            event_id=uuid.uuid4().hex,
            at=identity.now_dt(),
            service="switch_api" if identity.kind is PrincipalKind.OPERATOR else "customer_api",
            principal_kind=identity.kind.value,
            account=email,
            user_id=str(person.id) if person is not None else None,
            source_address=attempt.source_address,
            outcome=outcome,
            reason=reason,
            consecutive_failures=failures,
            retry_after=retry_after,
            correlation_id=attempt.correlation_id,
        )

        async def publish() -> None:
            identity.events.publish(login_subject(outcome), event, msg_id=event.event_id)

        self.uow.after_commit(publish)
        _log.info(
            "login attempt",
            outcome=outcome,
            reason=reason,
            source=attempt.source_address,
            failures=failures,
        )

    # -- refresh and logout --------------------------------------------------------------------

    async def refresh(
        self, refresh_token: str, *, source_address: str, correlation_id: str | None = None
    ) -> IssuedTokens:
        """Exchange a refresh token for new tokens; a reused one revokes its session."""
        identity = self.identity
        now = identity.now()
        now_dt = identity.now_dt()
        invalid = Unauthenticated("The refresh token is invalid or expired: log in again.")
        parts = parse_token(refresh_token)
        if parts is None or parts.prefix != REFRESH_PREFIX:
            raise invalid
        row = await self.refresh_tokens.by_lookup_for_update(parts.lookup_id)
        if row is None or not verify_token(refresh_token, row.token_hash):
            raise invalid
        auth_session = await self.sessions.get_for_update(row.session_id)
        if auth_session is None:
            raise invalid
        person = await self._owner(auth_session)
        if person is None:
            raise invalid
        if row.rotated_at is not None:
            # RFC 9700 §4.14.2: a rotated refresh token presented again means two parties hold
            # it; the legitimate one cannot be told apart, so the whole session ends.
            if auth_session.revoked_at is None:
                auth_session.revoked_at = now_dt
                auth_session.revoked_reason = "refresh_token_reused"
            audit.record(
                self.session,
                self._person_actor(person, source_address, correlation_id),
                "auth.refresh",
                object_type="auth_session",
                object_id=auth_session.id,
                outcome="refresh_token_reused",
            )
            await self.uow.commit()
            raise Unauthenticated(
                "This refresh token was already used: the session is revoked, log in again."
            )
        if auth_session.revoked_at is not None or auth_session.expires_at <= now_dt:
            raise invalid
        if person.disabled:
            raise invalid
        if not source_allowed(person.allowed_sources, source_address):
            raise PermissionDenied(f"This account may not be used from {source_address}.")
        row.rotated_at = now_dt
        auth_session.last_refreshed_at = now_dt
        restrictions = restrictions_of(person)
        if auth_session.restricted and not restrictions:
            restrictions = frozenset({Restriction.LOGIN_AGAIN})
        return await self._issue(person, auth_session, restrictions, now)

    async def logout(self, principal: Principal) -> None:
        """End the principal's session: its refresh and access tokens stop working now."""
        if principal.session_id is None:
            return
        auth_session = await self.sessions.get_for_update(principal.session_id)
        if auth_session is not None and auth_session.revoked_at is None:
            auth_session.revoked_at = self.identity.now_dt()
            auth_session.revoked_reason = "logout"
            await self.sessions.flush()

    async def _owner(self, auth_session: AuthSession) -> Person | None:
        """The session's person, if the session belongs to this API's kind of person."""
        if self.identity.kind is PrincipalKind.OPERATOR:
            if auth_session.operator_id is None:
                return None
            return await self.session.get(Operator, auth_session.operator_id)
        if auth_session.customer_user_id is None:
            return None
        return await self.session.get(CustomerUser, auth_session.customer_user_id)

    def _person_actor(self, person: Person, source: str, correlation_id: str | None) -> Actor:
        return Actor(
            kind=_actor_kind(person),
            id=str(person.id),
            label=person.email,
            tenant_id=person.customer_id if isinstance(person, CustomerUser) else None,
            source_address=source,
            correlation_id=correlation_id,
        )

    # -- per request ---------------------------------------------------------------------------

    async def authenticate_access_token(self, token: str, *, source_address: str) -> Principal:
        """The principal of a person's access token, checked against the database."""
        identity = self.identity
        try:
            claims = decode_access_token(identity.signing, token, now=identity.now())
        except TokenExpired:
            raise Unauthenticated("The access token has expired: refresh it.") from None
        except TokenInvalid:
            raise Unauthenticated("The access token is invalid.") from None
        if claims.kind is not identity.kind:
            raise Unauthenticated("This token is for another API.")
        session_id = _session_id(claims.scopes)
        if session_id is None:
            raise Unauthenticated("The access token is invalid.")
        auth_session = await self.sessions.get(session_id)
        ended = Unauthenticated("The session has ended: log in again.")
        if auth_session is None or auth_session.revoked_at is not None:
            raise ended
        if auth_session.expires_at <= identity.now_dt():
            raise ended
        person = await self._owner(auth_session)
        if person is None or str(person.id) != claims.sub or person.disabled:
            raise ended
        tenant = person.customer_id if isinstance(person, CustomerUser) else None
        if (str(tenant) if tenant else None) != claims.tenant:
            raise ended
        if not source_allowed(person.allowed_sources, source_address):
            raise PermissionDenied(f"This account may not be used from {source_address}.")
        restrictions = restrictions_of(person)
        if not restrictions and (auth_session.restricted or _RESTRICTED_SCOPE in claims.scopes):
            restrictions = frozenset({Restriction.LOGIN_AGAIN})
        return Principal(
            kind=identity.kind,
            user_id=person.id,
            label=person.email,
            permissions=await permissions_of(self.session, person),
            source_address=source_address,
            tenant=tenant,
            session_id=auth_session.id,
            restrictions=restrictions,
        )

    async def authenticate_api_key(self, key: str, *, source_address: str) -> Principal:
        """The principal of an API key; its rights are bounded by its owner's current ones."""
        identity = self.identity
        invalid = Unauthenticated("The API key is invalid or revoked.")
        parts = parse_token(key)
        if parts is None or parts.prefix != API_KEY_PREFIX:
            raise invalid
        keys = ApiKeyRepository(self.session)
        row = await keys.by_lookup(parts.lookup_id)
        if row is None or not verify_token(key, row.key_hash) or row.revoked_at is not None:
            raise invalid
        ceiling: Permissions
        allow_lists = [row.allowed_sources]
        if identity.kind is PrincipalKind.OPERATOR:
            if row.operator_id is None:
                raise invalid
            owner = await self.session.get(Operator, row.operator_id)
            if owner is None or owner.disabled:
                raise invalid
            ceiling = await permissions_of(self.session, owner)
            allow_lists.append(owner.allowed_sources)
            user_id, tenant = owner.id, None
        else:
            if row.customer_id is None:
                raise invalid
            customer = await self.session.get(Customer, row.customer_id)
            if customer is None or customer.status is CustomerStatus.CLOSED:
                raise invalid
            ceiling = CUSTOMER_ROLES[CustomerRole.ADMIN]
            user_id, tenant = None, customer.id
        if not all(source_allowed(allowed, source_address) for allowed in allow_lists):
            raise PermissionDenied(f"This API key may not be used from {source_address}.")
        now_dt = identity.now_dt()
        if row.last_used_at is None or (now_dt - row.last_used_at).total_seconds() > _TOUCH_EVERY:
            await keys.touch(row.id, now_dt)
        return Principal(
            kind=identity.kind,
            user_id=user_id,
            label=f"API key {row.name!r}",
            permissions=intersect(parse_permissions(row.permissions), ceiling),
            source_address=source_address,
            tenant=tenant,
            api_key_id=row.id,
        )


def _session_id(scopes: frozenset[str]) -> uuid.UUID | None:
    for scope in scopes:
        if scope.startswith(_SESSION_SCOPE):
            try:
                return uuid.UUID(scope[len(_SESSION_SCOPE) :])
            except ValueError:
                return None
    return None


def _actor_kind(person: Person) -> ActorKind:
    return ActorKind.OPERATOR if isinstance(person, Operator) else ActorKind.CUSTOMER_USER


def _object_type(kind: PrincipalKind) -> str:
    return "operator" if kind is PrincipalKind.OPERATOR else "customer_user"
