"""The media relays' control protocol: ``media.relay.<node_id>.<command>`` request/reply.

sip_core picks one relay from the presence bucket and addresses it directly (in the spirit of
rtpengine's ng protocol, with typed JSON messages instead of bencode)::

    subject                           request              reply (or MediaRefused)
    media.relay.<node>.offer          OfferMedia           MediaOffered
    media.relay.<node>.answer         AnswerMedia          MediaAnswered
    media.relay.<node>.delete         DeleteMedia          MediaDeleted   (final statistics)
    media.relay.<node>.query          QueryMedia           MediaQueried   (statistics so far)
    media.relay.<node>.status         RelayStatusRequested RelayStatus

    event                                         message
    media.session.timed_out.<owner>               MediaTimedOut  (owner: OfferMedia.owner)

Leg *a* is the caller's side (the SDP of ``OfferMedia``), leg *b* the callee's (``AnswerMedia``).
``MediaOffered.a`` is where peer A must send (sip_core puts it in the SDP it answers to the
caller); ``.b`` is where peer B must send (the SDP it offers to the callee). ``offer`` and
``answer`` may be repeated (re-INVITE, 183 then 200): they update the peer's address and return
the same ports.

A refusal (bad request, unknown call, no free ports, a draining relay) is a :class:`MediaRefused`
reply, never silence; :func:`request_media` raises it as :class:`RelayRefused`. A draining relay
refuses new calls only: offers for calls it carries, answers, queries and deletes still work.

A session that times out is gone when its :class:`MediaTimedOut` is published: the event carries
the final statistics (for the CDR), and a later ``delete`` answers ``unknown_session``.

Statistics (:class:`StreamStats`) describe what each leg's peer *sent* to the relay: packets,
bytes, loss from RTP sequence numbers (RFC 3550 A.1/A.3), interarrival jitter (RFC 3550 A.8), the
round trip relay <-> peer from RTCP when the peer sends reports, and an E-model MOS
(ITU-T G.107; formula in ``services/rtp_relay/core/quality.py``).
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Annotated, Literal, TypeVar, overload

from pydantic import BaseModel, ConfigDict, Field, field_validator

from libs.bus.errors import _NATS_FAILURES, BusError, MessageDecodeError, _from_nats
from libs.bus.messages import BusMessage

if TYPE_CHECKING:  # libs.bus.messages registers this module's messages: no import of the client
    from libs.bus.client import Bus

__all__ = [
    "MEDIA_MESSAGES",
    "MEDIA_TIMEOUTS",
    "AnswerMedia",
    "Codec",
    "DeleteMedia",
    "MediaAnswered",
    "MediaDeleted",
    "MediaOffered",
    "MediaQueried",
    "MediaRefused",
    "MediaStats",
    "MediaTimedOut",
    "OfferMedia",
    "PeerMedia",
    "QueryMedia",
    "RelayPorts",
    "RelayRefused",
    "RelayStatus",
    "RelayStatusRequested",
    "StreamStats",
    "decode_media_reply",
    "media_timeout_subject",
    "relay_subject",
    "request_media",
]

R = TypeVar("R", bound=BusMessage)

#: Wildcard that receives every relay's time-out events (``media_timeout_subject`` for one owner).
MEDIA_TIMEOUTS = "media.session.timed_out.>"

_NOT_A_TOKEN = re.compile(r"[.*>\s]")


def _token(value: str) -> str:
    """``value`` made a single NATS subject token (dots, wildcards and spaces become ``_``)."""
    return _NOT_A_TOKEN.sub("_", value) or "_"


def relay_subject(node_id: str, command: str) -> str:
    """The control subject of one relay node for one command (``*`` for all)."""
    return f"media.relay.{node_id}.{command}"


def media_timeout_subject(owner: str | None) -> str:
    """Where a relay publishes the ``MediaTimedOut`` of sessions offered by ``owner``.

    ``owner`` is the sip_core node id given in :class:`OfferMedia` (``_`` when none was given).
    A sip_core subscribes to its own subject, or to :data:`MEDIA_TIMEOUTS` for all of them.
    """
    return f"media.session.timed_out.{_token(owner) if owner else '_'}"


class _Part(BaseModel):
    """A nested part of a message: frozen, unknown fields ignored (like :class:`BusMessage`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


CallId = Annotated[str, Field(min_length=1, max_length=256, description="sip_core's call id.")]
Port = Annotated[int, Field(ge=0, le=65535)]


class Codec(_Part):
    """One ``a=rtpmap`` line: lets the relay read timestamps of dynamic payload types."""

    payload_type: Annotated[int, Field(ge=0, le=127)]
    name: Annotated[str, Field(max_length=64, description="Encoding name, e.g. 'PCMU'.")] = ""
    clock_rate: Annotated[int, Field(gt=0, le=1_000_000)] = 8000


class PeerMedia(_Part):
    """What one leg's SDP says about its audio stream.

    ``address`` is where the peer's media comes from and where it is sent until the peer's
    first packet latches (sip_core may put the signalling source address here for an endpoint
    behind NAT). None or ``0.0.0.0`` (hold): accept the first source, send nothing before it.
    """

    address: Annotated[
        str | None, Field(description="c= address (IPv4/IPv6 literal), or None if unknown.")
    ] = None
    port: Annotated[Port | None, Field(description="m= port; 0 or None: none yet.")] = None
    rtcp_port: Annotated[Port | None, Field(description="a=rtcp port (RFC 3605).")] = None
    codecs: tuple[Codec, ...] = ()
    secure: bool = Field(
        default=False, description="RTP/SAVP(F): SRTP passes untouched; RTCP is only counted."
    )

    @field_validator("address")
    @classmethod
    def _ip_literal(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise ValueError("must be an IPv4 or IPv6 address literal") from None


class RelayPorts(_Part):
    """The relay's address and ports for one leg: where that leg's peer must send."""

    address: str
    rtp_port: Port
    rtcp_port: Port


class OfferMedia(BusMessage):
    """Anchor a call's media: allocate ports for both legs, leg a's peer from the offer SDP."""

    call_id: CallId
    peer: PeerMedia = PeerMedia()
    owner: Annotated[
        str | None, Field(max_length=256, description="Node id of the sip_core owning the call.")
    ] = None


class MediaOffered(BusMessage):
    """Ports allocated (or kept, for a re-offer)."""

    call_id: str
    node_id: str
    a: RelayPorts = Field(description="For the caller's SDP: where peer A sends.")
    b: RelayPorts = Field(description="For the callee's SDP: where peer B sends.")


class AnswerMedia(BusMessage):
    """The callee's SDP (leg b): where peer B's media comes from. Arms the media timeout."""

    call_id: CallId
    peer: PeerMedia = PeerMedia()


class MediaAnswered(BusMessage):
    """Leg b's peer recorded; the same ports as the offer's reply."""

    call_id: str
    node_id: str
    a: RelayPorts
    b: RelayPorts


class StreamStats(_Part):
    """What one leg's peer sent to the relay, and how good it was."""

    peer: str | None = Field(description="Latched RTP source 'ip:port' (None: nothing yet).")
    rtcp_peer: str | None = None
    packets: int = Field(ge=0, description="RTP packets received from the peer and relayed.")
    bytes: int = Field(ge=0)
    lost: int = Field(ge=0, description="Expected minus received (RFC 3550 A.3).")
    loss_pct: float = Field(ge=0)
    jitter_ms: float = Field(ge=0, description="Interarrival jitter (RFC 3550 A.8).")
    rtt_ms: float | None = Field(default=None, description="Round trip relay-peer, from RTCP.")
    r_factor: float | None = Field(default=None, description="E-model R (ITU-T G.107).")
    mos: float | None = Field(default=None, description="MOS from R (G.107 Annex B).")
    rtcp_packets: int = Field(default=0, ge=0)
    rtcp_bytes: int = Field(default=0, ge=0)
    dropped: int = Field(default=0, ge=0, description="Packets from other sources, dropped.")
    unrouted: int = Field(default=0, ge=0, description="Packets with no destination yet.")
    relatched: int = Field(default=0, ge=0, description="Times the latch moved.")
    non_rtp: int = Field(default=0, ge=0, description="Relayed packets that are not RTP v2.")
    ssrc: int | None = None
    payload_type: int | None = None
    codec: str | None = None
    clock_rate: int = 8000
    idle_s: float | None = Field(default=None, description="Seconds since its last packet.")


class MediaStats(_Part):
    """A session's statistics, per direction."""

    duration_s: float = Field(ge=0, description="Since the offer.")
    answered: bool
    a: StreamStats = Field(description="Sent by peer A (the caller).")
    b: StreamStats = Field(description="Sent by peer B (the callee).")
    mos: float | None = Field(default=None, description="The worse direction's MOS.")


class DeleteMedia(BusMessage):
    """End a call's media: release its ports and return its final statistics."""

    call_id: CallId


class MediaDeleted(BusMessage):
    call_id: str
    node_id: str
    stats: MediaStats


class QueryMedia(BusMessage):
    """Ask for a call's statistics so far."""

    call_id: CallId


class MediaQueried(BusMessage):
    call_id: str
    node_id: str
    stats: MediaStats


class MediaRefused(BusMessage):
    """The reply to a request the relay will not carry out.

    ``reason`` is one of ``bad_request`` (not a valid request), ``unknown_session``,
    ``no_ports`` (the port range is exhausted), ``draining`` (the relay takes no new calls) and
    ``internal``; consumers should treat an unknown reason like ``internal``.
    """

    reason: str
    detail: str = ""
    call_id: str | None = None
    node_id: str | None = None


class MediaTimedOut(BusMessage):
    """A relay ended a session by itself: a leg sent nothing for ``media.timeout`` seconds
    (``media_timeout``: sip_core releases the call with "RTP timeout"), or an offer was never
    answered (``setup_timeout``). The ports are released; ``stats`` are final."""

    node_id: str
    call_id: str
    owner: str | None = None
    reason: Literal["media_timeout", "setup_timeout"]
    leg: Literal["a", "b"] | None = Field(default=None, description="The silent leg.")
    idle_s: float = Field(ge=0)
    stats: MediaStats


class RelayStatusRequested(BusMessage):
    """Ask one relay for its capacity (sip_core probes a relay before trusting it)."""


class RelayStatus(BusMessage):
    """A relay's answer: who it is and how many port pairs it has and uses."""

    node_id: Annotated[str, Field(min_length=1)]
    zone: Annotated[str, Field(min_length=1)]
    port_pairs: Annotated[int, Field(ge=0, description="RTP/RTCP port pairs in the range.")]
    port_pairs_in_use: Annotated[int, Field(ge=0)]
    sessions: Annotated[int, Field(ge=0)] = 0
    draining: bool = False


class RelayRefused(BusError):
    """The relay answered a request with :class:`MediaRefused`."""

    def __init__(self, refusal: MediaRefused) -> None:
        super().__init__(f"relay refused ({refusal.reason}): {refusal.detail}")
        self.reason = refusal.reason
        self.detail = refusal.detail
        self.refusal = refusal


def decode_media_reply(data: bytes, reply_type: type[R]) -> R:
    """Decode a relay's reply as ``reply_type``.

    Raises:
        RelayRefused: the reply is a :class:`MediaRefused`.
        MessageDecodeError: it is neither.
    """
    try:
        return reply_type.from_bytes(data)
    except MessageDecodeError as not_a_reply:
        try:
            refusal = MediaRefused.from_bytes(data)
        except MessageDecodeError:
            raise not_a_reply from None
        raise RelayRefused(refusal) from None


MEDIA_MESSAGES: tuple[type[BusMessage], ...] = (
    OfferMedia,
    MediaOffered,
    AnswerMedia,
    MediaAnswered,
    DeleteMedia,
    MediaDeleted,
    QueryMedia,
    MediaQueried,
    MediaRefused,
    MediaTimedOut,
    RelayStatusRequested,
    RelayStatus,
)
"""The media protocol's messages, for :data:`libs.bus.messages.ALL_MESSAGES`."""

_COMMANDS: dict[type[BusMessage], tuple[str, type[BusMessage]]] = {
    OfferMedia: ("offer", MediaOffered),
    AnswerMedia: ("answer", MediaAnswered),
    DeleteMedia: ("delete", MediaDeleted),
    QueryMedia: ("query", MediaQueried),
}


@overload
async def request_media(
    bus: Bus,
    node_id: str,
    request: OfferMedia,
    *,
    timeout: float | None = None,  # noqa: ASYNC109
) -> MediaOffered: ...
@overload
async def request_media(
    bus: Bus,
    node_id: str,
    request: AnswerMedia,
    *,
    timeout: float | None = None,  # noqa: ASYNC109
) -> MediaAnswered: ...
@overload
async def request_media(
    bus: Bus,
    node_id: str,
    request: DeleteMedia,
    *,
    timeout: float | None = None,  # noqa: ASYNC109
) -> MediaDeleted: ...
@overload
async def request_media(
    bus: Bus,
    node_id: str,
    request: QueryMedia,
    *,
    timeout: float | None = None,  # noqa: ASYNC109
) -> MediaQueried: ...
async def request_media(
    bus: Bus,
    node_id: str,
    request: OfferMedia | AnswerMedia | DeleteMedia | QueryMedia,
    *,
    timeout: float | None = None,  # noqa: ASYNC109 - per-request, as Bus.request
) -> BusMessage:
    """Send a control request to relay ``node_id`` and return its typed reply.

    Raises:
        RelayRefused: the relay refused (its ``reason`` says why).
        BusTimeout: no reply within ``timeout`` (default: the bus's request timeout).
        BusUnavailable: no such relay listens, or the connection is closed.
        MessageDecodeError: the reply is not a valid message.
    """
    command, reply_type = _COMMANDS[type(request)]
    subject = relay_subject(node_id, command)
    try:
        reply = await bus.nc.request(
            subject,
            request.to_bytes(),
            timeout=bus.request_timeout if timeout is None else timeout,
        )
    except _NATS_FAILURES as exc:
        raise _from_nats(exc, f"request on {subject!r}") from exc
    return decode_media_reply(reply.data, reply_type)
