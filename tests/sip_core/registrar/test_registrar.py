"""The registrar's decisions (sans network): digest, expiry rules, contacts, NAT, unregister;
and the inbound resolution's Request-URI (retain DID), contact order and refusals."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from libs.bus.cdr import ReleaseReason
from libs.bus.registrations import Registration
from libs.liveconfig.models import (
    BalanceConfig,
    CustomerConfig,
    IpAuthConfig,
    RewriteConfig,
    SettingsConfig,
    SipUserConfig,
)
from libs.security.digest import compute_response, ha1
from services.sip_core.b2bua.policy import Admission, Refusal
from services.sip_core.config import RegistrarSettings
from services.sip_core.policy import LivePolicy
from services.sip_core.policy.snapshot import RateCardCache, build_snapshot
from services.sip_core.registrar import BindingStore, BindingTable, RegisteredUserTarget
from services.sip_core.registrar.registrar import Registrar
from services.sip_core.sip import Peer, Request, Response, parse_auth, parse_datagram

PASSWORD = "correct horse battery"
CUSTOMER = uuid.uuid4()
ALICE = uuid.uuid4()
CARRIER_ENTRY = uuid.uuid4()
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SOURCE = Peer("UDP", "127.0.0.5", 5070)


def user(username: str = "alice", **extra: Any) -> SipUserConfig:
    values: dict[str, Any] = {
        "id": ALICE, "customer_id": CUSTOMER, "username": username, "realm": "tandem",
        "ha1_md5": ha1(username, "tandem", PASSWORD, "MD5"),
        "ha1_sha256": ha1(username, "tandem", PASSWORD, "SHA-256"),
    }  # fmt: skip
    values.update(extra)
    return SipUserConfig(**values)


def policy(*objects: Any) -> LivePolicy:
    grouped: dict[str, dict[uuid.UUID, Any]] = {}
    for obj in (
        CustomerConfig(id=CUSTOMER, name="ACME", status="active", currency="EUR", debit_limit="0"),
        SettingsConfig(id=uuid.UUID(int=1)),
        *objects,
    ):
        grouped.setdefault(obj.kind, {})[obj.id] = obj
    live = LivePolicy(None, clock=lambda: 100.0, wall_clock=lambda: NOW)
    live.install(build_snapshot(grouped, RateCardCache()))
    return live


class Phone:
    """A UA talking to the registrar: builds REGISTERs and answers its challenges."""

    def __init__(self, registrar: Registrar, username: str = "alice") -> None:
        self.registrar = registrar
        self.username = username
        self.cseq = 0
        self.call_id = uuid.uuid4().hex
        self.password = PASSWORD
        #: The address of record (To); the username's own unless changed.
        self.aor: str | None = None

    def request(self, contacts: list[str], expires: int | None, auth: str = "") -> Request:
        self.cseq += 1
        lines = [
            "REGISTER sip:127.0.0.1 SIP/2.0",
            f"Via: SIP/2.0/UDP {SOURCE.host}:{SOURCE.port};branch=z9hG4bK{uuid.uuid4().hex}",
            f"From: <sip:{self.username}@127.0.0.1>;tag=abc",
            f"To: <sip:{self.aor or self.username}@127.0.0.1>",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} REGISTER",
            *(f"Contact: {c}" for c in contacts),
            *([f"Expires: {expires}"] if expires is not None else []),
            *([auth] if auth else []),
            "Content-Length: 0",
        ]
        message = parse_datagram(("\r\n".join(lines) + "\r\n\r\n").encode())
        assert isinstance(message, Request)
        return message

    def register(
        self, contacts: list[str], expires: int | None = 600, source: Peer = SOURCE
    ) -> Response:
        """REGISTER, answer the 401, return the final answer."""
        first = self.registrar.register(self.request(contacts, expires), source)
        if first.status_code != 401:
            return first
        challenge = parse_auth(first.headers.get_all("WWW-Authenticate")[0])
        nonce = challenge.get("nonce") or ""
        algorithm = challenge.get("algorithm") or "MD5"
        secret = ha1(self.username, "tandem", self.password, algorithm)
        uri = "sip:127.0.0.1"
        response = compute_response(
            secret, method="REGISTER", uri=uri, nonce=nonce, algorithm=algorithm,
            qop="auth", nc="00000001", cnonce="c0ffee",
        )  # fmt: skip
        auth = (
            f'Authorization: Digest username="{self.username}", realm="tandem", '
            f'nonce="{nonce}", uri="{uri}", response="{response}", algorithm={algorithm}, '
            f'qop=auth, nc=00000001, cnonce="c0ffee"'
        )
        return self.registrar.register(self.request(contacts, expires, auth), source)


def registrar(live: LivePolicy, **settings: Any) -> Registrar:
    table = BindingTable("node-a")
    store = BindingStore(None, table)  # type: ignore[arg-type]  # never started: no bus
    return Registrar(
        None,  # type: ignore[arg-type]  # register() does not send
        live, store, RegistrarSettings(**settings), node_id="node-a", clock=lambda: 100.0,
        wall_clock=lambda: NOW,
    )  # fmt: skip


def contacts_of(response: Response) -> list[str]:
    return response.headers.get_all("Contact")


def test_register_is_challenged_with_401_and_accepted_with_the_password() -> None:
    reg = registrar(policy(user()))
    phone = Phone(reg)
    first = reg.register(phone.request(["<sip:alice@127.0.0.5:5070>"], 600), SOURCE)
    assert first.status_code == 401
    challenges = first.headers.get_all("WWW-Authenticate")
    assert [parse_auth(c).get("algorithm") for c in challenges] == ["SHA-256", "MD5"]
    assert "Proxy-Authenticate" not in first.headers

    ok = phone.register(["<sip:alice@127.0.0.5:5070>"], 600)
    assert ok.status_code == 200
    assert contacts_of(ok) == ["<sip:alice@127.0.0.5:5070>;expires=600"]
    (binding,) = reg.store.table.of_user(ALICE, NOW)
    assert binding.target_host == "127.0.0.5"
    assert binding.target_port == 5070
    assert binding.nat is False
    assert binding.expires_at == NOW + timedelta(seconds=600)
    assert binding.node_id == "node-a"


def test_a_wrong_password_or_someone_elses_aor_is_forbidden() -> None:
    reg = registrar(policy(user()))
    phone = Phone(reg)
    phone.password = "not the password"
    assert phone.register(["<sip:alice@127.0.0.5:5070>"]).status_code == 403
    # Right credentials, but for another user's address of record (To).
    mallory = Phone(reg)
    mallory.aor = "bob"
    assert mallory.register(["<sip:x@127.0.0.5:5070>"]).status_code == 403
    assert not reg.store.table.of_user(ALICE, NOW)


def test_expiry_is_bounded_too_brief_gets_423_with_min_expires() -> None:
    reg = registrar(policy(user()), min_expires=60, max_expires=300, default_expires=120)
    phone = Phone(reg)
    brief = phone.register(["<sip:alice@127.0.0.5:5070>"], 30)
    assert brief.status_code == 423
    assert brief.headers.get("Min-Expires") == "60"
    assert not reg.store.table.of_user(ALICE, NOW)

    capped = phone.register(["<sip:alice@127.0.0.5:5070>"], 7200)
    assert contacts_of(capped) == ["<sip:alice@127.0.0.5:5070>;expires=300"]
    default = phone.register(["<sip:alice@127.0.0.5:5071>"], None)
    assert "<sip:alice@127.0.0.5:5071>;expires=120" in contacts_of(default)


def test_several_contacts_per_user_expires_zero_and_star_unregister() -> None:
    reg = registrar(policy(user()), max_contacts=3)
    phone = Phone(reg)
    assert phone.register(["<sip:alice@127.0.0.5:5070>"]).status_code == 200
    both = phone.register(["<sip:alice@127.0.0.6:5070>;expires=300;q=0.5"])
    assert sorted(contacts_of(both)) == [
        "<sip:alice@127.0.0.5:5070>;expires=600",
        "<sip:alice@127.0.0.6:5070>;expires=300",
    ]
    order = [b.contact for b in reg.store.table.of_user(ALICE, NOW)]
    assert order == ["sip:alice@127.0.0.5:5070", "sip:alice@127.0.0.6:5070"]  # q=1 first

    gone = phone.register(["<sip:alice@127.0.0.5:5070>;expires=0"])
    assert contacts_of(gone) == ["<sip:alice@127.0.0.6:5070>;expires=300"]

    star = phone.register(["*"], 0)
    assert star.status_code == 200
    assert contacts_of(star) == []
    assert not reg.store.table.of_user(ALICE, NOW)
    assert phone.register(["*"], 60).status_code == 400  # '*' needs Expires: 0


def test_beyond_max_contacts_the_oldest_binding_makes_room() -> None:
    moments = [NOW]
    reg = registrar(policy(user()), max_contacts=2)
    reg.wall_clock = lambda: moments[-1]
    phone = Phone(reg)
    for port in (5070, 5071, 5072):
        moments.append(moments[-1] + timedelta(seconds=1))
        assert phone.register([f"<sip:alice@127.0.0.5:{port}>"]).status_code == 200
    kept = sorted(b.contact for b in reg.store.table.of_user(ALICE, moments[-1]))
    assert kept == ["sip:alice@127.0.0.5:5071", "sip:alice@127.0.0.5:5072"]


def test_nat_private_contacts_and_force_nat_entries_use_the_source() -> None:
    force = IpAuthConfig(
        id=uuid.uuid4(), owner="customer", customer_id=CUSTOMER, address="127.0.0.9",
        direction="ingress", force_nat=True,
    )  # fmt: skip
    reg = registrar(policy(user(), force))
    phone = Phone(reg)
    # A phone behind NAT that puts its private address in Contact.
    phone.register(["<sip:alice@192.168.1.20:5060>"])
    (behind,) = reg.store.table.of_user(ALICE, NOW)
    assert (behind.target_host, behind.target_port, behind.nat) == ("127.0.0.5", 5070, True)
    # A public-looking Contact is trusted unless force-NAT covers the source.
    phone.register(["<sip:alice@192.168.1.20:5060>;expires=0", "<sip:alice@127.0.0.7:5090>"])
    (direct,) = reg.store.table.of_user(ALICE, NOW)
    assert (direct.target_host, direct.target_port, direct.nat) == ("127.0.0.7", 5090, False)
    forced_from = Peer("UDP", "127.0.0.9", 6000)
    phone.register(["<sip:alice@127.0.0.7:5090>"], source=forced_from)
    (forced,) = reg.store.table.of_user(ALICE, NOW)
    assert (forced.target_host, forced.target_port, forced.nat) == ("127.0.0.9", 6000, True)
    # Over TCP the connection is the way back.
    phone.register(["<sip:alice@127.0.0.7:5090>"], source=Peer("TCP", "127.0.0.5", 41000))
    (tcp,) = reg.store.table.of_user(ALICE, NOW)
    assert (tcp.transport, tcp.target_port) == ("tcp", 41000)


def test_outside_the_allow_list_and_inactive_accounts_cannot_register() -> None:
    reg = registrar(policy(user(allowed_sources=["10.0.0.0/8"])))
    assert Phone(reg).register(["<sip:alice@127.0.0.5:5070>"]).status_code == 403
    suspended = CustomerConfig(
        id=CUSTOMER, name="ACME", status="suspended", currency="EUR", debit_limit="0"
    )
    reg = registrar(policy(user(), suspended))
    assert Phone(reg).register(["<sip:alice@127.0.0.5:5070>"]).status_code == 403


def test_an_out_of_order_cseq_changes_nothing() -> None:
    reg = registrar(policy(user()))
    phone = Phone(reg)
    assert phone.register(["<sip:alice@127.0.0.5:5070>"], 600).status_code == 200
    phone.cseq = 0  # the same Call-ID with a lower CSeq
    assert phone.register(["<sip:alice@127.0.0.5:5070>"], 60).status_code == 500
    (binding,) = reg.store.table.of_user(ALICE, NOW)
    assert binding.expires_at == NOW + timedelta(seconds=600)


# -- calls to registered users ----------------------------------------------------------------


def binding(
    contact: str, *, q: float | None = None, age: int = 0, nat: bool = False
) -> Registration:
    return Registration(
        sip_user_id=ALICE, customer_id=CUSTOMER, username="1001", realm="tandem",
        contact=contact, q=q, expires_at=NOW + timedelta(seconds=600),
        registered_at=NOW - timedelta(seconds=age), call_id="c", cseq=1, transport="udp",
        source_host="127.0.0.5", source_port=5070, target_host="127.0.0.5", target_port=5070,
        nat=nat, node_id="node-b",
    )  # fmt: skip


def inbound(*objects: Any) -> tuple[LivePolicy, RegisteredUserTarget]:
    carrier = IpAuthConfig(
        id=CARRIER_ENTRY, owner="carrier", carrier_id=uuid.uuid4(), address="127.0.0.3",
        direction="ingress",
    )  # fmt: skip
    did = RewriteConfig(
        id=uuid.uuid4(), owner="ipauth", owner_id=CARRIER_ENTRY, target="destination",
        kind="regex", match="^4420555$", replacement="1001",
    )  # fmt: skip
    live = policy(carrier, did, *objects)
    table = BindingTable("node-a")
    target = RegisteredUserTarget(
        table, live.limiter, RegistrarSettings(), clock=lambda: 100.0, wall_clock=lambda: NOW
    )
    live.registered = target
    return live, target


def invite(number: str, source: str = "127.0.0.3") -> tuple[Request, Peer]:
    text = (
        f"INVITE sip:{number}@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {source}:5060;branch=z9hG4bK{uuid.uuid4().hex}\r\n"
        "From: <sip:4930111@127.0.0.3>;tag=x\r\nTo: <sip:{number}@127.0.0.1>\r\n"
        f"Call-ID: {uuid.uuid4().hex}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    request = parse_datagram(text.encode())
    assert isinstance(request, Request)
    return request, Peer("UDP", source, 5060)


@pytest.mark.parametrize(("retain", "user_part"), [(False, "1001"), (True, "4420555")])
def test_a_carrier_call_to_a_did_goes_to_the_bindings_in_preference_order(
    retain: bool, user_part: str
) -> None:
    live, target = inbound(user("1001", retain_did=retain))
    target.table.put(binding("sip:1001@127.0.0.5:5070;transport=udp", q=0.5))
    target.table.put(binding("sip:phone@127.0.0.6:5080", age=5))
    target.table.put(binding("sip:1001@127.0.0.7:5090", age=1))
    decision = live.admit(*invite("4420555"))
    assert isinstance(decision, Admission), decision
    assert [t.uri for t in decision.targets] == [
        f"sip:{user_part}@127.0.0.7:5090",  # q=1 (none given), most recent first
        f"sip:{user_part}@127.0.0.6:5080",
        f"sip:{user_part}@127.0.0.5:5070;transport=udp",
    ]
    assert decision.customer_id == CUSTOMER
    assert decision.ipauth_id == CARRIER_ENTRY
    assert decision.sip_user_id == ALICE
    assert decision.callee == user_part
    live.release(decision)


def test_unknown_numbers_unregistered_users_and_busy_users_are_refused() -> None:
    live, target = inbound(user("1001", channel_limit=1))
    unknown = live.admit(*invite("4420999"))
    assert isinstance(unknown, Refusal)
    assert unknown.status == 404
    offline = live.admit(*invite("4420555"))
    assert isinstance(offline, Refusal)
    assert offline.status == 480
    target.table.put(binding("sip:1001@127.0.0.5:5070", nat=True))
    first = live.admit(*invite("4420555"))
    assert isinstance(first, Admission)
    assert first.media.mode == "relay"  # a NAT'd binding: media through a relay
    busy = live.admit(*invite("4420555"))
    assert isinstance(busy, Refusal)
    assert (busy.status, busy.reason) == (486, ReleaseReason.LIMIT_CHANNELS)
    live.release(first)
    again = live.admit(*invite("4420555"))
    assert isinstance(again, Admission)


def test_a_customer_dialling_a_sip_username_reaches_it_on_net() -> None:
    caller = IpAuthConfig(
        id=uuid.uuid4(), owner="customer", customer_id=CUSTOMER, address="127.0.0.8",
        direction="ingress",
    )  # fmt: skip
    live, target = inbound(user("1001"), caller)
    live.set_balances({CUSTOMER: BalanceConfig(id=CUSTOMER, balance="10", currency="EUR")})
    target.table.put(binding("sip:1001@127.0.0.5:5070"))
    decision = live.admit(*invite("1001", source="127.0.0.8"))
    assert isinstance(decision, Admission), decision
    assert [t.uri for t in decision.targets] == ["sip:1001@127.0.0.5:5070"]
    assert decision.ipauth_id == caller.id
    assert decision.auth_method == "ip"
    live.release(decision)
