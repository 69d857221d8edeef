"""The SDP codec of the media anchor: what it reads, what it rewrites, and what it keeps."""

from __future__ import annotations

import contextlib
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.sip_core.sip.sdp import (
    MAX_LINES,
    MAX_SDP_SIZE,
    MAX_STREAMS,
    SdpError,
    parse_sdp,
    rejecting_answer,
    rewrite_sdp,
)

OFFER = (
    b"v=0\r\n"
    b"o=- 4711 1 IN IP4 10.0.0.5\r\n"
    b"s=call\r\n"
    b"c=IN IP4 10.0.0.5\r\n"
    b"t=0 0\r\n"
    b"m=audio 49170 RTP/AVP 0 8 101\r\n"
    b"a=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=fmtp:101 0-15\r\n"
    b"a=rtcp:49171\r\n"
    b"a=sendonly\r\n"
    b"m=video 51372 RTP/AVP 96\r\n"
    b"a=rtpmap:96 H264/90000\r\n"
)


def lines(body: bytes) -> list[bytes]:
    return body.split(b"\r\n")


def test_reads_the_session_and_its_streams() -> None:
    sdp = parse_sdp(OFFER)
    assert sdp.address == "10.0.0.5"
    audio, video = sdp.media
    assert (audio.media, audio.port, audio.proto) == ("audio", 49170, "RTP/AVP")
    assert audio.formats == ("0", "8", "101")
    assert audio.address == audio.ip == "10.0.0.5"
    assert audio.rtcp_port == 49171
    assert audio.rtcp_address is None
    assert [(m.payload_type, m.name, m.clock_rate) for m in audio.rtpmaps] == [
        (0, "PCMU", 8000),
        (8, "PCMA", 8000),
        (101, "telephone-event", 8000),
    ]
    assert audio.direction == "sendonly"
    assert video.direction == "sendrecv"
    assert video.address == "10.0.0.5"
    assert sdp.anchor_index() == 0
    assert not audio.secure


def test_rewrites_the_anchored_stream_and_disables_the_others() -> None:
    out = rewrite_sdp(OFFER, 0, address="192.0.2.1", rtp_port=20000, rtcp_port=20001)
    assert lines(out) == [
        b"v=0",
        b"o=- 4711 1 IN IP4 10.0.0.5",  # the origin is kept byte for byte
        b"s=call",
        b"c=IN IP4 192.0.2.1",
        b"t=0 0",
        b"m=audio 20000 RTP/AVP 0 8 101",
        b"a=rtpmap:0 PCMU/8000",
        b"a=rtpmap:8 PCMA/8000",
        b"a=rtpmap:101 telephone-event/8000",
        b"a=fmtp:101 0-15",
        b"a=rtcp:20001",
        b"a=sendonly",  # the direction is the peers' business
        b"m=video 0 RTP/AVP 96",  # cannot flow with the session address on the relay
        b"a=rtpmap:96 H264/90000",
        b"",
    ]
    again = parse_sdp(out)
    assert again.media[0].port == 20000
    assert again.media[0].ip == "192.0.2.1"
    assert not again.media[1].active


def test_media_level_connection_and_rtcp_address_ipv6() -> None:
    body = (
        b"v=0\n"
        b"o=- 1 1 IN IP6 2001:db8::5\n"
        b"s=-\n"
        b"t=0 0\n"
        b"m=audio 4000 RTP/SAVP 0\n"
        b"c=IN IP6 2001:db8::5\n"
        b"a=rtcp:4005 IN IP6 2001:db8::6\n"
        b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\n"
    )
    sdp = parse_sdp(body)
    (audio,) = sdp.media
    assert sdp.address is None
    assert audio.ip == "2001:db8::5"
    assert audio.secure
    assert (audio.rtcp_port, audio.rtcp_address) == (4005, "2001:db8::6")
    out = rewrite_sdp(body, 0, address="2001:db8::1", rtp_port=30000, rtcp_port=30001)
    assert out.split(b"\n") == [
        b"v=0",
        b"o=- 1 1 IN IP6 2001:db8::5",
        b"s=-",
        b"t=0 0",
        b"m=audio 30000 RTP/SAVP 0",
        b"c=IN IP6 2001:db8::1",
        b"a=rtcp:30001 IN IP6 2001:db8::1",
        b"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz",
        b"",
    ]
    # An IPv4 relay for an IPv6 peer: the family follows the address written.
    v4 = rewrite_sdp(body, 0, address="192.0.2.9", rtp_port=30000, rtcp_port=30001)
    assert b"c=IN IP4 192.0.2.9\n" in v4
    assert b"a=rtcp:30001 IN IP4 192.0.2.9\n" in v4


def test_hold_keeps_its_unspecified_address_and_a_rejected_stream_stays_rejected() -> None:
    hold = b"v=0\r\no=- 1 2 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
    hold += b"m=audio 49170 RTP/AVP 0\r\na=inactive\r\n"
    sdp = parse_sdp(hold)
    assert sdp.media[0].ip is None
    assert sdp.media[0].direction == "inactive"
    out = rewrite_sdp(hold, 0, address="192.0.2.1", rtp_port=20000, rtcp_port=20001)
    assert b"c=IN IP4 0.0.0.0\r\n" in out
    assert b"m=audio 20000 RTP/AVP 0\r\n" in out

    rejected = b"v=0\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n"
    assert parse_sdp(rejected).anchor_index() is None
    out = rewrite_sdp(rejected, 0, address="192.0.2.1", rtp_port=20000, rtcp_port=20001)
    assert b"m=audio 0 RTP/AVP 0\r\n" in out


def test_the_anchored_stream_is_the_first_active_audio_over_rtp() -> None:
    body = (
        b"v=0\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n"
        b"m=image 5000 udptl t38\r\n"
        b"m=audio 0 RTP/AVP 0\r\n"
        b"m=audio 6000/2 RTP/AVP 0\r\n"
    )
    sdp = parse_sdp(body)
    assert sdp.anchor_index() == 2
    out = rewrite_sdp(body, 2, address="192.0.2.1", rtp_port=20000, rtcp_port=20001)
    assert lines(out)[4:7] == [
        b"m=image 0 udptl t38",
        b"m=audio 0 RTP/AVP 0",
        b"m=audio 20000 RTP/AVP 0",  # the port count goes: the relay gives one pair
    ]
    assert parse_sdp(b"v=0\r\ns=-\r\nt=0 0\r\n").anchor_index() is None


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "start with v=0"),
        (b"o=- 1 1 IN IP4 1.2.3.4\r\n", "start with v=0"),
        (b"v=0\r\nnonsense\r\n", "not <type>=<value>"),
        (b"v=0\r\nc=IN IP4\r\n", "c= line"),
        (b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio x RTP/AVP 0\r\n", "m= line"),
        (b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 70000 RTP/AVP 0\r\n", "port out of range"),
        (b"v=0\r\nm=audio 4000 RTP/AVP 0\r\n", "no c= line"),
        (b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\na=rtcp:x\r\n", "RFC 3605"),
        (b"v=0\r\nc=IN IP4 \xff\r\n", "non-ASCII"),
        (b"v=0\r\n" + b"a=x\r\n" * MAX_LINES, "lines"),
        (b"v=0\r\nc=IN IP4 1.2.3.4\r\n" + b"m=audio 0 RTP/AVP 0\r\n" * 17, "streams"),
        (b"v=0\r\n" + b"i=" + b"x" * MAX_SDP_SIZE, "larger than"),
    ],
)
def test_malformed_bodies_are_refused_with_a_reason(body: bytes, why: str) -> None:
    assert MAX_STREAMS == 16
    with pytest.raises(SdpError, match=why):
        parse_sdp(body)


def test_a_rejecting_answer_declines_every_offered_stream_in_place() -> None:
    # RFC 3264 §6: one m= line per offered stream, in order, port 0 (RFC 3261 §13.2.2.4: the
    # answer owed in an ACK when the other party gave none).
    answer = rejecting_answer(OFFER, "192.0.2.1")
    assert lines(answer) == [
        b"v=0",
        b"o=- 0 0 IN IP4 192.0.2.1",
        b"s=-",
        b"c=IN IP4 192.0.2.1",
        b"t=0 0",
        b"m=audio 0 RTP/AVP 0",
        b"m=video 0 RTP/AVP 96",
        b"",
    ]
    parsed = parse_sdp(answer)
    assert [(m.media, m.port) for m in parsed.media] == [("audio", 0), ("video", 0)]
    assert parsed.anchor_index() is None
    assert b"IN IP6 2001:db8::1" in rejecting_answer(OFFER, "2001:db8::1")
    with pytest.raises(SdpError):
        rejecting_answer(b"not sdp", "192.0.2.1")


def test_an_index_without_a_stream_is_refused() -> None:
    with pytest.raises(SdpError):
        rewrite_sdp(OFFER, 5, address="192.0.2.1", rtp_port=1, rtcp_port=2)


# -- properties -------------------------------------------------------------------------------

_addresses = st.one_of(
    st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str), st.just("host.example")
)
_ports = st.integers(min_value=0, max_value=65535)
_ends = st.sampled_from([b"\r\n", b"\n"])
_text = st.text(string.ascii_letters + string.digits + " -_/:.;", max_size=30)


@st.composite
def sdps(draw: st.DrawFn) -> bytes:
    end = draw(_ends)
    out = [b"v=0", b"o=- %d 1 IN IP4 10.0.0.1" % draw(st.integers(0, 10**9)), b"s=-"]
    session_c = draw(st.booleans())
    if session_c:
        out.append(b"c=IN IP4 " + draw(_addresses).encode())
    out.append(b"t=0 0")
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from([b"audio", b"video", b"image"]))
        out.append(b"m=%s %d RTP/AVP 0 8" % (kind, draw(_ports)))
        if not session_c or draw(st.booleans()):
            address = draw(_addresses)
            family = b"IP6" if ":" in address else b"IP4"
            out.append(b"c=IN " + family + b" " + address.encode())
        if draw(st.booleans()):
            out.append(b"a=rtcp:%d" % draw(_ports))
        for _ in range(draw(st.integers(0, 3))):
            out.append(b"a=" + draw(_text).encode())
    return end.join(out) + end


@given(sdps(), st.ip_addresses().map(str), _ports, _ports)
@settings(max_examples=300)
def test_rewriting_changes_only_addresses_ports_and_rtcp(
    body: bytes, address: str, rtp_port: int, rtcp_port: int
) -> None:
    sdp = parse_sdp(body)
    for index in range(len(sdp.media)):
        out = rewrite_sdp(body, index, address=address, rtp_port=rtp_port, rtcp_port=rtcp_port)
        before, after = body.splitlines(keepends=True), out.splitlines(keepends=True)
        assert len(before) == len(after)
        for old, new in zip(before, after, strict=True):
            if old != new:
                assert old[:2] in (b"c=", b"m=", b"a=")
                assert old[-1:] == new[-1:]
                assert old[:2] != b"a=" or old.startswith(b"a=rtcp:")
        again = parse_sdp(out)
        target = again.media[index]
        if sdp.media[index].active:
            assert target.port == rtp_port
            held = sdp.media[index].address in ("0.0.0.0", "::")
            relay = None if address in ("0.0.0.0", "::") else address
            assert target.ip == (None if held else relay)
            if sdp.media[index].rtcp_port is not None:
                assert target.rtcp_port == rtcp_port
        assert [m.active for i, m in enumerate(again.media) if i != index] == [False] * (
            len(sdp.media) - 1
        )
        assert rewrite_sdp(out, index, address=address, rtp_port=rtp_port, rtcp_port=rtcp_port) == (
            out
        )


@given(st.binary(max_size=600))
@settings(max_examples=500)
def test_any_bytes_parse_or_raise_sdp_error(data: bytes) -> None:
    with contextlib.suppress(SdpError):
        parse_sdp(data)


@given(sdps(), st.data())
@settings(max_examples=300)
def test_mutated_sdps_parse_or_raise_sdp_error(body: bytes, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(body)))
    insert = data.draw(st.binary(max_size=8))
    cut = data.draw(st.integers(0, 8))
    mutated = body[:position] + insert + body[position + cut :]
    try:
        sdp = parse_sdp(mutated)
    except SdpError:
        return
    for index in range(len(sdp.media)):
        rewrite_sdp(mutated, index, address="192.0.2.1", rtp_port=1, rtcp_port=2)
