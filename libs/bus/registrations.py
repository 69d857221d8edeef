"""SIP registrations shared by every sip_core node, and operator messages to registered users.

The registrar of whichever sip_core node a SIP user's REGISTER reached stores each binding
(one contact of the user) in the key-value bucket :data:`REGISTRATIONS_BUCKET`, so every node
can reach a registered user, and switch_api / customer_api can list registrations::

    key                                        value
    <customer_id>.<sip_user_id>.<contact_id>   Registration (JSON)

``contact_id`` is :func:`contact_id` of the Contact URI (a key may not hold a URI's characters).
The node that stores a binding deletes its key when the binding expires, is unregistered or
stops answering keep-alive pings; the bucket's TTL (``AssetSettings.registrations_ttl``, longer
than the longest registration a registrar grants) removes the bindings of a node that died, and
readers ignore a binding past its ``expires_at`` meanwhile.

Operators send a SIP MESSAGE to a registered user with a request on :data:`SIP_MESSAGE_SUBJECT`
(queue group ``sip_core``: one node sends it to each of the user's contacts)::

    subject              request          reply
    sip.user.message     SendSipMessage   SipMessageSent
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Literal

import structlog
from nats.js.errors import KeyNotFoundError
from pydantic import AwareDatetime, Field

from libs.bus.assets import REGISTRATIONS_BUCKET
from libs.bus.errors import _NATS_FAILURES, MessageDecodeError, _from_nats
from libs.bus.messages import BusMessage

if TYPE_CHECKING:  # libs.bus.messages registers this module's messages: no import of the client
    from libs.bus.client import Bus

__all__ = [
    "REGISTRATIONS_BUCKET",
    "REGISTRATION_MESSAGES",
    "SIP_MESSAGE_QUEUE",
    "SIP_MESSAGE_SUBJECT",
    "ContactDelivery",
    "Registration",
    "SendSipMessage",
    "SipMessageSent",
    "contact_id",
    "list_registrations",
    "registration_key",
]

_log = structlog.get_logger(__name__)

SIP_MESSAGE_SUBJECT = "sip.user.message"
#: sip_core nodes answer :data:`SIP_MESSAGE_SUBJECT` in this queue group (one of them sends).
SIP_MESSAGE_QUEUE = "sip_core"


def contact_id(contact: str) -> str:
    """A key-safe id of a Contact URI (24 hex characters of its SHA-256)."""
    return hashlib.sha256(contact.encode()).hexdigest()[:24]


def registration_key(customer_id: uuid.UUID, sip_user_id: uuid.UUID, contact: str) -> str:
    """The bucket key of one binding."""
    return f"{customer_id}.{sip_user_id}.{contact_id(contact)}"


class Registration(BusMessage):
    """One binding of a SIP user: a contact where its calls and messages can reach it.

    ``target_*`` is where requests for the binding are sent: the Contact's host and port, or,
    behind NAT (or with force-NAT), the address the REGISTER came from (``source_*``).
    """

    sip_user_id: uuid.UUID
    customer_id: uuid.UUID
    username: Annotated[str, Field(min_length=1, max_length=256)]
    realm: str
    contact: Annotated[str, Field(min_length=1, description="The Contact URI as registered.")]
    q: Annotated[float | None, Field(ge=0.0, le=1.0, description="Contact preference.")] = None
    expires_at: Annotated[AwareDatetime, Field(description="When the binding lapses.")]
    registered_at: Annotated[AwareDatetime, Field(description="Last REGISTER that refreshed it.")]
    call_id: str
    cseq: Annotated[int, Field(ge=0)]
    transport: Literal["udp", "tcp", "tls"]
    source_host: str
    source_port: Annotated[int, Field(ge=0, le=65535)]
    target_host: str
    target_port: Annotated[int, Field(ge=0, le=65535)]
    nat: Annotated[bool, Field(description="Whether requests go to the source, not the Contact.")]
    user_agent: Annotated[str | None, Field(max_length=256)] = None
    node_id: Annotated[str, Field(description="The sip_core node that holds the binding.")]

    @property
    def key(self) -> str:
        return registration_key(self.customer_id, self.sip_user_id, self.contact)

    def expires_in(self, now: datetime) -> int:
        """Whole seconds left at ``now`` (0 once lapsed)."""
        return max(0, int((self.expires_at - now).total_seconds()))


class SendSipMessage(BusMessage):
    """Send a SIP MESSAGE (RFC 3428) to every contact of a registered SIP user."""

    sip_user_id: uuid.UUID
    body: Annotated[str, Field(min_length=1, max_length=1300)]
    content_type: Annotated[str, Field(max_length=128)] = "text/plain;charset=UTF-8"
    #: The user part of the From URI the phone shows.
    sender: Annotated[str, Field(min_length=1, max_length=64)] = "operator"
    #: Seconds to wait for the contacts' final responses.
    timeout: Annotated[float, Field(gt=0, le=30)] = 8.0


class ContactDelivery(BusMessage):
    """What one contact answered; ``status`` ``None``: no answer in time (or unreachable)."""

    contact: str
    status: int | None = None
    reason: str = ""


class SipMessageSent(BusMessage):
    """The outcome of a :class:`SendSipMessage`: ``delivered`` if some contact answered 2xx."""

    sip_user_id: uuid.UUID
    delivered: bool
    #: ``not_registered``: the user has no binding (nothing was sent).
    error: Literal["not_registered"] | None = None
    results: list[ContactDelivery] = Field(default_factory=list)
    node_id: str = ""


REGISTRATION_MESSAGES: tuple[type[BusMessage], ...] = (
    Registration,
    SendSipMessage,
    SipMessageSent,
    ContactDelivery,
)


async def list_registrations(
    bus: Bus,
    *,
    customer_id: uuid.UUID | None = None,
    sip_user_id: uuid.UUID | None = None,
    now: datetime | None = None,
    bucket: str = REGISTRATIONS_BUCKET,
    timeout: float | None = None,  # noqa: ASYNC109 - bounds the whole read, like Bus methods
) -> list[Registration]:
    """The current bindings, optionally of one customer and/or SIP user (lapsed ones left out).

    This is the reusable read behind switch_api's ``GET /v1/registrations`` and a customer's
    own view (pass its ``customer_id``: the key prefix scopes the read). It reads the bucket
    (one request for the keys, one per key): nodes keep their own watched view instead.

    Raises:
        BusUnavailable: the bucket does not exist or NATS is unreachable.
        BusTimeout: the bucket could not be read within ``timeout``.
    """
    kv = await bus.key_value(bucket)
    prefix = f"$KV.{bucket}."
    if customer_id is not None:
        scope = f"{customer_id}.{sip_user_id}.*" if sip_user_id is not None else f"{customer_id}.>"
    else:
        scope = f"*.{sip_user_id}.*" if sip_user_id is not None else ">"
    limit = bus.request_timeout if timeout is None else timeout

    async def latest(key: str) -> Registration | None:
        try:
            entry = await kv.get(key)
        except KeyNotFoundError:  # deleted or expired since it was listed
            return None
        try:
            return Registration.from_bytes(entry.value or b"")
        except MessageDecodeError as exc:
            _log.debug("registrations.entry_skipped", key=key, reason=str(exc))
            return None

    try:
        async with asyncio.timeout(limit):
            info = await bus.js.stream_info(f"KV_{bucket}", subjects_filter=prefix + scope)
            keys = sorted(subject[len(prefix) :] for subject in info.state.subjects or {})
            found = await asyncio.gather(*(latest(key) for key in keys))
    except _NATS_FAILURES as exc:
        raise _from_nats(exc, f"read registrations bucket {bucket!r}") from exc
    moment = now or datetime.now(UTC)
    return [r for r in found if r is not None and r.expires_at > moment]
