"""Property tests of the SIP codec (hypothesis).

* Round trip: a message built with the API, written out and parsed back, has the same values
  (method, Request-URI, Via, From/To with display names and tags, Call-ID, CSeq, unknown
  headers, body), and writing it again gives the same bytes.
* Totality: any bytes — random, SIP-shaped, or valid messages mutated — either parse or raise
  a ``SIPError``; never anything else, neither when parsing nor when reading a parsed
  message's fields nor when answering the rejected request. An accepted message written out
  again parses again to the same bytes.
* Streams: any chunking of a stream of messages yields the same messages as datagrams.
"""

from __future__ import annotations

import contextlib
import string
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.sip_core.sip import (
    LIST_HEADERS,
    CSeq,
    NameAddr,
    Params,
    ParseError,
    Request,
    Response,
    SIPError,
    SipURI,
    StreamFramer,
    Via,
    error_response,
    make_response,
    parse_datagram,
    parse_params,
)

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "rfc4475"

TOKEN_CHARS = string.ascii_letters + string.digits + "-.!%*_+`'~"
WORD_CHARS = TOKEN_CHARS + '()<>:\\"/[]?{}'

tokens = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=12)
methods = st.one_of(st.sampled_from(["INVITE", "OPTIONS", "BYE", "REGISTER", "MESSAGE"]), tokens)
labels = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=8)
hosts = st.one_of(
    st.lists(labels, min_size=1, max_size=3).map(".".join),
    st.tuples(*[st.integers(0, 255)] * 4).map(lambda octets: ".".join(map(str, octets))),
    st.sampled_from(["[2001:db8::1]", "[::1]", "[fe80::1:2:3:4]"]),
)
ports = st.none() | st.integers(1, 65535)
# Any text a header can hold: no surrogates (not UTF-8), no CR or LF (no line breaks).
texts = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"),
    max_size=16,
)
# URI components are escaped on output, so they may hold anything (even CR LF).
uri_texts = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)
uri_params = st.lists(st.tuples(uri_texts, st.none() | uri_texts), max_size=2).map(Params)

sip_uris = st.builds(
    SipURI,
    hosts,
    st.none() | uri_texts,
    scheme=st.sampled_from(["sip", "sips"]),
    port=ports,
    params=uri_params,
)
vias = st.builds(
    Via,
    st.sampled_from(["UDP", "TCP", "TLS", "SCTP", "WS"]),
    hosts,
    ports,
    st.tuples(
        tokens.map(lambda branch: ("branch", "z9hG4bK" + branch)),
        st.sampled_from([(), (("rport", None),), (("rport", "5060"), ("received", "192.0.2.1"))]),
    ).map(lambda parts: Params((parts[0], *parts[1]))),
)
name_addrs = st.builds(
    NameAddr,
    sip_uris,
    st.none() | texts,
    st.just(Params()) | tokens.map(lambda tag: Params([("tag", tag)])),
)
call_ids = st.tuples(
    st.text(alphabet=WORD_CHARS, min_size=1, max_size=16),
    st.none() | st.text(alphabet=WORD_CHARS, min_size=1, max_size=16),
).map(lambda parts: parts[0] if parts[1] is None else f"{parts[0]}@{parts[1]}")
extension_headers = st.lists(
    st.tuples(tokens.map(lambda name: "X-" + name), texts.map(lambda value: value.strip(" \t"))),
    max_size=3,
)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    method = draw(methods)
    headers = [("Via", str(via)) for via in draw(st.lists(vias, min_size=1, max_size=2))]
    headers += [
        ("From", str(draw(name_addrs))),
        ("To", str(draw(name_addrs))),
        ("Call-ID", draw(call_ids)),
        ("CSeq", str(CSeq(draw(st.integers(0, 2**32 - 1)), method))),
        ("Max-Forwards", str(draw(st.integers(0, 255)))),
        *draw(extension_headers),
    ]
    return Request(method, draw(sip_uris), headers, draw(st.binary(max_size=64)))


@st.composite
def responses(draw: st.DrawFn) -> Response:
    request = draw(requests())
    status = draw(st.integers(100, 699))
    reason = draw(texts)
    response = make_response(request, status, reason, to_tag=draw(st.none() | tokens))
    response.body = draw(st.binary(max_size=64))
    return response


def same_fields(got: Request | Response, sent: Request | Response) -> None:
    assert [(v.transport, v.host, v.port, v.params) for v in got.via] == [
        (v.transport, v.host, v.port, v.params) for v in sent.via
    ]
    for name_addr_got, name_addr_sent in ((got.from_, sent.from_), (got.to, sent.to)):
        assert name_addr_got.display_name == name_addr_sent.display_name
        assert name_addr_got.uri == name_addr_sent.uri
        assert name_addr_got.tag == name_addr_sent.tag
    assert got.call_id == sent.call_id
    assert got.cseq == sent.cseq
    assert got.body == sent.body
    assert list(got.headers) == [
        (name, str(len(sent.body)) if name == "Content-Length" else value)
        for name, value in sent.headers
    ] + ([] if "Content-Length" in sent.headers else [("Content-Length", str(len(sent.body)))])


@FAST
@given(requests())
def test_request_round_trip(request: Request) -> None:
    data = bytes(request)
    got = parse_datagram(data)
    assert isinstance(got, Request)
    assert got.method == request.method
    assert got.request_uri == request.request_uri
    assert got.max_forwards == request.max_forwards
    same_fields(got, request)
    assert bytes(got) == data


@FAST
@given(responses())
def test_response_round_trip(response: Response) -> None:
    data = bytes(response)
    got = parse_datagram(data)
    assert isinstance(got, Response)
    assert (got.status_code, got.reason) == (response.status_code, response.reason)
    same_fields(got, response)
    assert bytes(got) == data


# -- totality -----------------------------------------------------------------------------


def read_everything(message: Request | Response) -> None:
    """Read every field the upper layers may read; only SIPError may come out."""
    readers: list[Callable[[], object]] = [
        lambda: message.via,
        lambda: [via.response_target() for via in message.via],
        lambda: [(via.branch, via.rport, via.is_rfc3261_branch) for via in message.via],
        lambda: message.from_.uri,
        lambda: message.to.uri,
        lambda: message.cseq,
        lambda: message.call_id,
        lambda: message.max_forwards,
        lambda: [contact.uri for contact in message.contact],
        lambda: message.contact_is_wildcard,
        lambda: [route.uri for route in message.route],
        lambda: [route.uri for route in message.record_route],
        lambda: message.credentials("Authorization"),
        lambda: message.credentials("Proxy-Authorization"),
        lambda: message.credentials("WWW-Authenticate"),
        lambda: [message.headers.values(name) for name in LIST_HEADERS],
        lambda: str(message.to.with_tag("x")),
    ]
    if isinstance(message, Request):
        readers.append(lambda: message.request_uri)
        readers.append(lambda: bytes(make_response(message, 400, to_tag="t")))
    for read in readers:
        with contextlib.suppress(SIPError):
            read()


def answer(err: SIPError) -> None:
    """What the transport does with a rejected datagram: answer it if it can be answered."""
    assert isinstance(err, ParseError)
    reply = error_response(err, to_tag="t")
    if reply is not None:
        assert bytes(reply).startswith(f"SIP/2.0 {err.status_code} ".encode())


def check_total(data: bytes) -> None:
    try:
        message = parse_datagram(data)
    except SIPError as err:
        answer(err)
        return
    read_everything(message)
    wire = bytes(message)
    again = parse_datagram(wire)
    assert bytes(again) == wire


@FAST
@given(st.binary(max_size=600))
def test_arbitrary_bytes(data: bytes) -> None:
    check_total(data)


SIP_PIECES = [
    b"INVITE ", b"ACK ", b"SIP/2.0 ", b"SIP/2.0", b" 200 OK", b"sip:", b"sips:", b"tel:+1",
    b"user", b"@", b"host.example.com", b"[::1]", b":5060", b"\r\n", b"\r\n\r\n", b" ", b"\t",
    b": ", b":", b"Via", b"v", b"SIP/2.0/UDP ", b";branch=z9hG4bK1", b";rport", b";received=",
    b"From", b"To", b"t", b"f", b"Call-ID", b"i", b"CSeq", b"1 INVITE", b"Max-Forwards",
    b"Contact", b"m", b"*", b"Route", b"Content-Length", b"l", b"0", b"9", b"-", b"99999999999",
    b"Authorization", b"Digest ", b'realm="r"', b"\"", b"\\", b"<", b">", b",", b";", b"=",
    b"tag=", b"%", b"%41", b"%ZZ", b"\x00", b"\xff", b"\xc3\xa9", b"?", b"&", b"/",
]  # fmt: skip

sip_shaped = st.lists(
    st.one_of(st.sampled_from(SIP_PIECES), st.binary(max_size=3)), max_size=60
).map(b"".join)


@FAST
@given(sip_shaped)
def test_sip_shaped_bytes(data: bytes) -> None:
    check_total(data)


def corpus() -> list[bytes]:
    samples = [bytes(message) for message in (SAMPLE_INVITE, SAMPLE_RESPONSE)]
    if CORPUS.is_dir():
        samples += [path.read_bytes() for path in sorted(CORPUS.glob("*.dat"))]
    return samples


SAMPLE_INVITE = Request(
    "INVITE",
    "sip:+15551234567@carrier.example.com;user=phone",
    [
        ("Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport"),
        ("Max-Forwards", "70"),
        ("To", "<sip:+15551234567@carrier.example.com;user=phone>"),
        ("From", '"Alice" <sip:+15550001111@pbx.example.net;user=phone>;tag=1928301774'),
        ("Call-ID", "a84b4c76e66710@pc33.example.net"),
        ("CSeq", "314159 INVITE"),
        ("Contact", '<sip:alice@192.0.2.10:5060>;+sip.instance="<urn:uuid:1>", <sip:b@h>'),
        ("Route", "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>"),
        ("Proxy-Authorization", 'Digest username="a", realm="r", nonce="n", response="x"'),
        ("Content-Type", "application/sdp"),
    ],
    b"v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\n",
)
SAMPLE_RESPONSE = make_response(SAMPLE_INVITE, 200, to_tag="b2b")

mutations = st.lists(
    st.tuples(
        st.integers(0, 4000),
        st.sampled_from(["insert", "delete", "replace"]),
        st.one_of(st.sampled_from(SIP_PIECES), st.binary(min_size=1, max_size=3)),
    ),
    min_size=1,
    max_size=6,
)


def mutate(data: bytes, edits: list[tuple[int, str, bytes]]) -> bytes:
    for position, operation, piece in edits:
        at = position % (len(data) + 1)
        if operation == "insert":
            data = data[:at] + piece + data[at:]
        elif operation == "delete":
            data = data[:at] + data[at + len(piece) :]
        else:
            data = data[:at] + piece + data[at + len(piece) :]
    return data


@FAST
@given(st.sampled_from(corpus()), mutations)
def test_mutated_messages(data: bytes, edits: list[tuple[int, str, bytes]]) -> None:
    check_total(mutate(data, edits))


# -- streams ------------------------------------------------------------------------------


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.one_of(requests(), responses()), min_size=1, max_size=3),
    st.lists(st.integers(0, 10**5), max_size=12),
)
def test_stream_chunking(messages: list[Request | Response], cuts: list[int]) -> None:
    datagrams = [bytes(message) for message in messages]
    framer = StreamFramer()
    got: list[bytes] = []
    for chunk in split_at(b"\r\n".join(datagrams), cuts):
        framer.feed(chunk)
        while (message := framer.next_message()) is not None:
            got.append(bytes(message))
    assert got == datagrams
    assert framer.buffered == 0


@FAST
@given(
    st.lists(st.one_of(sip_shaped, st.sampled_from(corpus())), max_size=4),
    st.lists(st.integers(0, 10**5), max_size=8),
)
def test_stream_of_anything(parts: list[bytes], cuts: list[int]) -> None:
    framer = StreamFramer()
    for chunk in split_at(b"".join(parts), cuts):
        try:
            framer.feed(chunk)
            while True:
                try:
                    message = framer.next_message()
                except SIPError:
                    if framer.failed:
                        raise
                    continue
                if message is None:
                    break
                read_everything(message)
        except SIPError:
            assert framer.failed
            return


# -- the fast paths agree with the general ones -----------------------------------------------

param_texts = st.lists(
    st.tuples(tokens, st.none() | st.text(alphabet=TOKEN_CHARS + ":[]", min_size=1, max_size=12)),
    min_size=1,
    max_size=4,
).map(
    lambda params: ";".join(name if value is None else f"{name}={value}" for name, value in params)
)


@FAST
@given(param_texts, st.text(alphabet=';= \t"', max_size=3))
def test_simple_parameters_parse_as_the_general_grammar_says(text: str, noise: str) -> None:
    # Leading LWS sends the same parameters through the general pattern.
    assert parse_params(text) == parse_params(" " + text)
    for odd in (text + noise, noise + text):
        with contextlib.suppress(ParseError):
            parse_params(odd)
