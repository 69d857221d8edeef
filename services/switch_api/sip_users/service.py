"""SIP users, with the reference's two rules.

* A username is unique within its customer: "Duplicate User Detected" otherwise.
* The channels of a customer's SIP users add up to at most the customer's channels
  (customer-auth.txt, *Channel Capacity Limitation*): "No channel capacity available for your
  account" otherwise. A SIP user with 0 channels holds none of its own (it shares the account's
  capacity); a customer with 0 channels has no limit at this level.

The password is never stored: only HA1 = H(username:realm:password) in MD5 and SHA-256
(RFC 2617 §3.2.2.2, RFC 7616 §3.4.2), in the global SIP realm.
"""

from __future__ import annotations

import uuid

from libs.db import DuplicateKey, KeysetPage, UnitOfWork
from libs.db.listing import list_page
from libs.db.models import SipUser
from libs.errors import Conflict, FieldError, NotFound, ValidationFailed
from libs.liveconfig.snapshot import sipuser_config
from libs.security import PasswordPolicy, SecretOrigin, digest, generate_secret
from services.switch_api.dependents import Dependents
from services.switch_api.live import LiveConfig
from services.switch_api.rules import apply_changes, changes_of, invalid, normalise_networks
from services.switch_api.settings.service import sip_realm
from services.switch_api.sip_users.repository import SipUserRepository
from services.switch_api.sip_users.schemas import SipUserCreate, SipUserUpdate

DUPLICATE_USER = "Duplicate User Detected"
NO_CAPACITY = "No channel capacity available for your account"
GENERATED_LENGTH = 22  # 132 bits (libs.security.generate_secret)

_POLICY = PasswordPolicy()


class SipUserService:
    def __init__(self, uow: UnitOfWork, live: LiveConfig) -> None:
        self.uow = uow
        self.live = live
        self.users = SipUserRepository(uow.session)
        self.dependents = Dependents(uow.session)

    async def list(
        self,
        *,
        customer_id: uuid.UUID | None,
        username_prefix: str | None,
        sort: str,
        cursor: str | None,
        limit: int,
    ) -> KeysetPage[SipUser]:
        statement = self.users.filtered(customer_id=customer_id, username_prefix=username_prefix)
        return await list_page(self.users, statement, sort=sort, cursor=cursor, limit=limit)

    async def get(self, user_id: uuid.UUID) -> SipUser:
        user = await self.users.get(user_id)
        if user is None:
            raise NotFound(f"No SIP user with id {user_id}")
        return user

    async def create(self, data: SipUserCreate) -> tuple[SipUser, str | None]:
        """The new user, and its password if it was generated (shown once)."""
        await self._check_capacity(data.customer_id, data.channel_limit, user_id=None)
        if await self.users.username_taken(data.customer_id, data.username):
            raise Conflict(DUPLICATE_USER, username=data.username)
        generated = None if data.password is not None else generate_secret(GENERATED_LENGTH)
        password = data.password if data.password is not None else generated
        assert password is not None
        if data.password is not None:
            self._check_password(data.password, data.username)
        fields = data.model_dump(exclude={"password"})
        fields["allowed_sources"] = normalise_networks("allowed_sources", data.allowed_sources)
        user = SipUser(**fields)
        await self._set_password(user, password)
        try:
            await self.users.add(user)
        except DuplicateKey:
            raise Conflict(DUPLICATE_USER, username=data.username) from None
        self._publish(user)
        return user, generated

    async def update(self, user_id: uuid.UUID, data: SipUserUpdate) -> SipUser:
        user = await self.get(user_id)
        changes = changes_of(data)
        password = changes.pop("password", None)
        username = changes.get("username")
        if username is not None and username != user.username:
            if password is None:
                raise invalid(
                    "password",
                    "changing the username needs a new password too (the stored hash covers "
                    "the username); send password, or use generate-password afterwards",
                )
            if await self.users.username_taken(user.customer_id, username, excluding=user.id):
                raise Conflict(DUPLICATE_USER, username=username)
        if "channel_limit" in changes:
            await self._check_capacity(user.customer_id, changes["channel_limit"], user_id=user.id)
        if "allowed_sources" in changes:
            changes["allowed_sources"] = normalise_networks(
                "allowed_sources", changes["allowed_sources"]
            )
        apply_changes(user, changes)
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
        user = await self.get(user_id)
        password = generate_secret(GENERATED_LENGTH)
        await self._set_password(user, password)
        await self.users.flush()
        self._publish(user)
        return user, password

    async def delete(self, user_id: uuid.UUID) -> None:
        user = await self.get(user_id)
        rules = await self.dependents.rewrite_keys(sip_user_ids=[user_id])
        await self.users.delete(user)
        self.live.delete(self.uow, [("sipuser", user_id), *rules])

    async def _check_capacity(
        self, customer_id: uuid.UUID, channels: int, *, user_id: uuid.UUID | None
    ) -> None:
        customer = await self.dependents.customer(customer_id, lock=True)
        if customer is None:
            raise invalid("customer_id", f"no customer with id {customer_id}")
        if customer.channel_limit == 0 or channels == 0:
            return
        held = await self.dependents.sip_channels(customer_id, excluding=user_id)
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
        realm = await sip_realm(self.uow)
        user.realm = realm
        user.ha1_md5 = digest.ha1(user.username, realm, password, "MD5")
        user.ha1_sha256 = digest.ha1(user.username, realm, password, "SHA-256")

    def _publish(self, user: SipUser) -> None:
        self.live.put(self.uow, sipuser_config(user))
