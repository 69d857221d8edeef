"""Dialogs (RFC 3261 §12): creation on both sides, route sets, CSeq, in-dialog requests."""

from __future__ import annotations

import pytest

from services.sip_core.sip import (
    Dialog,
    DialogState,
    DialogTable,
    InvalidValue,
    Request,
    Response,
    make_response,
    new_branch,
    parse_datagram,
)

VIA = "SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKdialog1;rport"


def parse(text: str) -> Request | Response:
    return parse_datagram(text.replace("\n", "\r\n").encode())


def our_invite(cseq: int = 314) -> Request:
    """The INVITE the B2BUA sent toward a carrier (as the carrier will echo it)."""
    request = parse(
        f"""INVITE sip:+15559870000@203.0.113.5 SIP/2.0
Via: {VIA}
Max-Forwards: 70
From: "Alice" <sip:+15551230000@198.51.100.1>;tag=b2b-local
To: <sip:+15559870000@carrier.example>
Call-ID: leg-b@198.51.100.1
CSeq: {cseq} INVITE
Contact: <sip:b2b@198.51.100.1:5060>
Content-Length: 0

"""
    )
    assert isinstance(request, Request)
    return request


def carrier_response(
    request: Request, code: int, *, tag: str = "carrier-tag", contact: str | None = None
) -> Response:
    """The carrier's response, through two record-routing proxies p1 (near us) and p2."""
    response = make_response(
        request,
        code,
        to_tag=tag,
        headers=[
            ("Record-Route", "<sip:p2.carrier.example;lr>"),
            ("Record-Route", "<sip:p1.carrier.example;lr;transport=udp>"),
            ("Contact", contact or "<sip:callee@203.0.113.77:5070;transport=udp>"),
        ],
    )
    parsed = parse_datagram(bytes(response))
    assert isinstance(parsed, Response)
    return parsed


def customer_invite() -> Request:
    """An INVITE from a customer PBX through two record-routing proxies."""
    request = parse(
        """INVITE sip:+15559870000@198.51.100.1 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKcust;rport
Record-Route: <sip:px1.customer.example;lr>, <sip:px2.customer.example;lr>
Max-Forwards: 69
From: <sip:+15551230000@pbx.customer.example>;tag=cust-tag
To: <sip:+15559870000@198.51.100.1>
Call-ID: leg-a@pbx.customer.example
CSeq: 10 INVITE
Contact: <sip:pbx@192.0.2.10:5062>
Content-Length: 0

"""
    )
    assert isinstance(request, Request)
    return request


def via() -> str:
    return f"SIP/2.0/UDP 198.51.100.1:5060;branch={new_branch()};rport"


# -- UAC side (§12.1.2) --------------------------------------------------------------------------


def test_uac_dialog_from_180_with_tag_then_200_confirms_it() -> None:
    invite = our_invite()
    ringing = carrier_response(invite, 180, contact="<sip:early@203.0.113.77>")
    dialog = Dialog.uac(invite, ringing)
    assert dialog.state is DialogState.EARLY
    assert dialog.is_early
    assert dialog.id == ("leg-b@198.51.100.1", "b2b-local", "carrier-tag")
    assert dialog.local_seq == 314
    assert dialog.remote_seq is None
    assert dialog.remote_target == "sip:early@203.0.113.77"
    # §12.1.2: the route set is the Record-Route of the response, reversed.
    assert dialog.route_set == (
        "sip:p1.carrier.example;lr;transport=udp",
        "sip:p2.carrier.example;lr",
    )
    ok = carrier_response(invite, 200)
    dialog.receive_response(ok)
    assert dialog.state is DialogState.CONFIRMED
    assert dialog.is_confirmed
    assert dialog.remote_target == "sip:callee@203.0.113.77:5070;transport=udp"
    assert dialog.local_uri.display_name == "Alice"
    assert dialog.remote_uri.tag is None  # the tags live in the dialog id


def test_uac_dialog_straight_from_a_2xx_and_without_a_to_tag() -> None:
    invite = our_invite()
    dialog = Dialog.uac(invite, carrier_response(invite, 200))
    assert dialog.state is DialogState.CONFIRMED
    old = parse_datagram(bytes(make_response(invite, 200)))  # RFC 2543: no To tag
    assert isinstance(old, Response)
    assert Dialog.uac(invite, old).remote_tag == ""
    with pytest.raises(InvalidValue):
        Dialog.uac(invite, carrier_response(invite, 100))


def test_early_dialog_ends_on_a_non_2xx_and_any_dialog_on_481() -> None:
    invite = our_invite()
    early = Dialog.uac(invite, carrier_response(invite, 183))
    early.receive_response(carrier_response(invite, 486))
    assert early.state is DialogState.TERMINATED
    confirmed = Dialog.uac(invite, carrier_response(invite, 200))
    bye = confirmed.create_request("BYE", via())
    confirmed.receive_response(parse_datagram(bytes(make_response(bye, 481))))  # type: ignore[arg-type]
    assert confirmed.state is DialogState.TERMINATED


def test_in_dialog_requests_use_remote_target_route_set_and_increasing_cseq() -> None:
    invite = our_invite()
    dialog = Dialog.uac(
        invite, carrier_response(invite, 200), local_contact="<sip:b2b@198.51.100.1:5060>"
    )
    bye = dialog.create_request("BYE", via(), headers=[("Reason", "Q.850;cause=16")])
    # §12.2.1.1: Request-URI = remote target (loose routing), Route = route set.
    assert bye.uri == "sip:callee@203.0.113.77:5070;transport=udp"
    assert [route.uri_text for route in bye.route] == [
        "sip:p1.carrier.example;lr;transport=udp",
        "sip:p2.carrier.example;lr",
    ]
    assert str(bye.cseq) == "315 BYE"
    assert bye.from_.tag == "b2b-local"
    assert bye.to.tag == "carrier-tag"
    assert bye.call_id == "leg-b@198.51.100.1"
    assert bye.headers.get("Reason") == "Q.850;cause=16"
    assert "Contact" not in bye.headers  # BYE refreshes nothing
    reinvite = dialog.create_request(
        "INVITE", via(), body=b"v=0\r\n", content_type="application/sdp"
    )
    assert str(reinvite.cseq) == "316 INVITE"
    assert reinvite.headers.get("Contact") == "<sip:b2b@198.51.100.1:5060>"
    assert str(dialog.create_request("UPDATE", via()).cseq) == "317 UPDATE"
    assert str(dialog.create_request("INFO", via()).cseq) == "318 INFO"
    # What we build goes through the parser as it is.
    again = parse_datagram(bytes(reinvite))
    assert isinstance(again, Request)
    assert again.body == b"v=0\r\n"
    assert again.content_type == "application/sdp"
    assert again.max_forwards == 70


def test_ack_for_a_2xx_reuses_the_invites_cseq() -> None:
    invite = our_invite(cseq=7)
    dialog = Dialog.uac(invite, carrier_response(invite, 200))
    ack = dialog.create_ack(7, via())
    assert str(ack.cseq) == "7 ACK"
    assert ack.uri == dialog.remote_target
    assert dialog.local_seq == 7  # the ACK takes no new number
    with pytest.raises(InvalidValue):
        dialog.create_request("ACK", via())


def test_strict_router_first_in_the_route_set() -> None:
    invite = our_invite()
    ok = make_response(
        invite,
        200,
        to_tag="t",
        headers=[
            ("Record-Route", "<sip:loose.example;lr>"),
            ("Record-Route", "<sip:strict.example;method=INVITE;maddr=192.0.2.99>"),
            ("Contact", "<sip:callee@203.0.113.77>"),
        ],
    )
    dialog = Dialog.uac(invite, ok)
    bye = dialog.create_request("BYE", via())
    # §12.2.1.1: the strict router becomes the Request-URI (without what a Request-URI may
    # not carry), the remote target goes last in Route.
    assert bye.uri == "sip:strict.example;maddr=192.0.2.99"
    assert [route.uri_text for route in bye.route] == [
        "sip:loose.example;lr",
        "sip:callee@203.0.113.77",
    ]


def test_2xx_to_a_target_refresh_moves_the_remote_target() -> None:
    invite = our_invite()
    dialog = Dialog.uac(invite, carrier_response(invite, 200))
    update = dialog.create_request("UPDATE", via())
    moved = make_response(update, 200, headers=[("Contact", "<sip:moved@203.0.113.78>")])
    dialog.receive_response(parse_datagram(bytes(moved)))  # type: ignore[arg-type]
    assert dialog.remote_target == "sip:moved@203.0.113.78"
    info = dialog.create_request("INFO", via())
    other = make_response(info, 200, headers=[("Contact", "<sip:elsewhere@203.0.113.79>")])
    dialog.receive_response(parse_datagram(bytes(other)))  # type: ignore[arg-type]
    assert dialog.remote_target == "sip:moved@203.0.113.78"  # INFO refreshes nothing


# -- UAS side (§12.1.1, §12.2.2) -----------------------------------------------------------------


def test_uas_dialog_keeps_the_record_route_order_and_starts_local_cseq_at_1() -> None:
    invite = customer_invite()
    dialog = Dialog.uas(invite, "b2b-tag", local_contact="<sip:b2b@198.51.100.1>")
    assert dialog.id == ("leg-a@pbx.customer.example", "b2b-tag", "cust-tag")
    assert dialog.state is DialogState.EARLY
    dialog.confirm()
    assert dialog.state is DialogState.CONFIRMED
    assert dialog.route_set == ("sip:px1.customer.example;lr", "sip:px2.customer.example;lr")
    assert dialog.remote_target == "sip:pbx@192.0.2.10:5062"
    assert (dialog.local_seq, dialog.remote_seq) == (None, 10)
    bye = dialog.create_request("BYE", via())
    assert str(bye.cseq) == "1 BYE"
    assert bye.uri == "sip:pbx@192.0.2.10:5062"
    assert [route.uri_text for route in bye.route] == list(dialog.route_set)
    # The customer's From is our To, and the other way round.
    assert bye.to.tag == "cust-tag"
    assert bye.to.uri_text == "sip:+15551230000@pbx.customer.example"
    assert bye.from_.tag == "b2b-tag"
    assert bye.from_.uri_text == "sip:+15559870000@198.51.100.1"


def test_secure_only_for_sips_over_tls() -> None:
    invite = customer_invite()
    assert not Dialog.uas(invite, "t", tls=True).secure
    sips = parse(
        str(bytes(invite), "utf-8").replace("\r\n", "\n").replace("INVITE sip:", "INVITE sips:", 1)
    )
    assert isinstance(sips, Request)
    assert Dialog.uas(sips, "t", tls=True).secure
    assert not Dialog.uas(sips, "t", tls=False).secure


def in_dialog(method: str, cseq: int, *, contact: str | None = None) -> Request:
    lines = [
        f"{method} sip:b2b@198.51.100.1 SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKin" + str(cseq),
        "From: <sip:+15551230000@pbx.customer.example>;tag=cust-tag",
        "To: <sip:+15559870000@198.51.100.1>;tag=b2b-tag",
        "Call-ID: leg-a@pbx.customer.example",
        f"CSeq: {cseq} {method}",
    ]
    if contact:
        lines.append(f"Contact: {contact}")
    request = parse("\n".join([*lines, "", ""]))
    assert isinstance(request, Request)
    return request


def test_incoming_requests_with_a_lower_cseq_are_rejected_with_500() -> None:
    dialog = Dialog.uas(customer_invite(), "b2b-tag", state=DialogState.CONFIRMED)
    assert dialog.receive_request(in_dialog("INFO", 11)) is None
    assert dialog.remote_seq == 11
    assert dialog.receive_request(in_dialog("INFO", 9)) == 500  # §12.2.2
    assert dialog.remote_seq == 11
    assert dialog.receive_request(in_dialog("ACK", 10)) is None  # the INVITE's CSeq
    assert dialog.receive_request(in_dialog("BYE", 12)) is None
    assert dialog.remote_seq == 12


def test_remote_target_refresh_when_the_tu_accepts_a_reinvite() -> None:
    dialog = Dialog.uas(customer_invite(), "b2b-tag", state=DialogState.CONFIRMED)
    reinvite = in_dialog("INVITE", 11, contact="<sip:pbx@192.0.2.11:5062>")
    assert dialog.receive_request(reinvite) is None
    assert dialog.remote_target == "sip:pbx@192.0.2.10:5062"  # RFC 6141: only when accepted
    dialog.refresh_target(reinvite)
    assert dialog.remote_target == "sip:pbx@192.0.2.11:5062"


# -- the table ------------------------------------------------------------------------------------


def test_dialog_table_finds_incoming_requests_and_responses() -> None:
    table = DialogTable()
    leg_a = Dialog.uas(customer_invite(), "b2b-tag", state=DialogState.CONFIRMED)
    invite = our_invite()
    leg_b = Dialog.uac(invite, carrier_response(invite, 200))
    table.add(leg_a)
    table.add(leg_b)
    assert len(table) == 2
    assert leg_a in table
    assert table.match_request(in_dialog("BYE", 11)) is leg_a
    assert table.match_request(customer_invite()) is None  # no To tag: not in a dialog
    bye = leg_b.create_request("BYE", via())
    assert table.match_response(parse_datagram(bytes(make_response(bye, 200)))) is leg_b  # type: ignore[arg-type]
    # The carrier's BYE toward us: its From tag is the remote tag, its To tag ours.
    carrier_bye = parse(
        """BYE sip:b2b@198.51.100.1 SIP/2.0
Via: SIP/2.0/UDP 203.0.113.77:5070;branch=z9hG4bKcbye
From: <sip:+15559870000@carrier.example>;tag=carrier-tag
To: "Alice" <sip:+15551230000@198.51.100.1>;tag=b2b-local
Call-ID: leg-b@198.51.100.1
CSeq: 1 BYE

"""
    )
    assert isinstance(carrier_bye, Request)
    assert table.match_request(carrier_bye) is leg_b
    assert table.get("leg-b@198.51.100.1", "b2b-local", "carrier-tag") is leg_b
    table.remove(leg_b)
    assert table.match_request(carrier_bye) is None
    assert list(table) == [leg_a]
