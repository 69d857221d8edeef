"""Registrations live in the sip_core nodes' key-value bucket (``libs.bus.registrations``), not in
SQL: listing reads the bucket; a MESSAGE is a NATS request one sip_core node carries out.

:func:`list_registrations` is scoped by customer when asked (customer_api passes its caller's
account), so the same function serves an operator and a customer.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from libs.bus import BusConnector, BusError, BusTimeout
from libs.bus import registrations as bus_registrations
from libs.bus.registrations import SIP_MESSAGE_SUBJECT, SendSipMessage, SipMessageSent
from libs.db import UnitOfWork
from libs.errors import Conflict, NotFound, ServiceUnavailable
from services.switch_api.registrations.repository import RegistrationRepository
from services.switch_api.registrations.schemas import (
    ContactDelivery,
    Registration,
    SipMessageCreate,
    SipMessageResult,
)

#: Seconds the phones have to answer a MESSAGE; the NATS request waits a little longer.
MESSAGE_TIMEOUT = 8.0


def _bus(connector: BusConnector | None) -> BusConnector:
    if connector is None or not connector.connected:
        raise ServiceUnavailable("NATS is unreachable: registrations cannot be reached now")
    return connector


async def list_registrations(
    connector: BusConnector | None,
    *,
    customer_id: uuid.UUID | None = None,
    sip_user_id: uuid.UUID | None = None,
) -> list[Registration]:
    """The current bindings (of one customer and/or SIP user), by username then contact."""
    bus = _bus(connector).bus
    now = datetime.now(UTC)
    try:
        found = await bus_registrations.list_registrations(
            bus, customer_id=customer_id, sip_user_id=sip_user_id, now=now
        )
    except BusError as exc:
        raise ServiceUnavailable(f"registrations cannot be read now: {exc}") from None
    found.sort(key=lambda r: (r.username, r.contact))
    return [
        Registration(
            sip_user_id=r.sip_user_id,
            customer_id=r.customer_id,
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
            node_id=r.node_id,
        )
        for r in found
    ]


async def send_message(
    uow: UnitOfWork, connector: BusConnector | None, user_id: uuid.UUID, data: SipMessageCreate
) -> SipMessageResult:
    """MESSAGE to every contact of a registered SIP user; the phones' answers.

    404: no such SIP user; 409: it is not registered; 503: no sip_core node answered.
    """
    if await RegistrationRepository(uow.session).sip_user(user_id) is None:
        raise NotFound(f"No SIP user with id {user_id}")
    bus = _bus(connector).bus
    command = SendSipMessage(
        sip_user_id=user_id, body=data.text, sender=data.sender, timeout=MESSAGE_TIMEOUT
    )
    try:
        reply = await bus.request(
            SIP_MESSAGE_SUBJECT, command, SipMessageSent, timeout=MESSAGE_TIMEOUT + 2.0
        )
    except BusTimeout:
        raise ServiceUnavailable("no sip_core node answered in time") from None
    except BusError as exc:
        raise ServiceUnavailable(f"no sip_core node can send it now: {exc}") from None
    if reply.error == "not_registered":
        raise Conflict("The SIP user is not registered", sip_user_id=str(user_id))
    return SipMessageResult(
        delivered=reply.delivered,
        results=[
            ContactDelivery(contact=r.contact, status=r.status, reason=r.reason)
            for r in reply.results
        ],
        node_id=reply.node_id,
    )
