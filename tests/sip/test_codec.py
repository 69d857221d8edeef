"""Unit tests of the SIP codec: header forms, URIs, framing, limits, mutation, responses."""

from __future__ import annotations

import pytest

from services.sip_core.sip import (
    COMPACT_FORMS,
    AbsoluteURI,
    Auth,
    CSeq,
    FramingError,
    Headers,
    InvalidValue,
    Limits,
    MessageTooLarge,
    NameAddr,
    Params,
    ParseError,
    Request,
    Response,
    SIPError,
    SipURI,
    StreamFramer,
    TelURI,
    VersionNotSupported,
    Via,
    apply_received,
    canonical_name,
    error_response,
    is_keepalive,
    make_response,
    parse_auth,
    parse_cseq,
    parse_datagram,
    parse_max_forwards,
    parse_name_addr,
    parse_params,
    parse_uri,
    parse_via,
    quote,
    split_list,
    unquote,
)

BASE_HEADERS = [
    ("Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport"),
    ("Max-Forwards", "70"),
    ("To", "<sip:+15551234567@carrier.example.com;user=phone>"),
    ("From", '"Alice" <sip:+15550001111@pbx.example.net;user=phone>;tag=1928301774'),
    ("Call-ID", "a84b4c76e66710@pc33.example.net"),
    ("CSeq", "314159 INVITE"),
    ("Contact", "<sip:alice@192.0.2.10:5060>"),
]


def wire(
    start: str = "INVITE sip:+15551234567@carrier.example.com;user=phone SIP/2.0",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    content_length: bool = True,
) -> bytes:
    """A request (or response) on the wire, from its start-line and header lines."""
    lines = [start] + [f"{name}: {value}" for name, value in headers or BASE_HEADERS]
    if content_length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def replaced(name: str, value: str | None) -> list[tuple[str, str]]:
    """BASE_HEADERS with every ``name`` line replaced by ``value`` (or removed if None)."""
    out = [(n, v) for n, v in BASE_HEADERS if n != name]
    if value is not None:
        out.append((name, value))
    return out


def parse_request(data: bytes) -> Request:
    message = parse_datagram(data)
    assert isinstance(message, Request)
    return message


def reject(data: bytes, status: int = 400) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse_datagram(data)
    assert info.value.status_code == status
    return info.value


# -- header names -------------------------------------------------------------------------


@pytest.mark.parametrize(("compact", "full"), sorted(COMPACT_FORMS.items()))
def test_compact_forms_map_to_full_names(compact: str, full: str) -> None:
    assert canonical_name(compact) == full
    assert canonical_name(compact.upper()) == full
    headers = Headers([(compact, "x")])
    assert headers.get(full) == "x"
    assert headers.get(full.upper()) == "x"
    assert list(headers) == [(full, "x")]


def test_all_compact_forms_from_the_brief_are_known() -> None:
    assert set(COMPACT_FORMS) == set("imelcfsktvourxybadj")


def test_compact_forms_in_a_message() -> None:
    data = wire(
        headers=[
            ("v", "SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKa"),
            ("t", "<sip:b@example.com>"),
            ("f", "<sip:a@example.com>;tag=1"),
            ("i", "abc@host"),
            ("CSeq", "1 INVITE"),
            ("m", "<sip:a@192.0.2.10>"),
            ("k", "timer, replaces"),
            ("c", "application/sdp"),
        ],
        body=b"v=0\r\n",
        content_length=False,
    ).replace(b"\r\n\r\n", b"\r\nl: 5\r\n\r\n", 1)
    m = parse_request(data)
    assert m.call_id == "abc@host"
    assert m.to.uri_text == "sip:b@example.com"
    assert m.headers.values("Supported") == ["timer", "replaces"]
    assert m.content_type == "application/sdp"
    assert m.body == b"v=0\r\n"
    out = bytes(m)
    assert b"\r\nCall-ID: abc@host\r\n" in out
    assert b"\r\nContent-Length: 5\r\n" in out
    assert b"\r\nl:" not in out


def test_header_names_are_case_insensitive_and_unknown_ones_keep_their_case() -> None:
    data = wire(headers=[*BASE_HEADERS, ("X-Carrier-ID", "42"), ("cAlL-iD", "ignored")])
    with pytest.raises(ParseError, match="Multiple Call-ID"):
        parse_datagram(data)
    m = parse_request(wire(headers=[*BASE_HEADERS, ("X-Carrier-ID", "42")]))
    assert m.headers.get("x-carrier-id") == "42"
    assert ("X-Carrier-ID", "42") in list(m.headers)


def test_space_before_colon_and_folding() -> None:
    data = (
        b"OPTIONS sip:a@example.com SIP/2.0\r\n"
        b"Via  :\tSIP/2.0/UDP\r\n"
        b"\t192.0.2.1\r\n"
        b"   ;branch=z9hG4bKx\r\n"
        b"To : <sip:a@example.com>\r\n"
        b"From: <sip:b@example.com>\r\n"
        b" ;tag=9\r\n"
        b"Call-ID: f1\r\n"
        b"CSeq: 1\r\n"
        b"  OPTIONS\r\n"
        b"X-Long: one\r\n two\r\n\tthree\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    m = parse_request(data)
    assert m.top_via.host == "192.0.2.1"
    assert m.top_via.branch == "z9hG4bKx"
    assert m.from_.tag == "9"
    assert m.cseq == CSeq(1, "OPTIONS")
    assert m.headers.get("X-Long") == "one two three"


def test_header_section_errors() -> None:
    start = b"OPTIONS sip:a@example.com SIP/2.0\r\n"
    reject(start + b" folded: first\r\nCall-ID: x\r\n\r\n")
    reject(start + b"No colon here\r\n\r\n")
    reject(start + b"Bad Name: x\r\n\r\n")
    reject(start + b"Via: SIP/2.0/UDP h\nX: y\r\n\r\n")  # bare LF
    reject(start + b"Via: SIP/2.0/UDP h\rX: y\r\n\r\n")  # bare CR
    reject(b"")
    reject(b"\r\n\r\n")
    reject(start + b"Via: SIP/2.0/UDP h\r\n")  # no empty line


# -- lists, quoting, parameters -------------------------------------------------------------


def test_split_list_respects_quotes_and_brackets() -> None:
    value = '"Doe, John" <sip:j@a.com;x=1,2>, <sip:k@b.com>;q=0.5 ,sip:l@c.com'
    assert split_list(value) == [
        '"Doe, John" <sip:j@a.com;x=1,2>',
        "<sip:k@b.com>;q=0.5",
        "sip:l@c.com",
    ]
    assert split_list('"a\\", b", c') == ['"a\\", b"', "c"]
    assert split_list("a,,b") == ["a", "", "b"]
    with pytest.raises(ParseError):
        split_list('"open, b')
    with pytest.raises(ParseError):
        split_list("<sip:x, y")


def test_values_joins_lines_and_drops_empty_elements() -> None:
    headers = Headers([("Allow", "INVITE, ACK"), ("Allow", "BYE,,CANCEL"), ("allow", " ")])
    assert headers.values("Allow") == ["INVITE", "ACK", "BYE", "CANCEL"]
    assert headers.count("ALLOW") == 3


def test_quote_and_unquote() -> None:
    for text in ["plain", 'with "quotes"', "back\\slash", "tab\there", "nul\x00bel\x07", "é"]:
        quoted = quote(text)
        assert unquote(quoted) == text
        assert parse_name_addr(f"{quoted} <sip:a@b.c>").display_name == text
    assert quote('a"b') == '"a\\"b"'
    assert unquote("token") == "token"
    with pytest.raises(InvalidValue):
        quote("line\r\nbreak")


def test_params() -> None:
    params = parse_params(' lr ; transport = TCP;maddr=[2001:db8::1];x="a;b"')
    assert list(params) == [
        ("lr", None),
        ("transport", "TCP"),
        ("maddr", "[2001:db8::1]"),
        ("x", '"a;b"'),
    ]
    assert params.get("TRANSPORT") == "TCP"
    assert "LR" in params
    assert params.get("missing") is None
    assert str(params) == ';lr;transport=TCP;maddr=[2001:db8::1];x="a;b"'
    assert params.with_param("Transport", "UDP").get("transport") == "UDP"
    assert list(params.with_param("new", "1"))[-1] == ("new", "1")
    assert "lr" not in params.without("LR")
    for bad in ["", ";", "a;;b", "a=", "a=b c", "a=<x>", 'a="open']:
        with pytest.raises(ParseError):
            parse_params(bad)


# -- URIs -----------------------------------------------------------------------------------


def test_sip_uri_components() -> None:
    uri = parse_uri("sips:alice:secret@[2001:db8::1]:5061;transport=TCP;lr?Subject=hi%20there&X=1")
    assert uri == SipURI(
        "[2001:db8::1]",
        "alice",
        scheme="sips",
        password="secret",
        port=5061,
        params=Params([("transport", "TCP"), ("lr", None)]),
        headers=(("Subject", "hi there"), ("X", "1")),
    )
    assert isinstance(uri, SipURI)
    assert uri.transport == "tcp"
    assert uri.lr
    assert (
        str(uri) == "sips:alice:secret@[2001:db8::1]:5061;transport=TCP;lr?Subject=hi%20there&X=1"
    )


def test_sip_uri_scheme_is_case_insensitive_and_host_only_uris_parse() -> None:
    uri = parse_uri("SIP:example.com")
    assert uri == SipURI("example.com")
    assert str(uri) == "sip:example.com"


@pytest.mark.parametrize(
    "text",
    [
        "sip:",
        "sip:@example.com",
        "sip:user@",
        "sip:user@exa mple.com",
        "sip:user@example.com:99999",
        "sip:user@example.com:",
        "sip:user@example.com;;lr",
        "sip:user@example.com;a=",
        "sip:user@example.com?novalue",
        "sip:a@b<c",
        "nocolon",
        ":nothing",
        "1abc:x",
        "http:",
        "tel:",
        "tel:12 34",
    ],
)
def test_malformed_uris(text: str) -> None:
    with pytest.raises(ParseError):
        parse_uri(text)


def test_escaping_round_trip() -> None:
    uri = SipURI("example.com", "user name@x;y", params=Params([("p", "a b%")]))
    text = str(uri)
    assert text == "sip:user%20name%40x;y@example.com;p=a%20b%25"
    assert parse_uri(text) == uri
    # Percent-escapes that are not %HH are taken literally (liberal).
    assert parse_uri("sip:100%zz@example.com") == SipURI("example.com", "100%zz")


def test_tel_and_other_schemes() -> None:
    tel = parse_uri("tel:+1-201-555-0123;phone-context=example.com")
    assert isinstance(tel, TelURI)
    assert tel.is_global
    assert tel.digits == "+12015550123"
    assert tel.params.get("phone-context") == "example.com"
    assert str(tel) == "tel:+1-201-555-0123;phone-context=example.com"
    assert parse_uri("urn:service:sos") == AbsoluteURI("urn", "service:sos")


# -- Via --------------------------------------------------------------------------------------


def test_via_forms() -> None:
    via = parse_via(
        "SIP / 2.0 / udp  [2001:db8::9] : 5070 ; branch = z9hG4bKabc ;rport;received=10.0.0.1"
    )
    assert (via.protocol, via.transport, via.host, via.port) == (
        "SIP/2.0",
        "UDP",
        "[2001:db8::9]",
        5070,
    )
    assert via.branch == "z9hG4bKabc"
    assert via.has_rport
    assert via.rport is None
    assert via.received == "10.0.0.1"
    assert via.sent_by == "[2001:db8::9]:5070"
    assert str(via) == "SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bKabc;rport;received=10.0.0.1"
    assert parse_via(str(via)) == via
    assert via.is_rfc3261_branch
    assert not parse_via("SIP/2.0/UDP h;branch=1234").is_rfc3261_branch
    assert not parse_via("SIP/2.0/UDP h").is_rfc3261_branch


@pytest.mark.parametrize(
    "text",
    [
        "SIP/2.0/UDP",
        "SIP/2.0 UDP host",
        "SIP/2.0/UDPhost",
        "SIP/2.0/UDP host:70000",
        "SIP/2.0/UDP host;",
        "SIP/2.0/UDP a b",
    ],
)
def test_malformed_via(text: str) -> None:
    with pytest.raises(ParseError):
        parse_via(text)


def test_via_response_target() -> None:
    assert parse_via("SIP/2.0/UDP pc.example.com").response_target() == ("pc.example.com", 5060)
    assert parse_via("SIP/2.0/TLS pc.example.com").response_target() == ("pc.example.com", 5061)
    assert parse_via("SIP/2.0/UDP 10.0.0.1:5070;received=203.0.113.9").response_target() == (
        "203.0.113.9",
        5070,
    )
    nat = parse_via("SIP/2.0/UDP 10.0.0.1:5070;rport=40123;received=203.0.113.9")
    assert nat.response_target() == ("203.0.113.9", 40123)
    assert parse_via("SIP/2.0/UDP h:5080;maddr=239.1.1.1").response_target() == ("239.1.1.1", 5080)
    assert parse_via("SIP/2.0/UDP [2001:db8::1]").response_target() == ("2001:db8::1", 5060)


def test_multiple_via_values_in_lines_and_commas() -> None:
    headers = replaced("Via", None)
    data = wire(
        headers=[
            ("Via", "SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com"),
            ("v", "SIP/2.0/UDP c.example.com;branch=z9hG4bK3"),
            *headers,
        ]
    )
    m = parse_request(data)
    assert [via.host for via in m.via] == ["a.example.com", "b.example.com", "c.example.com"]
    assert [via.branch for via in m.via] == ["z9hG4bK1", None, "z9hG4bK3"]
    reject(wire(headers=[("Via", "SIP/2.0/UDP a.example.com,"), *headers]))


# -- name-addr, CSeq, Max-Forwards, Auth -------------------------------------------------------


def test_name_addr_forms() -> None:
    na = parse_name_addr('"Bob \\"B\\"" <sip:bob@example.com;transport=tcp>;tag=a6c85cf;expires=60')
    assert na.display_name == 'Bob "B"'
    assert na.uri == SipURI("example.com", "bob", params=Params([("transport", "tcp")]))
    assert na.tag == "a6c85cf"
    assert na.params.get("expires") == "60"
    bare = parse_name_addr("sip:bob@example.com;tag=1")
    assert bare.display_name is None
    assert bare.tag == "1"
    assert bare.uri == SipURI("example.com", "bob")
    token_name = parse_name_addr("Bob Smith <sip:bob@example.com>")
    assert token_name.display_name == "Bob Smith"
    assert str(token_name) == '"Bob Smith" <sip:bob@example.com>'
    assert str(bare.with_tag("xyz")) == "<sip:bob@example.com>;tag=xyz"
    assert parse_name_addr('"" <sip:a@b.c>').display_name == ""
    assert NameAddr(SipURI("b.c", "a"), "A").uri_text == "sip:a@b.c"
    assert parse_name_addr(str(na)) == na


@pytest.mark.parametrize(
    "text",
    [
        "",
        '"unterminated <sip:a@b.c>',
        '"name" sip:a@b.c',
        "<sip:a@b.c",
        "<sip:a@b.c> junk",
        "<sip:a@b.c>;;tag=1",
        "sip:a@b.c?Route=x",
        'na"me <sip:a@b.c>',
        "< >",
    ],
)
def test_malformed_name_addr(text: str) -> None:
    with pytest.raises(ParseError):
        parse_name_addr(text)


def test_name_addr_uri_is_parsed_when_read() -> None:
    na = parse_name_addr("<sip:a@b.c:99999>")
    with pytest.raises(ParseError):
        _ = na.uri


def test_cseq_and_max_forwards_bounds() -> None:
    assert parse_cseq("4294967295 BYE") == CSeq(2**32 - 1, "BYE")
    assert parse_cseq(" 0009 \t INVITE ") == CSeq(9, "INVITE")
    for bad in [
        "4294967296 BYE",
        "-1 BYE",
        "1",
        "1 2 3",
        "x INVITE",
        "1 IN@VITE",
        "9" * 5000 + " A",
    ]:
        with pytest.raises(ParseError):
            parse_cseq(bad)
    assert parse_max_forwards("0068") == 68
    for bad in ["256", "-1", "", "1e3", "9" * 5000]:
        with pytest.raises(ParseError):
            parse_max_forwards(bad)


def test_digest_credentials() -> None:
    value = (
        'Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",'
        ' uri="sip:bob@biloxi.com", qop=auth, nc=00000001, cnonce="0a4f113b",'
        ' response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c", algorithm=MD5,'
        ' x="a\\"b,c"'
    )
    auth = parse_auth(value)
    assert auth.scheme == "Digest"
    assert auth.get("USERNAME") == "bob"
    assert auth.get("uri") == "sip:bob@biloxi.com"
    assert auth.get("qop") == "auth"
    assert auth.get("x") == 'a"b,c'
    assert auth.get("missing") is None
    assert str(auth) == value
    assert "6629fae4" not in repr(auth)
    built = Auth("Digest", (("realm", "tandem"), ("nonce", "abc"), ("algorithm", "MD5")))
    assert str(built) == 'Digest realm="tandem", nonce="abc", algorithm=MD5'
    for bad in ["", "Digest realm", "Digest realm=", "Digest realm=a b", 'Digest realm="x']:
        with pytest.raises(ParseError):
            parse_auth(bad)


def test_credentials_are_one_per_line_and_never_logged() -> None:
    m = parse_request(
        wire(
            headers=[
                *BASE_HEADERS,
                ("Proxy-Authorization", 'Digest username="a", realm="r1", response="secret1"'),
                ("Proxy-Authorization", 'Digest username="a", realm="r2", response="secret2"'),
            ]
        )
    )
    realms = [auth.get("realm") for auth in m.credentials("Proxy-Authorization")]
    assert realms == ["r1", "r2"]
    assert m.credentials() == ()
    assert "secret" not in repr(m.headers)


# -- start-lines ------------------------------------------------------------------------------


def test_response_status_line() -> None:
    data = wire(start="SIP/2.0 180 Ringing Loudly", headers=replaced("Max-Forwards", None))
    m = parse_datagram(data)
    assert isinstance(m, Response)
    assert (m.status_code, m.reason) == (180, "Ringing Loudly")
    m = parse_datagram(wire(start="SIP/2.0 183", headers=BASE_HEADERS))
    assert isinstance(m, Response)
    assert m.reason == ""
    for start in [
        "SIP/2.0 1800 x",
        "SIP/2.0 099 x",
        "SIP/2.0 700 x",
        "SIP/3.0 200 OK",
        "SIP/2.0 2OO OK",
    ]:
        err = reject(wire(start=start))
        assert err.partial is None


def test_request_line() -> None:
    assert parse_request(wire(start="INVITE sip:a@b.c sip/2.0")).method == "INVITE"
    err = reject(wire(start="INVITE sip:a@b.c SIP/2.1"), 505)
    assert isinstance(err, VersionNotSupported)
    reject(wire(start="INVITE sip:a@b.c HTTP/1.1"))
    reject(wire(start="INVITE sip:a@b.c"))
    reject(wire(start="INVITE\tsip:a@b.c\tSIP/2.0"))
    reject(wire(start="IN VITE sip:a@b.c SIP/2.0"))
    reject(wire(start="INVITE sip:a@b.c:99999 SIP/2.0"))


def test_methods_are_case_sensitive() -> None:
    # §7.1: methods are case-sensitive, so the CSeq method must match exactly.
    reject(wire(start="invite sip:a@b.c SIP/2.0"))


# -- datagram framing and limits ----------------------------------------------------------------


def test_datagram_content_length() -> None:
    body = b"v=0\r\n"
    truncated = parse_request(wire(body=body) + b"trailing junk")
    assert truncated.body == body
    assert truncated.content_length == 5
    no_length = parse_request(wire(body=body, content_length=False))
    assert no_length.body == body
    err = reject(wire(body=body)[:-1])
    assert isinstance(err, FramingError)
    assert err.partial is not None
    for bad in ["-1", "five", "1 2", "+5", "0x5", "5, 5", "99999999999"]:
        data = wire(headers=[*BASE_HEADERS, ("Content-Length", bad)], content_length=False)
        assert isinstance(reject(data), FramingError)


def test_leading_crlf_and_keepalives() -> None:
    assert parse_request(b"\r\n\r\n" + wire()).method == "INVITE"
    assert is_keepalive(b"\r\n\r\n")
    assert is_keepalive(b"\r\n")
    assert not is_keepalive(b"")
    assert not is_keepalive(wire())


def test_limits() -> None:
    small = Limits(max_message_size=600, max_line_length=120, max_header_count=10)
    data = wire()
    assert len(data) < 600
    parse_datagram(data, small)
    parse_datagram(wire(body=b"x" * 600))  # the default limits allow it
    with pytest.raises(MessageTooLarge) as info:
        parse_datagram(wire(body=b"x" * 600), small)
    assert info.value.status_code == 513
    assert info.value.partial is not None
    assert error_response(info.value) is not None
    with pytest.raises(MessageTooLarge):
        parse_datagram(wire(headers=[*BASE_HEADERS, ("X-Long", "y" * 200)]), small)
    with pytest.raises(MessageTooLarge):
        parse_datagram(wire(headers=BASE_HEADERS + [("X-N", "1")] * 5), small)
    with pytest.raises(MessageTooLarge):
        parse_datagram(wire(headers=[*BASE_HEADERS, ("X-Folded", "a" + "\r\n b" * 70)]), small)
    with pytest.raises(InvalidValue):
        Limits(max_message_size=0)


# -- the syntax check -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (replaced("Call-ID", None), "Missing Call-ID header"),
        (replaced("CSeq", None), "Missing CSeq header"),
        (replaced("From", None), "Missing From header"),
        (replaced("To", None), "Missing To header"),
        (replaced("Via", None), "Missing Via header"),
        ([*BASE_HEADERS, ("To", "<sip:x@y.z>")], "Multiple To headers"),
        ([*BASE_HEADERS, ("Max-Forwards", "70")], "Multiple Max-Forwards headers"),
        (replaced("Max-Forwards", "256"), "Malformed Max-Forwards header"),
        (replaced("CSeq", "1 BYE"), "CSeq method does not match the Request-Line"),
        (replaced("CSeq", "4294967296 INVITE"), "Malformed CSeq header"),
        (replaced("Call-ID", "has space"), "Malformed Call-ID header"),
        (replaced("Call-ID", "a@b@c"), "Malformed Call-ID header"),
        (replaced("From", "<sip:a@b.c"), "Malformed From header"),
        (replaced("Via", "SIP/2.0/UDP"), "Malformed Via header"),
    ],
)
def test_syntax_check(headers: list[tuple[str, str]], reason: str) -> None:
    err = reject(wire(headers=headers))
    assert err.reason == reason


def test_errors_are_answered_only_when_they_can_be() -> None:
    # A request with a Via gets its 400; an ACK never does (§17.2.1); nor does a response.
    err = reject(wire(headers=replaced("Call-ID", None)))
    reply = error_response(err, to_tag="t")
    assert reply is not None
    assert reply.to.tag == "t"
    ack = wire(start="ACK sip:a@b.c SIP/2.0", headers=replaced("CSeq", "314159 ACK"))
    assert parse_request(ack).method == "ACK"
    ack_err = reject(ack.replace(b"Call-ID", b"Call-Id: x\r\nCall-ID"))
    assert error_response(ack_err) is None
    assert error_response(reject(b"INVITE sip:a@b.c SIP/2.0\r\nTo: <sip:a@b.c>\r\n\r\n")) is None


def test_salvage_after_a_broken_header_line() -> None:
    data = wire(headers=[*BASE_HEADERS[:3], ("Bad Header", "x"), *BASE_HEADERS[3:]])
    err = reject(data)
    assert err.reason == "Malformed header field"
    reply = error_response(err, to_tag="t")
    assert reply is not None
    assert reply.call_id == "a84b4c76e66710@pc33.example.net"
    assert reply.cseq == CSeq(314159, "INVITE")
    again = parse_datagram(bytes(reply))
    assert isinstance(again, Response)
    assert again.status_code == 400


# -- stream framing ---------------------------------------------------------------------------


def test_stream_framer_messages_chunks_and_pings() -> None:
    one = wire(body=b"v=0\r\n")
    two = wire(start="SIP/2.0 200 OK", body=b"")
    stream = b"\r\n\r\n" + one + b"\r\n" + two + b"\r\n\r\n\r\n\r\n"
    framer = StreamFramer()
    got: list[Request | Response] = []
    for index in range(0, len(stream), 7):
        framer.feed(stream[index : index + 7])
        while (message := framer.next_message()) is not None:
            got.append(message)
    assert [type(m) for m in got] == [Request, Response]
    assert got[0].body == b"v=0\r\n"
    assert framer.take_pings() == 3
    assert framer.take_pings() == 0
    assert framer.buffered == 0


def test_stream_framer_keeps_going_after_a_rejected_message() -> None:
    bad = wire(headers=replaced("CSeq", "1 BYE"))
    good = wire()
    framer = StreamFramer()
    framer.feed(bad + good)
    with pytest.raises(ParseError) as info:
        framer.next_message()
    assert not isinstance(info.value, FramingError)
    assert info.value.partial is not None
    assert not framer.failed
    message = framer.next_message()
    assert isinstance(message, Request)
    assert message.cseq.method == "INVITE"


def test_stream_framer_failures_are_final() -> None:
    framer = StreamFramer()
    framer.feed(wire(content_length=False))
    with pytest.raises(FramingError, match="Missing Content-Length") as info:
        framer.next_message()
    assert info.value.partial is not None
    assert framer.failed
    with pytest.raises(FramingError):
        framer.next_message()
    with pytest.raises(FramingError):
        framer.feed(b"more")

    small = StreamFramer(Limits(max_message_size=100))
    small.feed(b"INVITE " + b"x" * 200)
    with pytest.raises(MessageTooLarge):
        small.next_message()

    big_head = StreamFramer(Limits(max_message_size=100))
    big_head.feed(wire())
    with pytest.raises(MessageTooLarge) as too_large:
        big_head.next_message()
    assert too_large.value.partial is not None

    big_body = StreamFramer(Limits(max_message_size=600))
    big_body.feed(wire(headers=[*BASE_HEADERS, ("Content-Length", "100000")], content_length=False))
    with pytest.raises(MessageTooLarge):
        big_body.next_message()

    garbled = StreamFramer()
    garbled.feed(b"INVITE sip:a@b.c SIP/2.0\r\nno colon\r\nContent-Length: 0\r\n\r\n")
    with pytest.raises(FramingError):
        garbled.next_message()


# -- building and changing messages --------------------------------------------------------------


def test_build_a_request_from_scratch() -> None:
    request = Request(
        "INVITE",
        SipURI("carrier.example.com", "+15551234567", params=Params([("user", "phone")])),
        [
            ("Via", str(Via("UDP", "10.0.0.1", 5060, Params([("branch", "z9hG4bKnew")])))),
            ("Max-Forwards", "70"),
            (
                "From",
                str(
                    NameAddr(
                        SipURI("tandem.example.com", "cli"), "Caller, A", Params([("tag", "a1")])
                    )
                ),
            ),
            ("To", str(NameAddr(SipURI("carrier.example.com", "+15551234567")))),
            ("Call-ID", "leg-b-1"),
            ("CSeq", str(CSeq(1, "INVITE"))),
        ],
        b"v=0\r\n",
    )
    data = bytes(request)
    assert data.startswith(b"INVITE sip:+15551234567@carrier.example.com;user=phone SIP/2.0\r\n")
    assert data.endswith(b"Content-Length: 5\r\n\r\nv=0\r\n")
    again = parse_request(data)
    assert again.from_.display_name == "Caller, A"
    assert again.top_via.branch == "z9hG4bKnew"
    assert again.request_uri == request.request_uri


def test_values_that_would_break_the_wire_are_refused() -> None:
    request = parse_request(wire())
    with pytest.raises(InvalidValue):
        request.headers.add("X-Evil", "a\r\nVia: injected")
    with pytest.raises(InvalidValue):
        request.headers.set("Bad Name", "x")
    with pytest.raises(InvalidValue):
        request.headers.add("X-Surrogate", "\ud800")
    with pytest.raises(InvalidValue):
        request.method = "IN VITE"
    with pytest.raises(InvalidValue):
        request.uri = "sip:a@b.c SIP/2.0\r\n"
    response = make_response(request, 200)
    with pytest.raises(InvalidValue):
        response.status_code = 99
    with pytest.raises(InvalidValue):
        response.reason = "OK\r\n"
    with pytest.raises(InvalidValue):
        make_response(request, 200, to_tag="bad tag")
    assert isinstance(InvalidValue("x"), ValueError)
    assert isinstance(InvalidValue("x"), SIPError)


def test_header_mutations_invalidate_cached_values() -> None:
    m = parse_request(wire())
    assert m.top_via.host == "192.0.2.10"
    m.push_via(Via("UDP", "10.0.0.1", params=Params([("branch", "z9hG4bKb2b")])))
    assert [via.host for via in m.via] == ["10.0.0.1", "192.0.2.10"]
    assert m.pop_via().host == "10.0.0.1"
    assert [via.host for via in m.via] == ["192.0.2.10"]
    m.headers.set("From", "<sip:new@example.com>;tag=n")
    assert m.from_.tag == "n"
    m.headers.prepend("Route", "<sip:r1@example.com;lr>")
    m.headers.add("Route", "<sip:r2@example.com;lr>")
    assert [r.uri_text for r in m.route] == ["sip:r1@example.com;lr", "sip:r2@example.com;lr"]
    m.headers.remove_first("Route")
    assert len(m.route) == 1
    assert m.headers.remove("Route") == 1
    assert not m.route
    with pytest.raises(KeyError):
        m.headers.remove_first("Route")
    with pytest.raises(KeyError):
        m.headers.replace_first("Route", "x")


def test_pop_via_keeps_the_rest_of_a_comma_separated_line() -> None:
    headers = [
        ("Via", "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2"),
        *replaced("Via", None),
    ]
    m = parse_request(wire(headers=headers))
    assert m.pop_via().host == "a"
    assert m.headers.get_all("Via") == ["SIP/2.0/UDP b;branch=z9hG4bK2"]
    m.set_top_via(m.top_via.with_param("received", "192.0.2.1"))
    assert m.top_via.received == "192.0.2.1"


def test_body_and_content_length_on_output() -> None:
    m = parse_request(
        wire(headers=[*BASE_HEADERS, ("Content-Type", "application/sdp")], body=b"v=0\r\n")
    )
    m.body = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\n"
    out = bytes(m)
    assert out.count(b"Content-Length") == 1
    assert f"Content-Length: {len(m.body)}\r\n".encode() in out
    assert parse_request(out).body == m.body
    assert m.to_bytes() == out


def test_copy_is_independent() -> None:
    m = parse_request(wire())
    leg = m.copy()
    leg.headers.set("Call-ID", "other")
    leg.uri = "sip:elsewhere@example.com"
    assert m.call_id == "a84b4c76e66710@pc33.example.net"
    assert m.uri != leg.uri


# -- responses ------------------------------------------------------------------------------


def test_make_response_copies_what_8_2_6_says() -> None:
    headers = [
        ("Via", "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp"),
        *BASE_HEADERS,
        ("Record-Route", "<sip:proxy.example.com;lr>"),
        ("Timestamp", "54"),
        ("X-Other", "not copied"),
    ]
    request = parse_request(wire(headers=headers))
    ok = make_response(request, 200, to_tag="b2b1", headers=[("Contact", "<sip:sw@10.0.0.1>")])
    assert ok.reason == "OK"
    assert ok.headers.get_all("Via") == request.headers.get_all("Via")
    assert (ok.call_id, ok.cseq, ok.from_) == (request.call_id, request.cseq, request.from_)
    assert ok.to.tag == "b2b1"
    assert ok.headers.get_all("Record-Route") == ["<sip:proxy.example.com;lr>"]
    assert "Timestamp" not in ok.headers
    assert "X-Other" not in ok.headers
    assert ok.headers.get("Contact") == "<sip:sw@10.0.0.1>"
    trying = make_response(request, 100)
    assert trying.headers.get("Timestamp") == "54"
    assert trying.to.tag is None
    assert "Record-Route" not in trying.headers
    busy = make_response(request, 486, "Busy Here Now", to_tag="b2b1")
    assert busy.reason == "Busy Here Now"
    assert "Record-Route" not in busy.headers
    assert make_response(request, 499).reason == "Client Error"
    again = parse_datagram(bytes(ok))
    assert isinstance(again, Response)
    assert again.to.tag == "b2b1"


def test_make_response_keeps_an_existing_to_tag() -> None:
    request = parse_request(wire(headers=replaced("To", "<sip:b@example.com>;tag=existing")))
    assert make_response(request, 200, to_tag="new").to.tag == "existing"


# -- RFC 3581 -------------------------------------------------------------------------------


def test_apply_received_with_rport() -> None:
    request = parse_request(wire())
    apply_received(request, "203.0.113.7", 40111)
    via = request.top_via
    assert via.rport == 40111
    assert via.received == "203.0.113.7"
    assert via.response_target() == ("203.0.113.7", 40111)
    assert "rport=40111" in (request.headers.get("Via") or "")


def test_apply_received_without_rport() -> None:
    no_rport = replaced("Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1")
    same = parse_request(wire(headers=no_rport))
    before = same.headers.get("Via")
    apply_received(same, "192.0.2.10", 5060)
    assert same.headers.get("Via") == before  # sent-by is the source: nothing to add
    moved = parse_request(wire(headers=no_rport))
    apply_received(moved, "198.51.100.1", 5060)
    assert moved.top_via.received == "198.51.100.1"
    assert not moved.top_via.has_rport
    named = parse_request(
        wire(headers=replaced("Via", "SIP/2.0/UDP pc.example.com;branch=z9hG4bK1"))
    )
    apply_received(named, "198.51.100.1", 5060)
    assert named.top_via.received == "198.51.100.1"
    forced = parse_request(wire(headers=no_rport))
    apply_received(forced, "192.0.2.10", 33333, force_rport=True)
    assert (forced.top_via.received, forced.top_via.rport) == ("192.0.2.10", 33333)
    v6 = parse_request(wire(headers=replaced("Via", "SIP/2.0/UDP [2001:db8::1];branch=z9hG4bK1")))
    apply_received(v6, "2001:db8:0::1", 5060)
    assert v6.top_via.received is None
    apply_received(v6, "2001:db8::2", 5060)
    assert v6.top_via.received == "2001:db8::2"
    assert parse_datagram(bytes(v6)) is not None


# -- parsed values are kept, and stay right, across changes -------------------------------


def fresh(message: Request | Response) -> Request | Response:
    """``message`` parsed again from its bytes: what every cached value must equal."""
    return parse_datagram(bytes(message))


def test_a_header_change_drops_only_that_headers_parsed_value() -> None:
    m = parse_request(wire())
    from_, to, cseq = m.from_, m.to, m.cseq
    m.headers.replace_first("Via", "SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKnew")
    assert m.top_via.host == "10.0.0.9"
    assert (m.from_, m.to, m.cseq) == (from_, to, cseq)
    # Not parsed again:
    assert m.from_ is from_
    assert m.to is to
    assert m.cseq is cseq
    m.headers.set("To", "<sip:other@example.com>")
    assert m.to.uri_text == "sip:other@example.com"
    assert m.from_ is from_
    m.headers.set("call-id", "changed@example.com")
    assert m.call_id == "changed@example.com"
    m.headers.add("Authorization", 'Digest username="a", realm="r"')
    assert m.credentials()[0].get("username") == "a"
    m.headers.remove("Authorization")
    assert m.credentials() == ()


def test_apply_received_parses_nothing_twice_and_reads_back_right() -> None:
    headers = replaced("Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1;rport, SIP/2.0/TCP b")
    m = parse_request(wire(headers=headers))
    vias, from_, to = m.via, m.from_, m.to
    apply_received(m, "203.0.113.7", 40111)
    assert m.from_ is from_
    assert m.to is to
    assert m.via[1] is vias[1]
    again = fresh(m)
    assert m.via == again.via
    assert (m.top_via.received, m.top_via.rport) == ("203.0.113.7", 40111)
    same = parse_request(wire(headers=replaced("Via", "SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1")))
    top = same.top_via
    apply_received(same, "192.0.2.10", 5060)
    assert same.top_via is top  # nothing to record: the line is not even rewritten


@pytest.mark.parametrize(
    "to",
    [
        "<sip:+15551234567@carrier.example.com;user=phone>",
        "sip:bob@example.com",
        "sip:bob@example.com;x=1",
        '"Bob" <sip:bob@example.com>;x=1',
        "<sip:bob@example.com>;tag=theirs",
        "Bob <sip:bob@example.com> ; x = 1",
    ],
)
def test_make_response_values_are_those_of_its_bytes(to: str) -> None:
    request = parse_request(wire(headers=replaced("To", to)))
    for tag in (None, "b2b1"):
        for code in (100, 180, 200, 487):
            response = make_response(request, code, to_tag=tag, headers=[("Contact", "<sip:x>")])
            again = fresh(response)
            assert (response.via, response.from_, response.to, response.call_id, response.cseq) == (
                again.via, again.from_, again.to, again.call_id, again.cseq
            )  # fmt: skip
            assert response.to.tag == ("theirs" if "tag=" in to else tag)


def test_a_response_header_changed_after_make_response_reads_back_right() -> None:
    request = parse_request(wire())
    _ = request.to
    response = make_response(request, 200, to_tag="t1")
    response.headers.set("To", "<sip:changed@example.com>;tag=t2")
    assert response.to.tag == "t2"
    response.headers.set("CSeq", "7 INVITE")
    assert response.cseq.number == 7


def test_params_lookups_are_case_insensitive_and_take_the_first() -> None:
    params = Params([("TAG", "a"), ("tag", "b"), ("lr", None)])
    assert params.get("tag") == "a"
    assert params.get("Tag") == "a"
    assert "LR" in params
    assert "maddr" not in params
    assert parse_params("Branch=z9hG4bK1;RPORT").get("branch") == "z9hG4bK1"
