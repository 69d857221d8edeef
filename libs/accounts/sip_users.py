"""SIP users, with the reference's two rules, for both APIs.

* A username is unique within its customer: "Duplicate User Detected" otherwise.
* The channels of a customer's SIP users add up to at most the customer's channels
  (customer-auth.txt, *Channel Capacity Limitation*): "No channel capacity available for your
  account" otherwise. A SIP user with 0 channels holds none of its own (it shares the account's
  capacity); a customer with 0 channels has no limit at this level.

The password is never stored: only HA1 = H(username:realm:password) in MD5 and SHA-256
(RFC 2617 §3.2.2.2, RFC 7616 §3.4.2), in the global SIP realm. A generated password is returned
once, to the caller that asked for it, and cannot be read back ("Reset SIP Password").

A service built with a ``tenant`` (customer_api) sees only that customer's users: another
customer's user is "not found", exactly like one that does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from libs.accounts.queries import AccountQueries
from libs.accounts.rules import apply_changes, invalid, normalise_networks
from libs.db import DuplicateKey, KeysetPage, Repository, SortKey, UnitOfWork
from libs.db.listing import list_page
from libs.db.models import SipUser
from libs.errors import Conflict, FieldError, NotFound, ValidationFailed
from libs.liveconfig import ConfigPublisher
from libs.liveconfig.snapshot import sipuser_config
from libs.security import PasswordPolicy, SecretOrigin, digest, generate_secret

__all__ = [
    "DUPLICATE_USER",
    "GENERATED_LENGTH",
    "NO_CAPACITY",
    "SipUserRepository",
    "SipUsers",
]

DUPLICATE_USER = "Duplicate User Detected"
NO_CAPACITY = "No channel capacity available for your account"
GENERATED_LENGTH = 22  # 132 bits (libs.security.generate_secret)

_POLICY = PasswordPolicy()


class SipUserRepository(Repository[SipUser]):
    model = SipUser
    sort_keys = {
        "username": SortKey(SipUser.username),
        "created_at": SortKey(SipUser.created_at, datetime.fromisoformat),
    }

    def filtered(
        self, *, customer_id: uuid.UUID | None = None, username_prefix: str | None = None
    ) -> Select[tuple[SipUser]]:
        statement = self.select()
        if customer_id is not None:
            statement = statement.where(SipUser.customer_id == customer_id)
        if username_prefix:
            statement = statement.where(
                SipUser.username.startswith(username_prefix, autoescape=True)
            )
        return statement

    async def username_taken(
        self, customer_id: uuid.UUID, username: str, *, excluding: uuid.UUID | None = None
    ) -> bool:
        statement = select(SipUser.id).where(
            SipUser.customer_id == customer_id, SipUser.username == username
        )
        if excluding is not None:
            statement = statement.where(SipUser.id != excluding)
        return (await self.session.scalar(statement.limit(1))) is not None


class SipUsers:
    """Create, change, list and delete SIP users; each write publishes after the commit."""

    def __init__(
        self,
        uow: UnitOfWork,
        publisher: ConfigPublisher,
        *,
        tenant: uuid.UUID | None = None,
    ) -> None:
        self.uow = uow
        self.publisher = publisher
        self.tenant = tenant
        self.users = SipUserRepository(uow.session)
        self.queries = AccountQueries(uow.session)

    async def list(
        self,
        *,
        customer_id: uuid.UUID | None = None,
        username_prefix: str | None = None,
        sort: str,
        cursor: str | None,
        limit: int,
    ) -> KeysetPage[SipUser]:
        """A page of users (only the tenant's, whatever ``customer_id`` says, for a tenant)."""
        if self.tenant is not None:
            customer_id = self.tenant
        statement = self.users.filtered(customer_id=customer_id, username_prefix=username_prefix)
        return await list_page(self.users, statement, sort=sort, cursor=cursor, limit=limit)

    async def get(self, user_id: uuid.UUID) -> SipUser:
        user = await self.users.get(user_id)
        if user is None or (self.tenant is not None and user.customer_id != self.tenant):
            raise NotFound(f"No SIP user with id {user_id}")
        return user

    async def create(
        self, customer_id: uuid.UUID, fields: Mapping[str, Any], password: str | None
    ) -> tuple[SipUser, str | None]:
        """The new user, and its password if it was generated (shown once).

        ``fields`` are the model's columns besides ``customer_id`` and the password's hashes.
        """
        if self.tenant is not None and customer_id != self.tenant:
            raise NotFound(f"No customer with id {customer_id}")
        username = str(fields["username"])
        await self._check_capacity(customer_id, int(fields.get("channel_limit", 0)), user_id=None)
        if await self.users.username_taken(customer_id, username):
            raise Conflict(DUPLICATE_USER, username=username)
        generated = None if password is not None else generate_secret(GENERATED_LENGTH)
        if password is not None:
            self._check_password(password, username)
        values = dict(fields)
        values["allowed_sources"] = normalise_networks(
            "allowed_sources", values.get("allowed_sources", [])
        )
        user = SipUser(customer_id=customer_id, **values)
        secret = password if password is not None else generated
        assert secret is not None
        await self._set_password(user, secret)
        try:
            await self.users.add(user)
        except DuplicateKey:
            raise Conflict(DUPLICATE_USER, username=username) from None
        self._publish(user)
        return user, generated

    async def update(self, user_id: uuid.UUID, changes: Mapping[str, Any]) -> SipUser:
        """Apply a PATCH's ``changes`` (``password`` among them replaces the stored hashes)."""
        user = await self.get(user_id)
        values = dict(changes)
        password = values.pop("password", None)
        username = values.get("username")
        if username is not None and username != user.username:
            if password is None:
                raise invalid(
                    "password",
                    "changing the username needs a new password too (the stored hash covers "
                    "the username); send password, or reset the password afterwards",
                )
            if await self.users.username_taken(user.customer_id, username, excluding=user.id):
                raise Conflict(DUPLICATE_USER, username=username)
        if "channel_limit" in values:
            await self._check_capacity(user.customer_id, values["channel_limit"], user_id=user.id)
        if "allowed_sources" in values:
            values["allowed_sources"] = normalise_networks(
                "allowed_sources", values["allowed_sources"]
            )
        apply_changes(user, values)
        if password is not None:
            self._check_password(password, user.username)
            await self._set_password(user, password)
        try:
            await self.users.flush()
        except DuplicateKey:
            raise Conflict(DUPLICATE_USER, username=user.username) from None
        self._publish(user)
        return user

    async def generate_password(self, user_id: uuid.UUID) -> tuple[SipUser, str]:
        """Replace the password with a strong random one, returned only now."""
        user = await self.get(user_id)
        password = generate_secret(GENERATED_LENGTH)
        await self._set_password(user, password)
        await self.users.flush()
        self._publish(user)
        return user, password

    async def delete(self, user_id: uuid.UUID) -> None:
        """Delete the user; its rewrite rules go with it (database cascade and live config)."""
        user = await self.get(user_id)
        rules = await self.queries.rewrite_keys(sip_user_ids=[user_id])
        await self.users.delete(user)
        self.publisher.stage(self.uow, delete=[("sipuser", user_id), *rules])

    async def _check_capacity(
        self, customer_id: uuid.UUID, channels: int, *, user_id: uuid.UUID | None
    ) -> None:
        customer = await self.queries.customer(customer_id, lock=True)
        if customer is None:
            raise invalid("customer_id", f"no customer with id {customer_id}")
        if customer.channel_limit == 0 or channels == 0:
            return
        held = await self.queries.sip_channels(customer_id, excluding=user_id)
        if held + channels > customer.channel_limit:
            raise Conflict(
                NO_CAPACITY,
                channel_limit=customer.channel_limit,
                channels_allocated=held,
                channels_available=max(0, customer.channel_limit - held),
            )

    @staticmethod
    def _check_password(password: str, username: str) -> None:
        result = _POLICY.check(password, username=username, origin=SecretOrigin.PERSON)
        if not result.ok:
            messages = [v.message for v in result.violations]
            raise ValidationFailed(
                "password: " + " ".join(messages),
                errors=[FieldError(["body", "password"], m) for m in messages],
            )

    async def _set_password(self, user: SipUser, password: str) -> None:
        realm = await self.queries.sip_realm()
        user.realm = realm
        user.ha1_md5 = digest.ha1(user.username, realm, password, "MD5")
        user.ha1_sha256 = digest.ha1(user.username, realm, password, "SHA-256")

    def _publish(self, user: SipUser) -> None:
        self.publisher.stage(self.uow, put=[sipuser_config(user)])
