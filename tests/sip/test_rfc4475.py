"""RFC 4475 torture tests: each of the 49 messages handled as the corpus INDEX.md says.

Every file is read as bytes and checked against SHA256SUMS first. Valid messages must parse
and expose the right values; invalid ones must be rejected with the status INDEX.md names and,
for requests, leave enough (``ParseError.partial``) for the transport to send that answer;
responses are never answered. Semantic cases (RFC 4475 §3.2, §3.3) must parse and expose what
the application needs to react as the RFC says (416, 420, 415, 483…).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest

from services.sip_core.sip import (
    AbsoluteURI,
    CSeq,
    FramingError,
    ParseError,
    Request,
    Response,
    SIPError,
    SipURI,
    StreamFramer,
    VersionNotSupported,
    error_response,
    make_response,
    parse_datagram,
    parse_max_forwards,
    parse_name_addr_list,
    parse_uri,
    unquote,
)

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "rfc4475"

pytestmark = pytest.mark.skipif(
    not (CORPUS / "INDEX.md").is_file(),
    reason=f"RFC 4475 corpus not found at {CORPUS} (expected ../shared/conformance/rfc4475)",
)


@cache
def checksums() -> dict[str, str]:
    sums = {}
    for line in (CORPUS / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name] = digest
    return sums


def load(name: str) -> bytes:
    data = (CORPUS / name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == checksums()[name], f"{name} differs from SHA256SUMS"
    return data


def request(name: str) -> Request:
    message = parse_datagram(load(name))
    assert isinstance(message, Request)
    return message


def response(name: str) -> Response:
    message = parse_datagram(load(name))
    assert isinstance(message, Response)
    return message


def rejected(name: str, status: int = 400, error: type[ParseError] = ParseError) -> ParseError:
    with pytest.raises(error) as info:
        parse_datagram(load(name))
    assert info.value.status_code == status
    return info.value


def answered(err: ParseError, status: int = 400) -> Response:
    """The answer the transport sends: it must echo the request's Via lines and CSeq."""
    reply = error_response(err, to_tag="tandem1")
    assert reply is not None, "a malformed request must be answered"
    assert reply.status_code == status
    assert err.partial is not None
    assert reply.headers.get_all("Via") == err.partial.headers.get_all("Via")
    assert reply.headers.get("CSeq") == err.partial.headers.get("CSeq")
    wire = bytes(reply)
    assert wire.startswith(f"SIP/2.0 {status} ".encode())
    return reply


def never_answered(err: ParseError) -> None:
    assert err.partial is None
    assert error_response(err) is None


def stream_outcome(data: bytes) -> Request | Response | None:
    framer = StreamFramer()
    framer.feed(data)
    return framer.next_message()


CASES: dict[str, Callable[[], None]] = {}


def case(name: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    def register(check: Callable[[], None]) -> Callable[[], None]:
        CASES[name] = check
        return check

    return register


# -- 3.1.1 valid messages ---------------------------------------------------------------


@case("wsinv.dat")
def _wsinv() -> None:
    m = request("wsinv.dat")
    assert m.method == "INVITE"
    assert m.uri == "sip:vivekg@chair-dnrc.example.com;unknownparam"
    assert [(v.protocol, v.transport, v.host, v.branch) for v in m.via] == [
        ("SIP/2.0", "UDP", "192.0.2.2", "390skdjuw"),
        ("SIP/2.0", "TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("SIP/2.0", "UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert m.max_forwards == 68
    assert m.cseq == CSeq(9, "INVITE")
    assert m.call_id == "wsinv.ndaksdj@192.0.2.1"
    assert m.to.uri == SipURI("chair-dnrc.example.com", "vivekg")
    assert m.to.tag == "1918181833n"
    assert m.from_.display_name == 'J Rosenberg \\"'
    assert m.from_.uri == SipURI("example.com", "jdrosen")
    assert m.from_.tag == "98asjd8"
    assert m.headers.get("Subject") == ""
    assert m.headers.get("s") == ""
    assert m.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert m.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    (route,) = m.route
    assert route.uri == parse_uri("sip:services.example.com;lr;unknownwith=value;unknown-no-value")
    assert isinstance(route.uri, SipURI)
    assert route.uri.lr
    (contact,) = m.contact
    assert contact.display_name == 'Quoted string ""'
    assert list(contact.params) == [("newparam", "newvalue"), ("secondparam", None), ("q", "0.33")]
    assert m.content_type == "application/sdp"
    assert len(m.body) == 150
    assert m.body.startswith(b"v=0\r\n")
    # Forwarded, the unknown headers keep their names and values.
    again = parse_datagram(bytes(m))
    assert again.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert [name for name, _ in again.headers] == [
        "To",
        "From",
        "Max-Forwards",
        "Call-ID",
        "Content-Length",
        "CSeq",
        "Via",
        "Subject",
        "NewFangledHeader",
        "UnknownHeaderWithUnusualValue",
        "Content-Type",
        "Route",
        "Via",
        "Contact",
    ]


INTERESTING = "!interesting-Method0123456789_*+`.%indeed'~"


@case("intmeth.dat")
def _intmeth() -> None:
    m = request("intmeth.dat")
    assert m.method == INTERESTING
    assert m.cseq == CSeq(139122385, INTERESTING)
    uri = m.request_uri
    assert isinstance(uri, SipURI)
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert uri.host == "example.com"
    assert not uri.params
    # "%" is not an escape in a branch.
    assert m.top_via.branch == "z9hG4bK-.!%66*_+`'~"
    assert m.to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert isinstance(m.to.uri, SipURI)
    assert m.to.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert m.from_.display_name == "token1~` token2'+_ token3*%!.-"
    assert m.from_.tag == "_token~1'+`*%!-."
    assert unquote(m.from_.params.get("fromParam''~+*_!.-%") or "") == "работающий"
    assert m.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert m.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff大停電"
    assert m.max_forwards == 255
    # An endpoint answers 501 with Allow; the quoted-pairs survive the echo of To.
    reply = make_response(m, 501, to_tag="t1", headers=[("Allow", "INVITE, ACK, BYE")])
    again = parse_datagram(bytes(reply))
    assert isinstance(again, Response)
    assert again.to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert again.to.tag == "t1"
    assert again.cseq.method == INTERESTING


@case("esc01.dat")
def _esc01() -> None:
    m = request("esc01.dat")
    uri = m.request_uri
    assert isinstance(uri, SipURI)
    assert (uri.user, uri.host) == ("sips:user@example.com", "example.net")
    assert isinstance(m.to.uri, SipURI)
    assert m.to.uri.user == "user"
    assert isinstance(m.from_.uri, SipURI)
    assert m.from_.uri.user == "I have spaces"
    (contact,) = m.contact
    assert isinstance(contact.uri, SipURI)
    assert contact.uri.user == "caller"
    # Decoded once: value%41 stays value%41, it does not become valueA.
    assert list(contact.uri.params) == [("lr", None), ("name", "value%41")]
    assert str(contact.uri) == "sip:caller@host5.example.net;lr;name=value%2541"
    assert parse_uri(str(contact.uri)) == contact.uri
    assert m.call_id == "esc01.239409asdfakjkn23onasd0-3234"
    assert m.content_type == "application/sdp"


@case("escnull.dat")
def _escnull() -> None:
    m = request("escnull.dat")
    assert isinstance(m.to.uri, SipURI)
    assert m.to.uri.user == "null-\x00-null"
    assert isinstance(m.from_.uri, SipURI)
    assert m.from_.uri.user == "null-\x00-null"
    users = [c.uri.user for c in m.contact if isinstance(c.uri, SipURI)]
    assert users == ["\x00", "\x00\x00"]
    assert str(m.contact[1].uri) == "sip:%00%00@host5.example.com"


@case("esc02.dat")
def _esc02() -> None:
    m = request("esc02.dat")
    assert m.method == "RE%47IST%45R"
    assert m.method != "REGISTER"
    assert m.cseq.method == "RE%47IST%45R"
    assert m.to.display_name == "%Z%45"
    assert m.top_via.branch == "z9hG4bK209%fzsnel234"
    assert [c.uri_text for c in m.contact] == [
        "sip:alias1@host1.example.com",
        "sip:alias3@host3.example.com",
    ]
    assert m.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"


@case("lwsdisp.dat")
def _lwsdisp() -> None:
    m = request("lwsdisp.dat")
    assert m.from_.display_name == "caller"
    assert m.from_.uri == SipURI("example.com", "caller")
    assert m.from_.tag == "323"
    assert str(m.from_) == '"caller" <sip:caller@example.com>;tag=323'


@case("longreq.dat")
def _longreq() -> None:
    data = load("longreq.dat")
    assert len(data) == 3515
    m = request("longreq.dat")
    hosts = [via.host for via in m.via]
    assert hosts == [f"sip{n}.example.com" for n in range(33, 0, -1)] + ["host.example.com"]
    last = m.via[-1]
    assert last.received == "192.0.2.5"
    assert last.branch is not None
    assert last.branch == "verylong" + "long" * 49 + "branchvalue"
    assert m.to.display_name == ("I have a user name of " + "extreme" * 10 + " proportion")
    to_uri = m.to.uri
    assert isinstance(to_uri, SipURI)
    assert to_uri.port == 6000
    assert to_uri.params.get("longparam" + "name" * 25) == "shortvalue"
    assert to_uri.params.get("verylong" + "long" * 24 + "ParameterNameWithNoValue") is None
    assert "verylong" + "long" * 24 + "ParameterNameWithNoValue" in to_uri.params
    assert m.from_.tag == "1" + "298" * 50 + "2424"
    assert len(m.from_.params) == 3
    assert m.call_id == "longreq.one" + "really" * 20 + "longcallid"
    unknown = "Unknown-" + "Long" * 20 + "-Name"
    value = m.headers.get(unknown)
    assert value is not None
    assert value.startswith("unknown-" + "long" * 20 + "-value;")
    assert len(m.body) == 150


@case("dblreq.dat")
def _dblreq() -> None:
    data = load("dblreq.dat")
    m = request("dblreq.dat")
    assert m.method == "REGISTER"
    assert m.body == b""
    # The INVITE octets after Content-Length are noise over UDP: not processed, not forwarded.
    assert b"INVITE" in data
    assert b"INVITE" not in bytes(m)
    # Over a stream the same octets are two messages, REGISTER then INVITE.
    framer = StreamFramer()
    framer.feed(data)
    first, second = framer.next_message(), framer.next_message()
    assert isinstance(first, Request)
    assert first.method == "REGISTER"
    assert isinstance(second, Request)
    assert second.method == "INVITE"
    # The INVITE's SDP is one octet longer than its Content-Length: what is left cannot be
    # framed, and a stream that lost its framing is closed.
    assert framer.buffered == 5
    with pytest.raises(FramingError):
        framer.next_message()


@case("semiuri.dat")
def _semiuri() -> None:
    m = request("semiuri.dat")
    uri = m.request_uri
    assert isinstance(uri, SipURI)
    assert uri.user == "user;par=u@example.net"
    assert uri.host == "example.com"
    assert not uri.params
    assert m.headers.values("Accept") == [
        "application/sdp",
        "application/pkcs7-mime",
        "multipart/mixed",
        "multipart/signed",
        "message/sip",
        "message/sipfrag",
    ]


@case("transports.dat")
def _transports() -> None:
    m = request("transports.dat")
    assert [via.transport for via in m.via] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]
    assert m.call_id == "transports.kijh4akdnaqjkwendsasfdj"


@case("mpart01.dat")
def _mpart01() -> None:
    data = load("mpart01.dat")
    m = request("mpart01.dat")
    assert len(m.body) == 553
    assert m.body == data[-553:]
    assert b"\x00" in m.body
    assert m.content_type == "multipart/mixed;boundary=7a9cbec02ceef655"
    assert m.top_via.has_rport
    assert m.top_via.rport is None
    assert (m.top_via.host, m.top_via.port) == ("127.0.0.1", 5070)
    # Over a stream, framed by Content-Length alone even when fed one octet at a time.
    framer = StreamFramer()
    out = []
    for index in range(len(data)):
        framer.feed(data[index : index + 1])
        message = framer.next_message()
        if message is not None:
            out.append(message)
    assert len(out) == 1
    assert out[0].body == m.body


@case("unreason.dat")
def _unreason() -> None:
    m = response("unreason.dat")
    assert m.status_code == 200
    assert m.reason == "= 2**3 * 5**2 но сто девяносто девять - простое"
    assert len(m.body) == 154
    assert bytes(m).split(b"\r\n", 1)[0] == load("unreason.dat").split(b"\r\n", 1)[0]


@case("noreason.dat")
def _noreason() -> None:
    m = response("noreason.dat")
    assert m.status_code == 100
    assert m.reason == ""
    assert m.to.tag == "902jndnke3"


# -- 3.1.2 invalid messages ---------------------------------------------------------------


@case("badinv01.dat")
def _badinv01() -> None:
    err = rejected("badinv01.dat")
    assert err.reason == "Malformed Via header"
    answered(err)
    # Its Contact (";;;;") is just as malformed.
    with pytest.raises(ParseError):
        parse_name_addr_list(['"Joe" <sip:joe@example.org>;;;;'])


@case("clerr.dat")
def _clerr() -> None:
    err = rejected("clerr.dat", error=FramingError)
    answered(err)
    # Over TCP: wait for the rest (the transport's idle timer closes the connection).
    framer = StreamFramer()
    framer.feed(load("clerr.dat"))
    assert framer.next_message() is None
    assert not framer.failed
    assert framer.buffered == len(load("clerr.dat"))


@case("ncl.dat")
def _ncl() -> None:
    err = rejected("ncl.dat", error=FramingError)
    assert err.reason == "Malformed Content-Length"
    answered(err)
    framer = StreamFramer()
    framer.feed(load("ncl.dat"))
    with pytest.raises(FramingError) as info:
        framer.next_message()
    assert info.value.partial is not None
    assert framer.failed


@case("scalar02.dat")
def _scalar02() -> None:
    err = rejected("scalar02.dat")
    assert err.reason == "Malformed CSeq header"
    answered(err)
    # Max-Forwards 300 is out of range too; the huge Expires is never converted.
    with pytest.raises(ParseError):
        parse_max_forwards("300")
    assert err.partial is not None
    assert err.partial.headers.get("Expires") == "1" + "0" * 100


@case("scalarlg.dat")
def _scalarlg() -> None:
    never_answered(rejected("scalarlg.dat"))


@case("quotbal.dat")
def _quotbal() -> None:
    err = rejected("quotbal.dat")
    assert err.reason == "Malformed To header"
    reply = answered(err)
    # The To cannot be read, so it is echoed unchanged (no tag can be added sensibly).
    assert reply.headers.get("To") == '"Mr. J. User <sip:j.user@example.com>'


@case("ltgtruri.dat")
def _ltgtruri() -> None:
    err = rejected("ltgtruri.dat")
    assert err.reason == "Malformed Request-URI"
    reply = answered(err)
    assert reply.headers.get("To") == "sip:user@example.com;tag=tandem1"


@case("lwsruri.dat")
def _lwsruri() -> None:
    answered(rejected("lwsruri.dat"))


@case("lwsstart.dat")
def _lwsstart() -> None:
    err = rejected("lwsstart.dat")
    assert err.reason == "Malformed Request-Line"
    reply = answered(err)
    again = parse_datagram(bytes(reply))
    assert isinstance(again, Response)
    assert again.status_code == 400
    assert again.to.tag == "tandem1"


@case("trws.dat")
def _trws() -> None:
    answered(rejected("trws.dat"))


@case("escruri.dat")
def _escruri() -> None:
    err = rejected("escruri.dat")
    assert err.reason == "Request-URI must not carry headers"
    answered(err)


@case("baddate.dat")
def _baddate() -> None:
    m = request("baddate.dat")
    # Date does not matter to a softswitch: kept verbatim, never split at its comma.
    assert m.headers.get("Date") == "Fri, 01 Jan 2010 16:00:00 EST"
    assert b"Date: Fri, 01 Jan 2010 16:00:00 EST\r\n" in bytes(m)


@case("regbadct.dat")
def _regbadct() -> None:
    m = request("regbadct.dat")
    # Contact is read when the application needs it; then it is a 400.
    with pytest.raises(ParseError) as info:
        _ = m.contact
    assert info.value.status_code == 400
    assert info.value.reason == "Malformed Contact header"
    assert make_response(m, 400, info.value.reason, to_tag="x").status_code == 400


@case("badaspec.dat")
def _badaspec() -> None:
    m = request("badaspec.dat")
    # Liberal (RFC 4475 §3.1.2.14): the spaces inside <> are ignored, and not propagated.
    assert m.to.display_name == "Watson, Thomas"
    assert m.to.uri == SipURI("example.org", "t.watson")
    assert str(m.to) == '"Watson, Thomas" <sip:t.watson@example.org>'
    assert m.from_.display_name == "Bell, Alexander"


@case("baddn.dat")
def _baddn() -> None:
    # The archive copy lacks the empty line ending the header section: rejected.
    err = rejected("baddn.dat")
    assert err.reason == "Missing empty line after header fields"
    answered(err)
    # The corrected copy: unquoted display names accepted liberally, quoted on output.
    m = request("extra/baddn-with-final-crlf.dat")
    assert m.from_.display_name == "Bell, Alexander"
    assert m.to.display_name == "Watson, Thomas"
    assert str(m.from_) == '"Bell, Alexander" <sip:a.g.bell@example.com>;tag=43'


@case("badvers.dat")
def _badvers() -> None:
    err = rejected("badvers.dat", 505, VersionNotSupported)
    reply = answered(err, 505)
    assert bytes(reply).startswith(b"SIP/2.0 505 ")


@case("mismatch01.dat")
def _mismatch01() -> None:
    err = rejected("mismatch01.dat")
    assert err.reason == "CSeq method does not match the Request-Line"
    answered(err)


@case("mismatch02.dat")
def _mismatch02() -> None:
    # 501 is preferred, 400 acceptable: the codec cannot know which methods are implemented.
    answered(rejected("mismatch02.dat"))


@case("bigcode.dat")
def _bigcode() -> None:
    err = rejected("bigcode.dat")
    assert err.reason == "Malformed Status-Line"
    never_answered(err)


# -- 3.2 transaction layer ------------------------------------------------------------------


@case("badbranch.dat")
def _badbranch() -> None:
    m = request("badbranch.dat")
    assert m.top_via.branch == "z9hG4bK"
    # The transaction layer sees it is no RFC 3261 branch and falls back or answers 400.
    assert not m.top_via.is_rfc3261_branch


# -- 3.3 application layer ----------------------------------------------------------------


@case("insuf.dat")
def _insuf() -> None:
    err = rejected("insuf.dat")
    assert err.reason == "Missing Call-ID header"
    reply = answered(err)
    assert "Call-ID" not in reply.headers
    assert "From" not in reply.headers


@case("unkscm.dat")
def _unkscm() -> None:
    m = request("unkscm.dat")
    assert m.request_uri == AbsoluteURI("nobodyknowsthisscheme", "totallyopaquecontent")
    # Answered 416 by the application, never routed on To.
    assert make_response(m, 416, to_tag="x").reason == "Unsupported URI Scheme"


@case("novelsc.dat")
def _novelsc() -> None:
    m = request("novelsc.dat")
    assert m.request_uri == AbsoluteURI("soap.beep", "//192.0.2.103:3002")


@case("unksm2.dat")
def _unksm2() -> None:
    m = request("unksm2.dat")
    assert m.to.uri == AbsoluteURI("isbn", "2983792873")
    assert m.from_.uri == AbsoluteURI("http", "//www.example.com")
    assert m.from_.tag == "3234233"
    assert m.contact[0].uri == AbsoluteURI("name", "John_Smith")


@case("bext01.dat")
def _bext01() -> None:
    m = request("bext01.dat")
    required = m.headers.values("Require")
    assert required == ["nothingSupportsThis", "nothingSupportsThisEither"]
    assert m.headers.values("Proxy-Require") == [
        "noProxiesSupportThis",
        "norDoAnyProxiesSupportThis",
    ]
    reply = make_response(m, 420, to_tag="x", headers=[("Unsupported", ", ".join(required))])
    assert reply.headers.get("Unsupported") == "nothingSupportsThis, nothingSupportsThisEither"


@case("invut.dat")
def _invut() -> None:
    m = request("invut.dat")
    assert m.content_type == "application/unknownformat"
    assert m.body == b'<audio>\r\n <pcmu port="443"/>\r\n</audio>\r\n'


@case("regaut01.dat")
def _regaut01() -> None:
    m = request("regaut01.dat")
    (auth,) = m.credentials("Authorization")
    assert auth.scheme == "NoOneKnowsThisScheme"
    assert auth.get("opaque-data") == "here"
    assert str(auth) == "NoOneKnowsThisScheme opaque-data=here"
    assert "here" not in repr(auth)


@case("multi01.dat")
def _multi01() -> None:
    err = rejected("multi01.dat")
    assert err.reason == "Multiple Call-ID headers"
    reply = answered(err)
    for name in ("Call-ID", "CSeq", "From", "To"):
        assert reply.headers.count(name) == 1
    assert reply.headers.get("Call-ID") == "multi01.98asdh@192.0.2.1"


@case("mcl01.dat")
def _mcl01() -> None:
    err = rejected("mcl01.dat", error=FramingError)
    assert err.reason == "Multiple Content-Length headers"
    answered(err)
    framer = StreamFramer()
    framer.feed(load("mcl01.dat"))
    with pytest.raises(FramingError):
        framer.next_message()
    assert framer.failed


@case("bcast.dat")
def _bcast() -> None:
    m = response("bcast.dat")
    assert m.status_code == 200
    assert [via.host for via in m.via] == ["192.0.2.198", "255.255.255.255"]
    # What a proxy would check before forwarding (it must not send to a broadcast address).
    assert m.via[1].response_target() == ("255.255.255.255", 5060)


@case("zeromf.dat")
def _zeromf() -> None:
    m = request("zeromf.dat")
    assert m.max_forwards == 0
    # A UAS processes it (OPTIONS → 200); relaying onward would be 483 (a B2BUA decision).
    assert make_response(m, 200, to_tag="x").status_code == 200


@case("cparam01.dat")
def _cparam01() -> None:
    m = request("cparam01.dat")
    (contact,) = m.contact
    assert isinstance(contact.uri, SipURI)
    assert contact.uri.user == "+19725552222"
    assert "unknownparam" in contact.params
    assert "unknownparam" not in contact.uri.params


@case("cparam02.dat")
def _cparam02() -> None:
    m = request("cparam02.dat")
    (contact,) = m.contact
    assert isinstance(contact.uri, SipURI)
    assert "unknownparam" in contact.uri.params
    assert "unknownparam" not in contact.params


@case("regescrt.dat")
def _regescrt() -> None:
    m = request("regescrt.dat")
    (contact,) = m.contact
    assert isinstance(contact.uri, SipURI)
    assert contact.uri.headers == (("Route", "<sip:sip.example.com>"),)
    assert str(contact.uri) == "sip:user@example.com?Route=%3Csip:sip.example.com%3E"
    assert m.body == b""


@case("sdp01.dat")
def _sdp01() -> None:
    m = request("sdp01.dat")
    assert m.headers.values("Accept") == ["text/nobodyKnowsThis"]
    assert m.content_type == "application/sdp"
    assert len(m.body) == 150


# -- 3.4 backward compatibility -------------------------------------------------------------


@case("inv2543.dat")
def _inv2543() -> None:
    data = load("inv2543.dat")
    m = request("inv2543.dat")
    assert m.top_via.branch is None
    assert m.from_.tag is None
    assert m.max_forwards is None
    # No Content-Length on UDP: the body is the rest of the datagram.
    assert m.body == data[data.index(b"\r\n\r\n") + 4 :]
    assert m.record_route[0].uri_text == "sip:UserB@example.com;maddr=ss1.example.com"
    to_uri = m.to.uri
    assert isinstance(to_uri, SipURI)
    assert to_uri.params.get("user") is None
    assert "user" in m.to.params  # header parameter: the addr-spec has no <>
    # On a stream there is no way to frame it.
    with pytest.raises(FramingError):
        stream_outcome(data)


# -- the tests --------------------------------------------------------------------------


def dat_files() -> list[str]:
    return sorted(path.name for path in CORPUS.glob("*.dat"))


def test_every_file_has_a_case() -> None:
    assert dat_files() == sorted(CASES)
    assert len(CASES) == 49


def test_corpus_checksums() -> None:
    for name in checksums():
        load(name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_rfc4475(name: str) -> None:
    CASES[name]()


@pytest.mark.parametrize("name", sorted(CASES))
def test_accepted_messages_reserialise_stably(name: str) -> None:
    """Written back out and parsed again, an accepted message keeps its meaning."""
    try:
        message = parse_datagram(load(name))
    except SIPError:
        return
    wire = bytes(message)
    again = parse_datagram(wire)
    assert bytes(again) == wire
    assert again.body == message.body
    # The same fields, except the Content-Length written for a message that had none.
    fields = [field for field in again.headers if field[0] != "Content-Length"]
    assert fields == [field for field in message.headers if field[0] != "Content-Length"]


def test_undocumented_archive_member_is_rejected_without_answer() -> None:
    # extra/test.dat: "Foobar roobar" has no colon, and there is no Via to answer to.
    err = rejected("extra/test.dat")
    assert err.reason == "Malformed header field"
    never_answered(err)
