"""SDP as a media anchor needs it: read, and rewrite the addresses and ports of one stream.

Implements, from RFC 8866 (SDP): the line structure ``<type>=<value>`` (§5) with CRLF or a bare LF
as line end, the connection line ``c=IN IP4|IP6 <address>`` at session and media level (§5.7; a
media-level line overrides the session's), the media line ``m=<media> <port>[/<count>] <proto>
<fmt> …`` (§5.14), ``a=rtpmap`` (§6.6) and the direction attributes (§6.7, read, never changed);
from RFC 3605 the ``a=rtcp:<port> [IN IP4|IP6 <address>]`` attribute; from RFC 3264 the rules
that a port of 0 disables a stream (§6, §8.2) and that answer streams match offer streams by
position (§6), so the stream anchored in an offer is found again in its answer by its index.

The anchor relays one RTP stream per call: the first active audio stream of the offer. Rewriting
puts the relay's address in the session ``c=`` line and in that stream's own ``c=`` lines, its
RTP port in the stream's ``m=`` line and its RTCP port (and address, when the line had one) in
its ``a=rtcp``; every other active stream gets port 0 — it could not flow with the session
address pointing at the relay (RFC 3264 §8.2 allows removing a stream so). Every other byte is
kept as it came: origin, attributes (``a=sendonly``, ``a=inactive``, crypto keys…), line ends.
A hold in the RFC 2543 style (``c=IN IP4 0.0.0.0``) keeps its unspecified address.

Skipped: ICE (``a=candidate`` lines pass untouched: peers that use ICE reach each other directly,
as they chose), several anchored streams per call (video is disabled), multicast sessions (an
address with ``/ttl`` is read without the suffix and rewritten like any other).

:func:`rejecting_answer` builds the answer that declines every stream of an offer (RFC 3264 §6:
each ``m=`` line of the offer answered in place with port 0): what a B2BUA must put in the ACK
to a 2xx carrying an offer when the party that owed the answer gave none (RFC 3261 §13.2.2.4:
"a valid answer in the ACK and then send a BYE immediately").

Contract: :func:`parse_sdp` either returns a :class:`SessionDescription` or raises
:class:`SdpError`, whatever the bytes (bounded by :data:`MAX_SDP_SIZE`, :data:`MAX_LINES` and
:data:`MAX_STREAMS`); :func:`rewrite_sdp` raises only :class:`SdpError` for an index that names
no stream.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

__all__ = [
    "MAX_LINES",
    "MAX_SDP_SIZE",
    "MAX_STREAMS",
    "MediaDescription",
    "RtpMap",
    "SdpError",
    "SessionDescription",
    "parse_sdp",
    "rejecting_answer",
    "rewrite_sdp",
]

#: Bounds that hold any real offer many times over (a large video+audio offer is ~3 KiB).
MAX_SDP_SIZE = 32_768
MAX_LINES = 512
MAX_STREAMS = 16

_LINE = re.compile(rb"([^\r\n]*)(\r\n|\n|\r(?!\n)|$)")
_CONNECTION = re.compile(r"IN (IP4|IP6) (\S+)")
_MEDIA = re.compile(r"([a-zA-Z0-9_-]+) (\d{1,5})(/\d{1,5})? (\S+)((?: \S+)*)")
_RTCP = re.compile(r"(\d{1,5})(?: IN (IP4|IP6) (\S+))?")
_RTPMAP = re.compile(r"(\d{1,3}) ([^/\s]+)/(\d{1,7})(?:/\S+)?")
_DIRECTIONS = frozenset({"sendrecv", "sendonly", "recvonly", "inactive"})


class SdpError(ValueError):
    """The body is not an SDP this anchor can read (the text says why, never quoting it)."""


@dataclass(frozen=True, slots=True)
class RtpMap:
    """One ``a=rtpmap:<pt> <name>/<clock rate>`` line."""

    payload_type: int
    name: str
    clock_rate: int


@dataclass(frozen=True, slots=True)
class MediaDescription:
    """One ``m=`` section, with the values a relay needs."""

    index: int
    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    #: The connection address in force for this stream (its own ``c=`` or the session's).
    address: str | None
    rtcp_port: int | None
    rtcp_address: str | None
    rtpmaps: tuple[RtpMap, ...]
    direction: str

    @property
    def active(self) -> bool:
        """Port 0 disables (offer) or rejects (answer) a stream (RFC 3264 §5.1, §6)."""
        return self.port != 0

    @property
    def rtp(self) -> bool:
        """Carried over RTP (``RTP/AVP``, ``RTP/SAVPF``, ``UDP/TLS/RTP/SAVP``…)."""
        return "RTP/" in self.proto.upper()

    @property
    def secure(self) -> bool:
        """SRTP: the relay passes it untouched and can only count it."""
        return "SAVP" in self.proto.upper()

    @property
    def ip(self) -> str | None:
        """``address`` as a normalised IP literal; None for a host name or the unspecified
        address of a hold (the relay then latches on the first source)."""
        return _literal(self.address)


@dataclass(frozen=True, slots=True)
class SessionDescription:
    """A parsed SDP: the session's connection address and its media sections."""

    address: str | None
    media: tuple[MediaDescription, ...]

    def anchor_index(self) -> int | None:
        """The stream a relay anchors: the first active audio stream over RTP, else None."""
        for stream in self.media:
            if stream.media.lower() == "audio" and stream.active and stream.rtp:
                return stream.index
        return None


@dataclass(slots=True)
class _Line:
    kind: str
    text: bytes  # without its line end
    end: bytes
    stream: int  # -1 for session level


def _literal(address: str | None) -> str | None:
    if address is None:
        return None
    try:
        parsed = ipaddress.ip_address(address.split("/", 1)[0])
    except ValueError:
        return None
    return None if parsed.is_unspecified else str(parsed)


def _split(body: bytes) -> list[_Line]:
    if len(body) > MAX_SDP_SIZE:
        raise SdpError(f"SDP larger than {MAX_SDP_SIZE} bytes")
    lines: list[_Line] = []
    stream = -1
    position = 0
    size = len(body)
    while position < size:
        match = _LINE.match(body, position)
        assert match is not None  # the pattern matches the empty string
        text, end = match.group(1), match.group(2)
        position = match.end()
        if len(lines) >= MAX_LINES:
            raise SdpError(f"SDP of more than {MAX_LINES} lines")
        if not text:
            kind = ""
        elif len(text) < 2 or text[1:2] != b"=" or not text[:1].isalpha():
            raise SdpError(f"line {len(lines) + 1} is not <type>=<value>")
        else:
            kind = chr(text[0])
        if kind == "m":
            stream += 1
            if stream >= MAX_STREAMS:
                raise SdpError(f"SDP of more than {MAX_STREAMS} media streams")
        lines.append(_Line(kind, text, end, stream))
    if not lines or lines[0].text != b"v=0":
        raise SdpError("SDP must start with v=0")
    return lines


def _value(line: _Line) -> str:
    try:
        return line.text[2:].decode("ascii")
    except UnicodeDecodeError:
        raise SdpError(f"non-ASCII {line.kind}= line") from None


def _connection(line: _Line) -> tuple[str, str]:
    match = _CONNECTION.fullmatch(_value(line).strip())
    if match is None:
        raise SdpError("c= line is not 'IN IP4|IP6 <address>'")
    return match.group(1), match.group(2)


@dataclass(slots=True)
class _Stream:
    media: str
    port: int
    proto: str
    formats: tuple[str, ...]
    address: str | None = None
    rtcp_port: int | None = None
    rtcp_address: str | None = None
    rtpmaps: list[RtpMap] = field(default_factory=list)
    direction: str = "sendrecv"


def parse_sdp(body: bytes) -> SessionDescription:
    """Read ``body`` (an ``application/sdp`` body).

    Raises:
        SdpError: not a well-formed SDP, over a bound, or a stream with no connection address.
    """
    return _parse(_split(body))


def _parse(lines: list[_Line]) -> SessionDescription:
    session_address: str | None = None
    streams: list[_Stream] = []
    for line in lines:
        if line.kind == "c":
            _, address = _connection(line)
            if line.stream < 0:
                session_address = address
            else:
                streams[line.stream].address = address
        elif line.kind == "m":
            match = _MEDIA.fullmatch(_value(line).rstrip())
            if match is None:
                raise SdpError("m= line is not '<media> <port> <proto> <fmt> ...'")
            port = int(match.group(2))
            if port > 65535:
                raise SdpError("m= port out of range")
            formats = tuple(match.group(5).split())
            streams.append(_Stream(match.group(1), port, match.group(4), formats))
        elif line.kind == "a" and line.stream >= 0:
            _attribute(line, streams[line.stream])
    media = []
    for index, stream in enumerate(streams):
        effective = stream.address if stream.address is not None else session_address
        if effective is None and stream.port != 0:
            raise SdpError(f"media stream {index} has no c= line and the session none")
        media.append(
            MediaDescription(
                index=index,
                media=stream.media,
                port=stream.port,
                proto=stream.proto,
                formats=stream.formats,
                address=effective,
                rtcp_port=stream.rtcp_port,
                rtcp_address=stream.rtcp_address,
                rtpmaps=tuple(stream.rtpmaps),
                direction=stream.direction,
            )
        )
    return SessionDescription(session_address, tuple(media))


def _attribute(line: _Line, stream: _Stream) -> None:
    value = _value(line)
    name, _, rest = value.partition(":")
    if name == "rtcp":
        match = _RTCP.fullmatch(rest.strip())
        if match is None or int(match.group(1)) > 65535:
            raise SdpError("a=rtcp is not '<port> [IN IP4|IP6 <address>]' (RFC 3605)")
        stream.rtcp_port = int(match.group(1))
        stream.rtcp_address = match.group(3) or None
    elif name == "rtpmap":
        match = _RTPMAP.fullmatch(rest.strip())
        # An rtpmap this anchor cannot read only costs the relay a clock rate: keep going.
        if match is not None and int(match.group(1)) <= 127 and int(match.group(3)) > 0:
            stream.rtpmaps.append(RtpMap(int(match.group(1)), match.group(2), int(match.group(3))))
    elif value in _DIRECTIONS:
        stream.direction = value


def _family(address: str) -> bytes:
    return b"IP6" if ":" in address else b"IP4"


def rewrite_sdp(body: bytes, stream: int, *, address: str, rtp_port: int, rtcp_port: int) -> bytes:
    """``body`` with stream ``stream`` pointed at ``address``:``rtp_port`` (RTCP at
    ``rtcp_port``) and every other active stream disabled; all other bytes unchanged.

    An inactive ``stream`` (port 0, a rejected or disabled stream) is left at port 0.

    Raises:
        SdpError: ``body`` does not parse, or has no stream ``stream``.
    """
    lines = _split(body)
    parsed = _parse(lines)
    if not 0 <= stream < len(parsed.media):
        raise SdpError(f"no media stream {stream}")
    target = parsed.media[stream]
    connection = b"c=IN " + _family(address) + b" " + address.encode("ascii")
    out: list[bytes] = []
    for line in lines:
        text = line.text
        if line.kind == "c" and (line.stream < 0 or line.stream == stream):
            _, old = _connection(line)
            if not _is_unspecified(old):
                text = connection
        elif line.kind == "m" and line.stream >= 0:
            if line.stream == stream:
                if target.active:
                    text = _with_port(line, rtp_port)
            elif parsed.media[line.stream].active:
                text = _with_port(line, 0)
        elif line.kind == "a" and line.stream == stream and text.startswith(b"a=rtcp:"):
            text = b"a=rtcp:%d" % rtcp_port
            if target.rtcp_address is not None:
                text += b" IN " + _family(address) + b" " + address.encode("ascii")
        out.append(text)
        out.append(line.end)
    return b"".join(out)


def _is_unspecified(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("/", 1)[0]).is_unspecified
    except ValueError:
        return False


def _with_port(line: _Line, port: int) -> bytes:
    # m=<media> <port>[/<count>] <rest>: the relay gives one port, so a count goes too.
    media, _, rest = line.text[2:].partition(b" ")
    _, _, tail = rest.partition(b" ")
    return b"m=" + media + b" %d " % port + tail


def rejecting_answer(offer: bytes, address: str) -> bytes:
    """A valid answer to ``offer`` that rejects all its streams (RFC 3264 §6), from ``address``.

    Each ``m=`` line of the offer is answered in its place with port 0, the same media and
    transport and the offer's first format (RFC 8866 §5.14 requires one); ``address`` goes in
    the origin and the session's ``c=`` line (our signalling address: no media will flow).

    Raises:
        SdpError: ``offer`` cannot be read.
    """
    parsed = parse_sdp(offer)
    family = _family(address)
    lines = [
        b"v=0",
        b"o=- 0 0 IN " + family + b" " + address.encode("ascii"),
        b"s=-",
        b"c=IN " + family + b" " + address.encode("ascii"),
        b"t=0 0",
    ]
    for stream in parsed.media:
        first = stream.formats[0] if stream.formats else "0"
        lines.append(f"m={stream.media} 0 {stream.proto} {first}".encode("ascii"))
    return b"\r\n".join(lines) + b"\r\n"
