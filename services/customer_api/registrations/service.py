"""Your SIP users' registrations, read from the sip_core nodes' shared bindings
(:func:`libs.bus.registrations.list_registrations`) with your account as the key prefix: the
read itself cannot reach another account's bindings. A SIP user id to filter on is checked in
the database first, so another account's id is "not found", as everywhere else."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from libs.accounts import SipUsers
from libs.bus import BusConnector, BusError
from libs.bus.registrations import list_registrations
from libs.db import UnitOfWork
from libs.errors import ServiceUnavailable
from libs.liveconfig import ConfigPublisher
from services.customer_api.registrations.schemas import Registration, RegistrationList

#: Seconds the bucket read may take.
READ_TIMEOUT = 5.0


async def registrations(
    uow: UnitOfWork,
    publisher: ConfigPublisher,
    connector: BusConnector | None,
    customer_id: uuid.UUID,
    *,
    sip_user_id: uuid.UUID | None = None,
) -> RegistrationList:
    """The account's current bindings (of one of its SIP users, if given).

    404: ``sip_user_id`` is not one of the account's SIP users; 503: NATS cannot be read now.
    """
    if sip_user_id is not None:
        await SipUsers(uow, publisher, tenant=customer_id).get(sip_user_id)
    if connector is None or not connector.connected:
        raise ServiceUnavailable("The switch nodes cannot be asked now: try again shortly")
    now = datetime.now(UTC)
    try:
        found = await list_registrations(
            connector.bus,
            customer_id=customer_id,
            sip_user_id=sip_user_id,
            now=now,
            timeout=READ_TIMEOUT,
        )
    except BusError as exc:
        raise ServiceUnavailable(f"Registrations cannot be read now: {exc}") from None
    # The key prefix scopes the read; a binding whose body names another account is dropped.
    mine = sorted(
        (r for r in found if r.customer_id == customer_id), key=lambda r: (r.username, r.contact)
    )
    return RegistrationList(
        items=[
            Registration(
                sip_user_id=r.sip_user_id,
                username=r.username,
                contact=r.contact,
                expires_at=r.expires_at,
                expires_in=r.expires_in(now),
                registered_at=r.registered_at,
                transport=r.transport,
                source=f"{r.source_host}:{r.source_port}",
                target=f"{r.target_host}:{r.target_port}",
                nat=r.nat,
                user_agent=r.user_agent,
            )
            for r in mine
        ]
    )
