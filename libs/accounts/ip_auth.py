"""IP authentication entries, and the reference's rule for shared addresses, for both APIs.

Two customers may send from the same address (or overlapping networks) only if sip_core can
tell their calls apart: by different tech prefixes (neither a prefix of the other, since a tech
prefix is matched at the start of the number), or by CLI authentication on *both* entries
(customer-auth.txt: "Ensure that the CLI Authentication flag is consistently added to the IP
configuration across all customers sharing the same IP address"). Anything else is refused
with 409 and the fix spelled out; to an operator the 409 names the other customer's entry, to a
customer (a service with a ``tenant``) it never does — the other account is none of their
business.

A service built with a ``tenant`` (customer_api) sees only that customer's entries: another
customer's or a carrier's entry is "not found", exactly like one that does not exist.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Mapping
from typing import Any

from libs.accounts.ip_auth_repository import IpAuthRepository
from libs.accounts.queries import AccountQueries
from libs.accounts.rules import (
    apply_changes,
    invalid,
    normalise_network,
    valid_host_name,
)
from libs.db import KeysetPage, UnitOfWork
from libs.db.listing import list_page
from libs.db.models import Carrier, Customer, Direction, IpAuthEntry
from libs.errors import Conflict, NotFound
from libs.liveconfig import ConfigPublisher
from libs.liveconfig.models import ipauth_password_associated_data
from libs.liveconfig.snapshot import ipauth_config
from libs.security import KeyRing

__all__ = ["NULLABLE", "IpAuthEntries", "IpAuthRepository", "password_associated_data"]

#: The fields a PATCH may set to ``null``.
NULLABLE = frozenset({"username", "password", "media_zone_id"})


def password_associated_data(entry_id: uuid.UUID) -> bytes:
    """What an egress password's ciphertext is bound to (sip_core decrypts with the same)."""
    return ipauth_password_associated_data(entry_id)


def _distinguishable(a: IpAuthEntry, b: IpAuthEntry) -> bool:
    if a.cli_auth and b.cli_auth:
        return True
    p, q = a.tech_prefix, b.tech_prefix
    return bool(p and q and not p.startswith(q) and not q.startswith(p))


def _network(address: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(address, strict=False)
    except ValueError:
        return None


class IpAuthEntries:
    """Create, change, list and delete entries; each write publishes after the commit."""

    def __init__(
        self,
        uow: UnitOfWork,
        publisher: ConfigPublisher,
        encryption: KeyRing | None,
        *,
        tenant: uuid.UUID | None = None,
    ) -> None:
        self.uow = uow
        self.publisher = publisher
        self.encryption = encryption
        self.tenant = tenant
        self.entries = IpAuthRepository(uow.session)
        self.queries = AccountQueries(uow.session)

    async def list(
        self,
        *,
        customer_id: uuid.UUID | None = None,
        carrier_id: uuid.UUID | None = None,
        direction: Direction | str | None = None,
        address_prefix: str | None = None,
        sort: str,
        cursor: str | None,
        limit: int,
    ) -> KeysetPage[IpAuthEntry]:
        """A page of entries (only the tenant's, whatever the filters say, for a tenant)."""
        if self.tenant is not None:
            customer_id, carrier_id = self.tenant, None
        statement = self.entries.filtered(
            customer_id=customer_id,
            carrier_id=carrier_id,
            direction=Direction(direction) if direction else None,
            address_prefix=address_prefix,
        )
        return await list_page(self.entries, statement, sort=sort, cursor=cursor, limit=limit)

    async def get(self, entry_id: uuid.UUID) -> IpAuthEntry:
        entry = await self.entries.get(entry_id)
        if entry is None or (self.tenant is not None and entry.customer_id != self.tenant):
            raise NotFound(f"No IP authentication entry with id {entry_id}")
        return entry

    async def create(self, fields: Mapping[str, Any]) -> IpAuthEntry:
        """A new entry from the model's columns (``password`` in clear: it is encrypted)."""
        values = dict(fields)
        password = values.pop("password", None)
        if self.tenant is not None:
            if values.get("customer_id") not in (None, self.tenant):
                raise NotFound(f"No customer with id {values['customer_id']}")
            values["customer_id"], values["carrier_id"] = self.tenant, None
        entry = IpAuthEntry(id=uuid.uuid4(), **values)
        await self._validate(entry, password_given=password is not None)
        self._set_password(entry, password)
        await self.entries.add(entry)
        await self._publish(entry)
        return entry

    async def update(self, entry_id: uuid.UUID, changes: Mapping[str, Any]) -> IpAuthEntry:
        """Apply a PATCH's ``changes`` (``username: None`` clears the credentials)."""
        entry = await self.get(entry_id)
        values = dict(changes)
        password_sent = "password" in values
        password = values.pop("password", None)
        if values.get("username", "") is None:  # clearing the username clears the password
            password_sent, password = True, None
        apply_changes(entry, values)
        await self._validate(
            entry,
            password_given=password is not None
            or (not password_sent and entry.password_ciphertext is not None),
        )
        if password_sent:
            self._set_password(entry, password)
        await self.entries.flush()
        await self._publish(entry)
        return entry

    async def delete(self, entry_id: uuid.UUID) -> None:
        """Delete the entry; its rewrite rules go with it (database cascade and live config)."""
        entry = await self.get(entry_id)
        carrier_id = entry.carrier_id
        rules = await self.queries.rewrite_keys(ip_auth_ids=[entry_id])
        await self.entries.delete(entry)
        self.publisher.stage(self.uow, delete=[("ipauth", entry_id), *rules])
        if carrier_id is not None:
            await self._publish_carrier(carrier_id)

    def _set_password(self, entry: IpAuthEntry, password: str | None) -> None:
        if password is None:
            entry.password_ciphertext = None
            return
        if self.encryption is None:  # pragma: no cover - the API always has a key ring
            raise invalid("password", "no encryption key is configured for egress passwords")
        entry.password_ciphertext = self.encryption.encrypt(
            password.encode(), password_associated_data(entry.id)
        )

    async def _validate(self, entry: IpAuthEntry, *, password_given: bool) -> None:
        customer: Customer | None = None
        if entry.customer_id is not None:
            customer = await self.queries.customer(entry.customer_id)
            if customer is None:
                raise invalid("customer_id", f"no customer with id {entry.customer_id}")
        elif await self.uow.session.get(Carrier, entry.carrier_id) is None:
            raise invalid("carrier_id", f"no carrier with id {entry.carrier_id}")
        if _network(entry.address) is not None or "/" in entry.address:
            entry.address = normalise_network("address", entry.address)
        elif not valid_host_name(entry.address):
            raise invalid(
                "address", f"{entry.address!r} is not an IP address, CIDR network or host name"
            )
        elif entry.direction is not Direction.EGRESS:
            raise invalid(
                "address",
                "a host name (FQDN) is allowed only for egress entries (switches that receive "
                "our calls); for an ingress entry enter the switch's IP address or CIDR network",
            )
        else:
            entry.address = entry.address.lower().rstrip(".")
        if entry.direction is Direction.INGRESS and (entry.username or password_given):
            raise invalid(
                "username",
                "credentials are for egress entries only (we send them to answer the remote "
                "switch's challenge); ingress entries authenticate by address",
            )
        if password_given and not entry.username:
            raise invalid("password", "a password needs a username")
        if entry.media_zone_id is not None and not await self.queries.zone_exists(
            entry.media_zone_id
        ):
            raise invalid("media_zone_id", f"no zone with id {entry.media_zone_id}")
        if customer is not None and entry.direction is Direction.INGRESS:
            self._check_source_ranges(entry, customer)
            await self._check_ambiguity(entry)

    @staticmethod
    def _check_source_ranges(entry: IpAuthEntry, customer: Customer) -> None:
        if not customer.source_ranges:
            return
        network = _network(entry.address)
        ranges = [_network(r) for r in customer.source_ranges]
        if network is not None and not any(
            r is not None and r.version == network.version and network.subnet_of(r)  # type: ignore[arg-type]
            for r in ranges
        ):
            raise invalid(
                "address",
                f"{entry.address} is outside the customer's authorised source ranges "
                f"({', '.join(customer.source_ranges)}): widen the customer's source_ranges "
                "first",
            )

    async def _check_ambiguity(self, entry: IpAuthEntry) -> None:
        assert entry.customer_id is not None
        network = _network(entry.address)
        if network is None:
            return
        for other, name in await self.entries.ingress_of_other_customers(entry.customer_id):
            if other.id == entry.id:
                continue
            theirs = _network(other.address)
            if theirs is None or theirs.version != network.version:
                continue
            if not network.overlaps(theirs):
                continue
            if _distinguishable(entry, other):
                continue
            if self.tenant is not None:
                raise Conflict(
                    f"Ambiguous IP authentication: {entry.address} overlaps an address another "
                    "account sends calls from, so calls from there could belong to either "
                    "account. Use a tech prefix that neither starts nor is the start of theirs "
                    "(ask your operator which), or enable CLI authentication (cli_auth) and ask "
                    "your operator to do the same on the other account's entry."
                )
            raise Conflict(
                f"Ambiguous IP authentication: {entry.address} overlaps {other.address} of "
                f"customer {name!r} (entry {other.id}), and calls from there could belong to "
                "either customer. Give both entries different tech prefixes (neither may be the "
                "start of the other), or enable CLI authentication (cli_auth) on both entries.",
                conflicting_entry=str(other.id),
            )

    async def _publish(self, entry: IpAuthEntry) -> None:
        zones = await self.queries.zones() if entry.media_zone_id else {}
        self.publisher.stage(self.uow, put=[ipauth_config(entry, zones)])
        if entry.carrier_id is not None:
            await self._publish_carrier(entry.carrier_id)

    async def _publish_carrier(self, carrier_id: uuid.UUID) -> None:
        carrier = await self.uow.session.get(Carrier, carrier_id)
        if carrier is not None:
            self.publisher.stage(self.uow, put=[await self.queries.carrier_object(carrier)])
