"""The transaction layer (RFC 3261 §17, RFC 6026) driven by a fake clock.

Every test feeds messages as the transport would (parsed from bytes) and fires timers by calling
``handle_timer`` at ``next_timer()``, never sleeping. The timer values are RFC 3261's defaults
(T1 = 500 ms, T2 = 4 s, T4 = 5 s) unless a test configures others.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.sip_core.sip import (
    Action,
    CancelReceived,
    ClientInviteTransaction,
    ClientNonInviteTransaction,
    Params,
    Peer,
    Request,
    RequestReceived,
    RequestRefused,
    Response,
    ResponseReceived,
    Send,
    ServerInviteTransaction,
    ServerNonInviteTransaction,
    State,
    StrayResponseReceived,
    Timers,
    Transaction,
    TransactionError,
    TransactionLayer,
    TransactionTimedOut,
    TransportFailed,
    Via,
    apply_received,
    make_response,
    new_branch,
    new_tag,
    parse_datagram,
)

CARRIER_UDP = Peer("UDP", "203.0.113.5", 5060)
CARRIER_TCP = Peer("TCP", "203.0.113.5", 5060)
CUSTOMER_UDP = Peer("UDP", "192.0.2.10", 5062)
CUSTOMER_TCP = Peer("TCP", "192.0.2.10", 40123)


# -- factories ------------------------------------------------------------------------------


def outgoing(
    method: str = "INVITE",
    *,
    transport: str = "UDP",
    cseq: int = 1,
    routes: Iterable[str] = ("<sip:edge.carrier.example;lr>",),
) -> Request:
    """A request as the B2BUA sends it toward a carrier."""
    via = Via(transport, "198.51.100.1", 5060, Params([("branch", new_branch()), ("rport", None)]))
    headers = [("Via", str(via)), ("Max-Forwards", "70")]
    headers += [("Route", route) for route in routes]
    headers += [
        ("From", "<sip:+15551230000@198.51.100.1>;tag=b2b-a"),
        ("To", "<sip:+15559870000@carrier.example>"),
        ("Call-ID", "out-call-1@198.51.100.1"),
        ("CSeq", f"{cseq} {method}"),
        ("Authorization", 'Digest username="x"'),
    ]
    return Request(method, "sip:+15559870000@203.0.113.5", headers)


def answer(request: Request, code: int, to_tag: str | None = "callee-1") -> Response:
    """The carrier's response to ``request``, as it arrives from the network."""
    tag = None if code == 100 else to_tag
    return parse(bytes(make_response(request, code, to_tag=tag)))


def parse(data: bytes) -> Request | Response:
    return parse_datagram(data)


def incoming(
    method: str = "INVITE",
    *,
    branch: str | None = "z9hG4bKcust-1",
    sent_by: str = "192.0.2.10:5062",
    transport: str = "UDP",
    source: Peer = CUSTOMER_UDP,
    cseq: int = 1,
    cseq_method: str | None = None,
    call_id: str = "in-call-1@192.0.2.10",
    from_tag: str | None = "cust-tag",
    to_tag: str | None = None,
    uri: str = "sip:+15559870000@198.51.100.1",
    rport: bool = True,
) -> Request:
    """A request from a customer, parsed and stamped with received/rport like the transport."""
    params = f";branch={branch}" if branch is not None else ""
    params += ";rport" if rport else ""
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/{transport} {sent_by}{params}",
        "Max-Forwards: 70",
        f"From: <sip:+15551230000@192.0.2.10>{f';tag={from_tag}' if from_tag else ''}",
        f"To: <sip:+15559870000@198.51.100.1>{f';tag={to_tag}' if to_tag else ''}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {cseq_method or method}",
        "Contact: <sip:cust@192.0.2.10:5062>",
        "Timestamp: 54",
        "",
        "",
    ]
    request = parse("\r\n".join(lines).encode())
    assert isinstance(request, Request)
    apply_received(request, source.host, source.port)
    return request


def drain(layer: TransactionLayer) -> list[Action]:
    actions = []
    while (action := layer.next_action()) is not None:
        actions.append(action)
    return actions


def sends(actions: Iterable[Action]) -> list[Send]:
    return [action for action in actions if isinstance(action, Send)]


def sent_messages(actions: Iterable[Action]) -> list[Request | Response]:
    return [parse(action.data) for action in sends(actions)]


def tu_events(actions: Iterable[Action]) -> list[Action]:
    return [action for action in actions if not isinstance(action, Send)]


def run_timers(layer: TransactionLayer, until: float) -> list[tuple[float, Action]]:
    """Fire every timer up to ``until``; each action with the time it happened."""
    happened: list[tuple[float, Action]] = []
    while (deadline := layer.next_timer()) is not None and deadline <= until:
        layer.handle_timer(deadline)
        happened += [(deadline, action) for action in drain(layer)]
    return happened


def send_times(happened: list[tuple[float, Action]]) -> list[float]:
    return [round(when, 6) for when, action in happened if isinstance(action, Send)]


def start(
    request: Request, peer: Peer = CARRIER_UDP, layer: TransactionLayer | None = None
) -> tuple[TransactionLayer, Transaction]:
    layer = TransactionLayer() if layer is None else layer
    transaction = layer.send_request(request, peer, 0.0)
    actions = drain(layer)
    assert sends(actions) == [Send(bytes(request), peer, transaction)]
    return layer, transaction


def invite_server(
    layer: TransactionLayer | None = None, **kwargs: object
) -> tuple[TransactionLayer, ServerInviteTransaction, list[Action]]:
    layer = TransactionLayer() if layer is None else layer
    request = incoming("INVITE", **kwargs)  # type: ignore[arg-type]
    layer.receive(request, kwargs.get("source", CUSTOMER_UDP), 0.0)  # type: ignore[arg-type]
    actions = drain(layer)
    received = [action for action in actions if isinstance(action, RequestReceived)]
    assert len(received) == 1
    transaction = received[0].transaction
    assert isinstance(transaction, ServerInviteTransaction)
    return layer, transaction, actions


# -- INVITE client transaction (§17.1.1) ---------------------------------------------------------


def test_invite_client_retransmits_on_timer_a_until_timer_b_times_out() -> None:
    request = outgoing("INVITE")
    layer, transaction = start(request)
    assert isinstance(transaction, ClientInviteTransaction)
    assert transaction.state is State.CALLING
    happened = run_timers(layer, 100.0)
    # Timer A: T1, doubling without cap (0.5, 1, 2, 4, 8, 16 s apart); Timer B = 64·T1 = 32 s.
    assert send_times(happened) == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert all(action.data == bytes(request) for _, action in happened if isinstance(action, Send))
    assert happened[-1] == (32.0, TransactionTimedOut(transaction, "B"))
    assert transaction.state is State.TERMINATED
    assert layer.live_transactions == 0
    assert layer.next_timer() is None
    assert layer.retransmitted == 6


def test_t1_is_configurable() -> None:
    layer = TransactionLayer(Timers(t1=0.1, t2=1.0))
    _, transaction = start(outgoing("INVITE"), layer=layer)
    happened = run_timers(layer, 100.0)
    assert send_times(happened) == [0.1, 0.3, 0.7, 1.5, 3.1, 6.3]
    assert happened[-1] == (pytest.approx(6.4), TransactionTimedOut(transaction, "B"))


def test_invite_client_over_tcp_never_retransmits() -> None:
    layer, transaction = start(outgoing("INVITE", transport="TCP"), CARRIER_TCP)
    happened = run_timers(layer, 100.0)
    assert happened == [(32.0, TransactionTimedOut(transaction, "B"))]


def test_provisional_response_stops_retransmissions_and_timer_b() -> None:
    request = outgoing("INVITE")
    layer, transaction = start(request)
    run_timers(layer, 0.7)  # one retransmission at 0.5
    ringing = answer(request, 180)
    layer.receive(ringing, CARRIER_UDP, 0.7)
    assert drain(layer) == [ResponseReceived(ringing, transaction)]
    assert transaction.state is State.PROCEEDING
    assert layer.next_timer() is None
    assert run_timers(layer, 1000.0) == []
    # More provisionals keep going to the TU.
    progress = answer(request, 183)
    layer.receive(progress, CARRIER_UDP, 2.0)
    assert drain(layer) == [ResponseReceived(progress, transaction)]


def test_non_2xx_final_is_acked_and_the_ack_resent_for_each_retransmission() -> None:
    request = outgoing("INVITE", routes=("<sip:p1.example;lr>", "<sip:p2.example;lr>"))
    layer, transaction = start(request)
    layer.receive(answer(request, 100), CARRIER_UDP, 0.1)
    drain(layer)
    busy = answer(request, 486)
    layer.receive(busy, CARRIER_UDP, 1.0)
    actions = drain(layer)
    assert tu_events(actions) == [ResponseReceived(busy, transaction)]
    assert transaction.state is State.COMPLETED
    (ack,) = sent_messages(actions)
    # RFC 3261 §17.1.1.3: the ACK's fields.
    assert isinstance(ack, Request)
    assert ack.method == "ACK"
    assert ack.uri == request.uri
    assert [str(via) for via in ack.via] == [str(request.top_via)]
    assert ack.cseq.number == 1
    assert ack.cseq.method == "ACK"
    assert ack.call_id == request.call_id
    assert ack.from_ == request.from_
    assert ack.to.tag == "callee-1"
    assert [route.uri_text for route in ack.route] == ["sip:p1.example;lr", "sip:p2.example;lr"]
    assert "Authorization" not in ack.headers
    assert sends(actions)[0].peer == CARRIER_UDP
    # Each retransmission of the 486 gets the same ACK; the TU hears nothing more.
    for now in (1.5, 2.5):
        layer.receive(answer(request, 486), CARRIER_UDP, now)
        again = drain(layer)
        assert [action.data for action in sends(again)] == [sends(actions)[0].data]
        assert tu_events(again) == []
    # Timer D: 32 s over UDP.
    assert layer.next_timer() == pytest.approx(33.0)
    assert run_timers(layer, 100.0) == []
    assert transaction.state is State.TERMINATED
    layer.receive(answer(request, 486), CARRIER_UDP, 40.0)
    assert [type(action) for action in drain(layer)] == [StrayResponseReceived]


def test_timer_d_is_zero_over_tcp() -> None:
    request = outgoing("INVITE", transport="TCP")
    layer, transaction = start(request, CARRIER_TCP)
    layer.receive(answer(request, 503), CARRIER_TCP, 1.0)
    actions = drain(layer)
    assert [message.method for message in sent_messages(actions)] == ["ACK"]  # type: ignore[union-attr]
    assert transaction.state is State.TERMINATED
    assert layer.live_transactions == 0


def test_2xx_moves_the_invite_client_to_accepted_until_timer_m() -> None:
    request = outgoing("INVITE")
    layer, transaction = start(request)
    assert isinstance(transaction, ClientInviteTransaction)
    ok = answer(request, 200)
    layer.receive(ok, CARRIER_UDP, 2.0)
    assert drain(layer) == [ResponseReceived(ok, transaction)]  # no ACK: the TU sends it
    assert transaction.state is State.ACCEPTED
    # RFC 6026 §8.4: a 2xx retransmission still reaches the TU while it has not ACKed …
    retransmitted = answer(request, 200)
    layer.receive(retransmitted, CARRIER_UDP, 2.5)
    assert drain(layer) == [ResponseReceived(retransmitted, transaction)]
    # … and once it has, the layer re-sends that ACK itself (§13.2.2.4).
    ack = Request("ACK", "sip:callee@203.0.113.5", [("Via", "SIP/2.0/UDP h;branch=z9hG4bKa")])
    ack.headers.add("To", "<sip:+15559870000@carrier.example>;tag=callee-1")
    layer.send_ack(ack, CARRIER_UDP, transaction)
    assert drain(layer) == [Send(bytes(ack), CARRIER_UDP, transaction)]
    layer.receive(answer(request, 200), CARRIER_UDP, 3.0)
    assert drain(layer) == [Send(bytes(ack), CARRIER_UDP, transaction)]
    # A 2xx from another fork (another To tag) is news for the TU.
    fork = answer(request, 200, to_tag="callee-2")
    layer.receive(fork, CARRIER_UDP, 3.5)
    assert drain(layer) == [ResponseReceived(fork, transaction)]
    # Timer M = 64·T1 after the first 2xx; it ends the transaction silently.
    assert layer.next_timer() == pytest.approx(34.0)
    assert run_timers(layer, 100.0) == []
    assert transaction.state is State.TERMINATED
    layer.receive(answer(request, 200), CARRIER_UDP, 40.0)
    assert [type(action) for action in drain(layer)] == [StrayResponseReceived]


def test_cancel_waits_for_a_provisional_then_follows_section_9_1() -> None:
    request = outgoing("INVITE")
    layer, transaction = start(request)
    assert isinstance(transaction, ClientInviteTransaction)
    assert layer.cancel(transaction, 0.2) is None  # §9.1: not before a provisional
    assert drain(layer) == []
    ringing = answer(request, 180)
    layer.receive(ringing, CARRIER_UDP, 0.3)
    actions = drain(layer)
    assert tu_events(actions) == [ResponseReceived(ringing, transaction)]
    (cancel,) = sent_messages(actions)
    assert isinstance(cancel, Request)
    assert cancel.method == "CANCEL"
    assert cancel.uri == request.uri
    assert [str(via) for via in cancel.via] == [str(request.top_via)]
    assert str(cancel.cseq) == "1 CANCEL"
    assert cancel.to == request.to
    assert cancel.from_ == request.from_
    assert cancel.route == request.route
    cancel_transaction = transaction.cancel_transaction
    assert isinstance(cancel_transaction, ClientNonInviteTransaction)
    assert layer.cancel(transaction, 0.4) is cancel_transaction  # only one CANCEL
    # The CANCEL's 200 and the INVITE's 487 go to their own transactions.
    assert isinstance(cancel, Request)
    ok = answer(cancel, 200)
    layer.receive(ok, CARRIER_UDP, 0.5)
    assert drain(layer) == [ResponseReceived(ok, cancel_transaction)]
    terminated = answer(request, 487)
    layer.receive(terminated, CARRIER_UDP, 0.6)
    actions = drain(layer)
    assert tu_events(actions) == [ResponseReceived(terminated, transaction)]
    assert [m.method for m in sent_messages(actions)] == ["ACK"]  # type: ignore[union-attr]


def test_invite_is_given_up_64_t1_after_an_unanswered_cancel() -> None:
    request = outgoing("INVITE", transport="TCP")
    layer, transaction = start(request, CARRIER_TCP)
    assert isinstance(transaction, ClientInviteTransaction)
    layer.receive(answer(request, 180), CARRIER_TCP, 1.0)
    drain(layer)
    cancel = layer.cancel(transaction, 10.0)
    assert cancel is not None
    drain(layer)
    layer.receive(answer(cancel.request, 200), CARRIER_TCP, 10.1)
    drain(layer)
    happened = run_timers(layer, 100.0)
    assert happened == [(42.0, TransactionTimedOut(transaction, "cancel"))]


def test_cancel_after_a_final_response_sends_nothing() -> None:
    request = outgoing("INVITE")
    layer, transaction = start(request)
    assert isinstance(transaction, ClientInviteTransaction)
    layer.receive(answer(request, 180), CARRIER_UDP, 0.1)
    layer.receive(answer(request, 200), CARRIER_UDP, 0.2)
    drain(layer)
    assert layer.cancel(transaction, 0.3) is None
    assert drain(layer) == []


def test_transport_error_ends_a_client_transaction_and_tells_the_tu() -> None:
    layer, transaction = start(outgoing("OPTIONS"))
    layer.transport_failed(transaction, 0.1)
    assert drain(layer) == [TransportFailed(transaction)]
    assert transaction.state is State.TERMINATED
    assert layer.next_timer() is None
    layer.transport_failed(transaction, 0.2)  # twice: nothing more
    assert drain(layer) == []


# -- non-INVITE client transaction (§17.1.2) ------------------------------------------------------


def test_non_invite_client_timer_e_is_capped_at_t2_and_timer_f_times_out() -> None:
    request = outgoing("BYE")
    layer, transaction = start(request)
    assert isinstance(transaction, ClientNonInviteTransaction)
    assert transaction.state is State.TRYING
    happened = run_timers(layer, 100.0)
    # Timer E: 0.5, 1, 2, 4, then T2 = 4 s apart; Timer F = 64·T1 = 32 s.
    assert send_times(happened) == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert happened[-1] == (32.0, TransactionTimedOut(transaction, "F"))
    assert transaction.state is State.TERMINATED


def test_non_invite_client_retransmits_every_t2_in_proceeding() -> None:
    request = outgoing("BYE")
    layer, transaction = start(request)
    trying = answer(request, 100)
    layer.receive(trying, CARRIER_UDP, 0.2)
    assert drain(layer) == [ResponseReceived(trying, transaction)]
    assert transaction.state is State.PROCEEDING
    happened = run_timers(layer, 100.0)
    # §17.1.2.2: in Proceeding, each firing of E resets it to T2.
    assert send_times(happened) == [0.5, 4.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5]
    assert happened[-1] == (32.0, TransactionTimedOut(transaction, "F"))


def test_non_invite_client_completed_absorbs_retransmissions_until_timer_k() -> None:
    request = outgoing("BYE")
    layer, transaction = start(request)
    run_timers(layer, 0.9)
    ok = answer(request, 200)
    layer.receive(ok, CARRIER_UDP, 1.0)
    assert drain(layer) == [ResponseReceived(ok, transaction)]
    assert transaction.state is State.COMPLETED
    layer.receive(answer(request, 200), CARRIER_UDP, 1.2)
    assert drain(layer) == []
    assert layer.absorbed == 1
    # Timer K = T4 = 5 s over UDP; no retransmission of the request any more.
    assert run_timers(layer, 100.0) == []
    assert transaction.state is State.TERMINATED
    assert layer.retransmitted == 1  # only the one at 0.5 s


def test_non_invite_client_over_tcp() -> None:
    request = outgoing("BYE", transport="TCP")
    layer, transaction = start(request, CARRIER_TCP)
    assert layer.next_timer() == 32.0  # Timer F only: no Timer E over TCP
    layer.receive(answer(request, 200), CARRIER_TCP, 1.0)
    drain(layer)
    assert transaction.state is State.TERMINATED  # Timer K = 0
    assert layer.live_transactions == 0


# -- INVITE server transaction (§17.2.1) ----------------------------------------------------------


def test_new_invite_gets_100_trying_and_reaches_the_tu() -> None:
    _layer, transaction, actions = invite_server()
    assert transaction.state is State.PROCEEDING
    (trying,) = sent_messages(actions)
    assert isinstance(trying, Response)
    assert trying.status_code == 100
    assert trying.to.tag is None  # §8.2.6.2: no tag in a 100
    assert trying.headers.get("Timestamp") == "54"  # §8.2.6.1
    # §18.2.2 / RFC 3581: to the received address and the rport port.
    assert sends(actions)[0].peer == CUSTOMER_UDP
    assert isinstance(actions[-1], RequestReceived)


def test_100_trying_is_the_tus_choice() -> None:
    layer = TransactionLayer(send_100_trying=False)
    _, transaction, actions = invite_server(layer)
    assert sends(actions) == []
    assert transaction.trying()
    assert [m.status_code for m in sent_messages(drain(layer))] == [100]  # type: ignore[union-attr]
    assert not transaction.trying()  # once, and never after another response


def test_retransmitted_invite_gets_the_last_provisional_again() -> None:
    layer, transaction, _ = invite_server()
    layer.receive(incoming("INVITE"), CUSTOMER_UDP, 0.5)
    resent = drain(layer)
    assert [m.status_code for m in sent_messages(resent)] == [100]  # type: ignore[union-attr]
    assert tu_events(resent) == []
    ringing = make_response(transaction.request, 180, to_tag="b2b-tag")
    assert transaction.respond(ringing, 1.0)
    assert sends(drain(layer)) == [Send(bytes(ringing), CUSTOMER_UDP, transaction)]
    layer.receive(incoming("INVITE"), CUSTOMER_UDP, 1.5)
    assert drain(layer) == [Send(bytes(ringing), CUSTOMER_UDP, transaction)]
    assert transaction.to_tag == "b2b-tag"


def test_non_2xx_final_is_retransmitted_on_timer_g_until_timer_h() -> None:
    layer, transaction, _ = invite_server()
    busy = make_response(transaction.request, 486, to_tag="b2b-tag")
    assert transaction.respond(busy, 0.0)
    assert drain(layer) == [Send(bytes(busy), CUSTOMER_UDP, transaction)]
    assert transaction.state is State.COMPLETED
    assert not transaction.respond(make_response(transaction.request, 200), 0.1)  # one final
    happened = run_timers(layer, 100.0)
    # Timer G: T1 doubling up to T2; Timer H = 64·T1.
    assert send_times(happened) == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert happened[-1] == (32.0, TransactionTimedOut(transaction, "H"))
    assert transaction.state is State.TERMINATED


def test_retransmitted_invite_in_completed_gets_the_final_again() -> None:
    layer, transaction, _ = invite_server()
    busy = make_response(transaction.request, 486, to_tag="b2b-tag")
    transaction.respond(busy, 0.0)
    drain(layer)
    layer.receive(incoming("INVITE"), CUSTOMER_UDP, 0.2)
    assert drain(layer) == [Send(bytes(busy), CUSTOMER_UDP, transaction)]


def test_ack_confirms_stops_timer_g_and_timer_i_terminates() -> None:
    layer, transaction, _ = invite_server()
    transaction.respond(make_response(transaction.request, 486, to_tag="b2b-tag"), 0.0)
    drain(layer)
    run_timers(layer, 2.0)  # G at 0.5 and 1.5
    layer.receive(incoming("ACK", to_tag="b2b-tag"), CUSTOMER_UDP, 2.0)
    assert drain(layer) == []  # the ACK of a non-2xx stays in the transaction
    assert transaction.state is State.CONFIRMED
    assert transaction.acked
    layer.receive(incoming("ACK", to_tag="b2b-tag"), CUSTOMER_UDP, 2.5)  # absorbed
    assert drain(layer) == []
    # Timer I = T4 = 5 s; no more Timer G.
    assert layer.next_timer() == pytest.approx(7.0)
    assert run_timers(layer, 100.0) == []
    assert transaction.state is State.TERMINATED


def test_invite_server_over_tcp_no_timer_g_and_timer_i_is_zero() -> None:
    layer = TransactionLayer()
    _, transaction, actions = invite_server(layer, transport="TCP", source=CUSTOMER_TCP)
    assert sends(actions)[0].peer == CUSTOMER_TCP  # the connection it came on
    transaction.respond(make_response(transaction.request, 404, to_tag="t"), 0.0)
    drain(layer)
    assert layer.next_timer() == 32.0  # Timer H only
    layer.receive(incoming("ACK", transport="TCP", to_tag="t"), CUSTOMER_TCP, 1.0)
    assert transaction.state is State.TERMINATED
    assert layer.live_transactions == 0


def test_timer_h_over_tcp() -> None:
    layer = TransactionLayer()
    _, transaction, _ = invite_server(layer, transport="TCP", source=CUSTOMER_TCP)
    transaction.respond(make_response(transaction.request, 404, to_tag="t"), 0.0)
    drain(layer)
    assert run_timers(layer, 100.0) == [(32.0, TransactionTimedOut(transaction, "H"))]


def test_2xx_moves_the_server_to_accepted_and_is_retransmitted_until_acked() -> None:
    layer, transaction, _ = invite_server()
    ok = make_response(transaction.request, 200, to_tag="b2b-tag")
    transaction.respond(ok, 0.0)
    drain(layer)
    assert transaction.state is State.ACCEPTED
    happened = run_timers(layer, 4.0)
    assert send_times(happened) == [0.5, 1.5, 3.5]  # §13.3.1.4: T1, 2·T1, 4·T1 …
    # RFC 6026 §8.7: a retransmitted INVITE is absorbed in Accepted (not passed up).
    layer.receive(incoming("INVITE"), CUSTOMER_UDP, 4.0)
    assert drain(layer) == []
    # The ACK for the 2xx has its own branch: it reaches the TU with the transaction.
    ack = incoming("ACK", branch="z9hG4bKcust-ack", to_tag="b2b-tag")
    layer.receive(ack, CUSTOMER_UDP, 4.2)
    assert drain(layer) == [RequestReceived(ack, CUSTOMER_UDP, transaction)]
    layer.receive(incoming("ACK", branch="z9hG4bKcust-ack", to_tag="b2b-tag"), CUSTOMER_UDP, 4.3)
    assert drain(layer) == []  # the same ACK again is absorbed
    # No more 2xx retransmissions; Timer L ends the transaction silently.
    assert run_timers(layer, 100.0) == []
    assert transaction.state is State.TERMINATED
    # An ACK after that still goes to the TU (for the dialog), without a transaction.
    late = incoming("ACK", branch="z9hG4bKcust-ack2", to_tag="b2b-tag")
    layer.receive(late, CUSTOMER_UDP, 50.0)
    assert drain(layer) == [RequestReceived(late, CUSTOMER_UDP, None)]


def test_2xx_never_acked_is_reported_at_timer_l() -> None:
    layer, transaction, _ = invite_server()
    transaction.respond(make_response(transaction.request, 200, to_tag="b2b-tag"), 0.0)
    drain(layer)
    happened = run_timers(layer, 100.0)
    assert send_times(happened) == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert happened[-1] == (32.0, TransactionTimedOut(transaction, "L"))


def test_2xx_retransmission_can_be_left_to_the_tu() -> None:
    layer = TransactionLayer(retransmit_2xx=False)
    _, transaction, _ = invite_server(layer)
    ok = make_response(transaction.request, 200, to_tag="b2b-tag")
    transaction.respond(ok, 0.0)
    drain(layer)
    assert layer.next_timer() == 32.0  # Timer L only
    assert transaction.respond(ok, 0.5)  # the TU's own retransmission is sent in Accepted
    assert drain(layer) == [Send(bytes(ok), CUSTOMER_UDP, transaction)]
    assert not transaction.respond(make_response(transaction.request, 486), 0.6)


def test_ack_with_another_to_tag_does_not_ack_our_2xx() -> None:
    layer, transaction, _ = invite_server()
    transaction.respond(make_response(transaction.request, 200, to_tag="b2b-tag"), 0.0)
    drain(layer)
    other = incoming("ACK", branch="z9hG4bKcust-ack", to_tag="someone-else")
    layer.receive(other, CUSTOMER_UDP, 0.2)
    assert drain(layer) == [RequestReceived(other, CUSTOMER_UDP, None)]
    assert not transaction.acked
    assert send_times(run_timers(layer, 1.0)) == [0.5]  # still retransmitting the 2xx


def test_transport_error_ends_a_server_transaction_and_tells_the_tu() -> None:
    layer, transaction, _ = invite_server()
    transaction.respond(make_response(transaction.request, 486, to_tag="t"), 0.0)
    drain(layer)
    layer.transport_failed(transaction, 0.1)
    assert drain(layer) == [TransportFailed(transaction)]
    assert transaction.state is State.TERMINATED
    assert layer.live_transactions == 0
    assert layer.next_timer() is None


def test_unreadable_messages_are_dropped_not_raised() -> None:
    layer = TransactionLayer()
    # Not from the parser: no Via, no CSeq. The layer counts it and moves on.
    layer.receive(Request("OPTIONS", "sip:x@y"), CUSTOMER_UDP, 0.0)
    layer.receive(Response(200), CARRIER_UDP, 0.0)
    assert drain(layer) == []
    assert layer.dropped == 2


# -- non-INVITE server transaction (§17.2.2) ------------------------------------------------------


def test_non_invite_server_states_and_timer_j() -> None:
    layer = TransactionLayer()
    request = incoming("BYE", to_tag="b2b-tag")
    layer.receive(request, CUSTOMER_UDP, 0.0)
    (event,) = drain(layer)
    assert isinstance(event, RequestReceived)
    transaction = event.transaction
    assert isinstance(transaction, ServerNonInviteTransaction)
    assert transaction.state is State.TRYING
    layer.receive(incoming("BYE", to_tag="b2b-tag"), CUSTOMER_UDP, 0.5)
    assert drain(layer) == []  # Trying: absorbed without an answer
    trying = make_response(request, 100)
    transaction.respond(trying, 0.6)
    assert transaction.state is State.PROCEEDING
    drain(layer)
    layer.receive(incoming("BYE", to_tag="b2b-tag"), CUSTOMER_UDP, 1.0)
    assert drain(layer) == [Send(bytes(trying), CUSTOMER_UDP, transaction)]
    ok = make_response(request, 200)
    transaction.respond(ok, 1.1)
    assert transaction.state is State.COMPLETED
    drain(layer)
    layer.receive(incoming("BYE", to_tag="b2b-tag"), CUSTOMER_UDP, 2.0)
    assert drain(layer) == [Send(bytes(ok), CUSTOMER_UDP, transaction)]
    assert not transaction.respond(make_response(request, 500), 2.1)
    # Timer J = 64·T1 over UDP.
    assert layer.next_timer() == pytest.approx(33.1)
    assert run_timers(layer, 100.0) == []
    assert transaction.state is State.TERMINATED
    assert layer.absorbed == 3


def test_non_invite_server_over_tcp_ends_with_its_final_response() -> None:
    layer = TransactionLayer()
    request = incoming("OPTIONS", transport="TCP", source=CUSTOMER_TCP)
    layer.receive(request, CUSTOMER_TCP, 0.0)
    (event,) = drain(layer)
    assert isinstance(event, RequestReceived)
    assert event.transaction is not None
    event.transaction.respond(make_response(request, 200, to_tag="x"), 0.0)
    assert event.transaction.state is State.TERMINATED  # Timer J = 0
    assert layer.live_transactions == 0


# -- matching (§17.1.3, §17.2.3, §9.2) ------------------------------------------------------------


def new_requests(layer: TransactionLayer, *requests: Request) -> list[Transaction | None]:
    found: list[Transaction | None] = []
    for request in requests:
        layer.receive(request, CUSTOMER_UDP, 0.0)
        events = [a for a in drain(layer) if isinstance(a, RequestReceived)]
        found.append(events[0].transaction if events else None)
    return found


def test_server_matching_uses_branch_sent_by_and_method() -> None:
    layer = TransactionLayer()
    first, same, other_branch, other_sent_by, other_method = new_requests(
        layer,
        incoming("OPTIONS"),
        incoming("OPTIONS"),
        incoming("OPTIONS", branch="z9hG4bKcust-2"),
        incoming("OPTIONS", sent_by="192.0.2.99:5062"),
        incoming("INFO"),
    )
    assert first is not None
    assert same is None  # a retransmission: absorbed
    assert len({id(first), id(other_branch), id(other_sent_by), id(other_method)}) == 4
    assert layer.live_transactions == 4
    # sent-by compares host names without regard to case.
    assert new_requests(layer, incoming("OPTIONS", sent_by="192.0.2.10:5062")) == [None]


def test_ack_for_a_non_2xx_matches_the_invite_by_branch() -> None:
    layer, transaction, _ = invite_server()
    transaction.respond(make_response(transaction.request, 480, to_tag="t"), 0.0)
    drain(layer)
    # Another INVITE transaction with another branch is not acknowledged by this ACK.
    layer.receive(incoming("ACK", branch="z9hG4bKother", to_tag="t"), CUSTOMER_UDP, 0.1)
    assert [type(a) for a in drain(layer)] == [RequestReceived]
    assert transaction.state is State.COMPLETED
    layer.receive(incoming("ACK", to_tag="t"), CUSTOMER_UDP, 0.2)
    assert drain(layer) == []
    assert transaction.state is State.CONFIRMED


def test_cancel_finds_its_invite_and_is_answered_by_the_layer() -> None:
    layer, transaction, _ = invite_server()
    ringing = make_response(transaction.request, 180, to_tag="b2b-tag")
    transaction.respond(ringing, 0.1)
    drain(layer)
    cancel = incoming("CANCEL", cseq_method="CANCEL")
    layer.receive(cancel, CUSTOMER_UDP, 1.0)
    actions = drain(layer)
    (ok,) = sent_messages(actions)
    assert isinstance(ok, Response)
    assert (ok.status_code, ok.cseq.method) == (200, "CANCEL")
    assert ok.to.tag == "b2b-tag"  # §9.2: the To tag of the INVITE's responses
    assert tu_events(actions) == [CancelReceived(cancel, CUSTOMER_UDP, transaction)]
    assert transaction.cancelled
    # The TU answers the INVITE with 487; the CANCEL retransmission gets its 200 again.
    transaction.respond(make_response(transaction.request, 487, to_tag=transaction.to_tag), 1.1)
    assert [m.status_code for m in sent_messages(drain(layer))] == [487]  # type: ignore[union-attr]
    layer.receive(incoming("CANCEL", cseq_method="CANCEL"), CUSTOMER_UDP, 1.5)
    assert [m.status_code for m in sent_messages(drain(layer))] == [200]  # type: ignore[union-attr]


def test_cancel_before_any_response_chooses_the_to_tag_for_the_487() -> None:
    layer, transaction, _ = invite_server(TransactionLayer(send_100_trying=False))
    layer.receive(incoming("CANCEL", cseq_method="CANCEL"), CUSTOMER_UDP, 0.1)
    (ok,) = sent_messages(drain(layer))
    assert isinstance(ok, Response)
    assert ok.to.tag is not None
    assert ok.to.tag == transaction.to_tag


def test_cancel_without_invite_gets_481_and_after_the_final_changes_nothing() -> None:
    layer = TransactionLayer()
    layer.receive(incoming("CANCEL", cseq_method="CANCEL"), CUSTOMER_UDP, 0.0)
    actions = drain(layer)
    assert [m.status_code for m in sent_messages(actions)] == [481]  # type: ignore[union-attr]
    assert tu_events(actions) == []
    layer, transaction, _ = invite_server()
    transaction.respond(make_response(transaction.request, 200, to_tag="t"), 0.0)
    drain(layer)
    layer.receive(incoming("CANCEL", cseq_method="CANCEL"), CUSTOMER_UDP, 0.1)
    actions = drain(layer)
    assert [m.status_code for m in sent_messages(actions)] == [200]  # type: ignore[union-attr]
    assert tu_events(actions) == []


@pytest.mark.parametrize("branch", [None, "z9hG4bK", "1234abcd"])
def test_rfc_2543_requests_match_without_a_magic_cookie(branch: str | None) -> None:
    layer = TransactionLayer()
    _, transaction, _ = invite_server(layer, branch=branch, rport=False)
    # A retransmission is matched by Request-URI, tags, Call-ID, CSeq and top Via.
    layer.receive(incoming("INVITE", branch=branch, rport=False), CUSTOMER_UDP, 0.5)
    assert tu_events(drain(layer)) == []
    # Another CSeq is another transaction.
    assert new_requests(layer, incoming("INVITE", branch=branch, rport=False, cseq=2)) != [None]
    transaction.respond(make_response(transaction.request, 486, to_tag="b2b"), 1.0)
    drain(layer)
    # An ACK with another To tag than our response's does not match …
    stray = incoming("ACK", branch=branch, rport=False, to_tag="nope")
    layer.receive(stray, CUSTOMER_UDP, 1.1)
    assert drain(layer) == [RequestReceived(stray, CUSTOMER_UDP, None)]
    # … the one with our tag does.
    layer.receive(incoming("ACK", branch=branch, rport=False, to_tag="b2b"), CUSTOMER_UDP, 1.2)
    assert drain(layer) == []
    assert transaction.state is State.CONFIRMED


def test_rfc_2543_cancel_finds_its_invite() -> None:
    layer, transaction, _ = invite_server(branch=None)
    cancel = incoming("CANCEL", branch=None, cseq_method="CANCEL")
    layer.receive(cancel, CUSTOMER_UDP, 0.1)
    assert tu_events(drain(layer)) == [CancelReceived(cancel, CUSTOMER_UDP, transaction)]


def test_responses_match_by_branch_and_cseq_method() -> None:
    request = outgoing("INVITE")
    layer, transaction = start(request)
    # Same branch, CSeq method CANCEL: the CANCEL's transaction, which does not exist.
    cancel_ok = parse(bytes(make_response(request, 200)).replace(b"1 INVITE", b"1 CANCEL"))
    layer.receive(cancel_ok, CARRIER_UDP, 0.1)
    assert drain(layer) == [StrayResponseReceived(cancel_ok, CARRIER_UDP)]  # type: ignore[arg-type]
    other = outgoing("INVITE")
    stray = answer(other, 180)
    layer.receive(stray, CARRIER_UDP, 0.2)
    assert drain(layer) == [StrayResponseReceived(stray, CARRIER_UDP)]
    assert transaction.state is State.CALLING


def test_responses_over_udp_follow_received_and_rport() -> None:
    layer = TransactionLayer()
    # Behind NAT: sent-by says 10.0.0.7:5060, the packet came from 192.0.2.10:5062.
    request = incoming("OPTIONS", sent_by="10.0.0.7:5060")
    layer.receive(request, CUSTOMER_UDP, 0.0)
    (event,) = drain(layer)
    assert isinstance(event, RequestReceived)
    assert event.transaction is not None
    assert event.transaction.reply_to == CUSTOMER_UDP
    # Without rport: the received address, the sent-by port (§18.2.2).
    request = incoming("OPTIONS", sent_by="10.0.0.7:5070", rport=False, branch="z9hG4bKx")
    layer.receive(request, CUSTOMER_UDP, 0.0)
    (event,) = drain(layer)
    assert isinstance(event, RequestReceived)
    assert event.transaction is not None
    assert event.transaction.reply_to == Peer("UDP", "192.0.2.10", 5070)


def test_too_many_transactions_are_refused_with_503() -> None:
    layer = TransactionLayer(max_transactions=2, retry_after=7)
    first, second = new_requests(
        layer, incoming("OPTIONS"), incoming("INVITE", branch="z9hG4bKinv")
    )
    assert first is not None
    assert second is not None
    refused = incoming("OPTIONS", branch="z9hG4bKthird")
    layer.receive(refused, CUSTOMER_UDP, 0.0)
    actions = drain(layer)
    (reply,) = sent_messages(actions)
    assert isinstance(reply, Response)
    assert reply.status_code == 503
    assert reply.headers.get("Retry-After") == "7"
    assert tu_events(actions) == [RequestRefused(refused, CUSTOMER_UDP, 503)]
    assert layer.live_transactions == 2
    assert layer.refused == 1
    # Retransmissions and CANCELs of live transactions still work at the limit.
    layer.receive(incoming("OPTIONS"), CUSTOMER_UDP, 0.1)
    assert drain(layer) == []
    cancel = incoming("CANCEL", branch="z9hG4bKinv", cseq_method="CANCEL")
    layer.receive(cancel, CUSTOMER_UDP, 0.2)
    assert CancelReceived(cancel, CUSTOMER_UDP, second) in drain(layer)  # type: ignore[arg-type]


def test_send_request_refuses_what_it_cannot_match() -> None:
    layer = TransactionLayer()
    ack = outgoing("ACK")
    with pytest.raises(TransactionError):
        layer.send_request(ack, CARRIER_UDP, 0.0)
    no_cookie = outgoing("BYE")
    no_cookie.set_top_via(Via("UDP", "198.51.100.1", 5060, Params([("branch", "abc")])))
    with pytest.raises(TransactionError):
        layer.send_request(no_cookie, CARRIER_UDP, 0.0)
    request = outgoing("BYE")
    layer.send_request(request, CARRIER_UDP, 0.0)
    with pytest.raises(TransactionError):
        layer.send_request(request, CARRIER_UDP, 0.0)


def test_branches_and_tags_are_random_tokens() -> None:
    branches = {new_branch() for _ in range(1000)}
    assert len(branches) == 1000
    assert all(b.startswith("z9hG4bK") and len(b) == 27 for b in branches)
    assert len({new_tag() for _ in range(1000)}) == 1000


def test_many_short_transactions_keep_the_timer_heap_bounded() -> None:
    layer = TransactionLayer()
    now = 0.0
    for _ in range(1500):
        request = outgoing("OPTIONS", transport="TCP")
        layer.send_request(request, CARRIER_TCP, now)
        layer.receive(answer(request, 200), CARRIER_TCP, now + 0.001)
        now += 0.001
    drain(layer)
    # Each left a 32 s Timer F entry behind; they were compacted away.
    assert layer.live_transactions == 0
    assert len(layer._heap) < 1500 / 2
    assert layer.next_timer() is None


# -- property: random inputs never raise and never reach an illegal state ------------------------

LEGAL = {
    ClientInviteTransaction: {
        State.CALLING: {State.PROCEEDING, State.COMPLETED, State.ACCEPTED, State.TERMINATED},
        State.PROCEEDING: {State.COMPLETED, State.ACCEPTED, State.TERMINATED},
        State.COMPLETED: {State.TERMINATED},
        State.ACCEPTED: {State.TERMINATED},
    },
    ClientNonInviteTransaction: {
        State.TRYING: {State.PROCEEDING, State.COMPLETED, State.TERMINATED},
        State.PROCEEDING: {State.COMPLETED, State.TERMINATED},
        State.COMPLETED: {State.TERMINATED},
    },
    ServerInviteTransaction: {
        State.PROCEEDING: {State.COMPLETED, State.ACCEPTED, State.TERMINATED},
        State.COMPLETED: {State.CONFIRMED, State.TERMINATED},
        State.CONFIRMED: {State.TERMINATED},
        State.ACCEPTED: {State.TERMINATED},
    },
    ServerNonInviteTransaction: {
        State.TRYING: {State.PROCEEDING, State.COMPLETED, State.TERMINATED},
        State.PROCEEDING: {State.COMPLETED, State.TERMINATED},
        State.COMPLETED: {State.TERMINATED},
    },
}


def reachable(kind: type, state: State) -> set[State]:
    seen = {state}
    todo = [state]
    while todo:
        for after in LEGAL[kind].get(todo.pop(), set()):
            if after not in seen:
                seen.add(after)
                todo.append(after)
    return seen


codes = st.sampled_from([100, 180, 183, 200, 202, 300, 404, 486, 487, 503, 606])
tags = st.sampled_from(["t1", "t2"])
# Mostly short waits (so messages meet every state), sometimes long ones (so every timer fires).
waits = st.floats(0.0, 2.0) | st.floats(0.0, 40.0)


def steps(kinds: list[str]) -> st.SearchStrategy[list[tuple[str, float, str]]]:
    """Sequences of (kind, value, tag): a response code or a wait in seconds, and a To tag."""
    step = st.sampled_from(kinds).flatmap(
        lambda kind: st.tuples(st.just(kind), waits if kind == "wait" else codes.map(float), tags)
    )
    return st.lists(step, max_size=20)


# Repeated kinds are drawn more often; a transport failure ends the story, so it is rare.
client_steps = steps(["response"] * 4 + ["wait"] * 3 + ["cancel", "ack", "stray", "fail"])
server_steps = steps(
    ["respond"] * 3
    + ["wait"] * 3
    + ["again", "again", "ack", "ack", "ack2xx", "ack2xx", "cancel", "trying", "fail"]
)
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_step(
    layer: TransactionLayer, transaction: Transaction, before: State, actions: list[Action]
) -> None:
    assert transaction.state in reachable(type(transaction), before)
    if before is State.TERMINATED:
        # Nothing is ever sent or reported for a transaction after it ended.
        assert all(getattr(a, "transaction", None) is not transaction for a in actions)
    if transaction.state is State.TERMINATED:
        assert transaction.deadline is None
    elif transaction.deadline is not None:
        next_timer = layer.next_timer()
        assert next_timer is not None
        assert next_timer <= transaction.deadline


@PROPERTY
@given(
    method=st.sampled_from(["INVITE", "BYE"]),
    transport=st.sampled_from(["UDP", "TCP"]),
    steps=client_steps,
)
def test_client_transactions_survive_any_sequence(
    method: str, transport: str, steps: list[tuple[str, float, str]]
) -> None:
    peer = CARRIER_UDP if transport == "UDP" else CARRIER_TCP
    request = outgoing(method, transport=transport)
    layer = TransactionLayer()
    transaction = layer.send_request(request, peer, 0.0)
    drain(layer)
    now = 0.0
    for kind, value, tag in steps:
        before = transaction.state
        if kind == "response":
            layer.receive(answer(request, int(value), to_tag=tag), peer, now)
        elif kind == "wait":
            now += value
            layer.handle_timer(now)
        elif kind == "cancel" and isinstance(transaction, ClientInviteTransaction):
            layer.cancel(transaction, now)
        elif kind == "ack" and isinstance(transaction, ClientInviteTransaction):
            ack = outgoing("ACK", transport=transport)
            ack.headers.set("To", "<sip:x@y>;tag=t1")
            layer.send_ack(ack, peer, transaction)
        elif kind == "fail":
            layer.transport_failed(transaction, now)
        elif kind == "stray":
            layer.receive(answer(outgoing(method), 200), peer, now)
        check_step(layer, transaction, before, drain(layer))
    layer.handle_timer(now + 1000.0)
    drain(layer)
    if transaction.state is not State.PROCEEDING or method != "INVITE":
        # Only an INVITE in Proceeding (ringing, no CANCEL) may wait for ever.
        assert transaction.state is State.TERMINATED
        assert layer.live_transactions == 0 or transaction.cancel_transaction is not None  # type: ignore[attr-defined]


@PROPERTY
@given(
    method=st.sampled_from(["INVITE", "OPTIONS"]),
    transport=st.sampled_from(["UDP", "TCP"]),
    steps=server_steps,
)
def test_server_transactions_survive_any_sequence(
    method: str, transport: str, steps: list[tuple[str, float, str]]
) -> None:
    peer = CUSTOMER_UDP if transport == "UDP" else CUSTOMER_TCP
    layer = TransactionLayer()
    request = incoming(method, transport=transport, source=peer)
    layer.receive(request, peer, 0.0)
    (event,) = tu_events(drain(layer))
    assert isinstance(event, RequestReceived)
    transaction = event.transaction
    assert transaction is not None
    branches = itertools.count()
    now = 0.0
    for kind, value, tag in steps:
        before = transaction.state
        if kind == "respond":
            transaction.respond(make_response(request, int(value), to_tag=tag), now)
        elif kind == "wait":
            now += value
            layer.handle_timer(now)
        elif kind == "again":
            layer.receive(incoming(method, transport=transport, source=peer), peer, now)
        elif kind == "ack":
            layer.receive(incoming("ACK", transport=transport, to_tag=tag), peer, now)
        elif kind == "ack2xx":
            branch = f"z9hG4bKack{next(branches)}"
            ack = incoming("ACK", transport=transport, to_tag="t1", branch=branch)
            layer.receive(ack, peer, now)
        elif kind == "cancel":
            cancel = incoming("CANCEL", transport=transport, cseq_method="CANCEL")
            layer.receive(cancel, peer, now)
        elif kind == "trying" and isinstance(transaction, ServerInviteTransaction):
            transaction.trying()
        elif kind == "fail":
            layer.transport_failed(transaction, now)
        check_step(layer, transaction, before, drain(layer))
    layer.handle_timer(now + 1000.0)
    drain(layer)
    waiting = State.PROCEEDING if method == "INVITE" else State.TRYING
    if transaction.state is not waiting and transaction.state is not State.PROCEEDING:
        # Without a final response a server transaction waits for its TU; otherwise it ends.
        assert transaction.state is State.TERMINATED
        assert layer.find_server(request) is not transaction
