"""Carriers that challenge our INVITE (401/407): the egress entry's credentials, decrypted from
the live configuration, answer them; sipp plays the challenging carrier and checks them
(``verifyauth``)."""

from __future__ import annotations

import base64
import os
import uuid
from pathlib import Path

import pytest

from libs.bus.cdr import ReleaseReason
from libs.liveconfig.models import CarrierConfig, IpAuthConfig, ipauth_password_associated_data
from libs.platform.natsd import free_port
from libs.security import KeyRing
from services.sip_core.policy.snapshot import RateCardCache, build_snapshot
from tests.sip_core.policy.test_live_calls import finish, standard, uac
from tests.sip_core.policy.world import World, bus, sip_node, until
from tests.sip_core.sipp import scenario, start_sipp

PASSWORD = "tr0ub4dor&3 \u00e9"


def key_ring(key_id: str = "k1") -> KeyRing:
    return KeyRing.from_spec(f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}")


def egress_entry(
    carrier: CarrierConfig, keys: KeyRing, *, username: str = "tandem", password: str = PASSWORD
) -> IpAuthConfig:
    """The carrier's gateway as switch_api publishes it: the password sealed with the keys."""
    gateway = carrier.gateways[0]
    entry_id = uuid.UUID(gateway.id)
    return IpAuthConfig(
        id=entry_id, owner="carrier", carrier_id=carrier.id, address=gateway.host,
        port=gateway.port, direction="egress", username=username,
        password_ciphertext=keys.encrypt(
            password.encode(), ipauth_password_associated_data(entry_id)
        ),
    )  # fmt: skip


def challenger(  # type: ignore[no-untyped-def]
    tmp_path: Path,
    port: int,
    *,
    code: int = 401,
    qop: bool = True,
    algorithm: str = "MD5",
    password: str = PASSWORD,
):
    """sipp as a carrier challenging with ``code``; a 401's answer is verified by sipp itself
    (``verifyauth`` reads only ``Authorization``), a 407's is checked to carry our username."""
    if code == 401:
        header = "WWW-Authenticate"
        verify = f'<verifyauth assign_to="authvalid" username="tandem" password="{password}" />'
    else:
        header = "Proxy-Authenticate"
        verify = (
            '<ereg regexp="Proxy-Authorization: Digest username=&quot;tandem&quot;, '
            'realm=&quot;carrier.example&quot;" search_in="msg" assign_to="authvalid" />'
        )
    path = scenario(
        "uas_challenge", tmp_path, code=code, header=header, verify=verify,
        algorithm=algorithm, qop=', qop="auth"' if qop else "",
    )  # fmt: skip
    return start_sipp("-sf", str(path), "-m", "1", port=port, cwd=tmp_path)


# -- the snapshot ------------------------------------------------------------------------------


def test_snapshot_decrypts_egress_passwords_and_lists_what_it_cannot() -> None:
    keys, other = key_ring(), key_ring("k2")
    carrier = CarrierConfig(
        id=uuid.uuid4(), name="c", gateways=[{"id": str(uuid.uuid4()), "host": "10.0.0.1"}]
    )
    good = egress_entry(carrier, keys)
    moved = good.model_copy(update={"id": uuid.uuid4()})  # ciphertext copied to another entry
    foreign = egress_entry(
        CarrierConfig(
            id=uuid.uuid4(), name="d", gateways=[{"id": str(uuid.uuid4()), "host": "10.0.0.2"}]
        ),
        other,
    )
    objects = {"ipauth": {e.id: e for e in (good, moved, foreign)}}
    snapshot = build_snapshot(objects, RateCardCache(), keys=keys)
    creds = snapshot.egress_credentials[str(good.id)]
    assert (creds.username, creds.password) == ("tandem", PASSWORD)
    assert set(snapshot.egress_credentials) == {str(good.id)}
    assert f"ipauth.{moved.id}: egress password does not decrypt" in snapshot.problems
    assert any(str(foreign.id) in p and "unknown key id" in p for p in snapshot.problems)
    assert PASSWORD not in repr(snapshot) + repr(creds) + " ".join(snapshot.problems)

    keyless = build_snapshot(objects, RateCardCache())
    assert keyless.egress_credentials == {}
    assert any("no key ring" in problem for problem in keyless.problems)


# -- calls -------------------------------------------------------------------------------------


async def challenging_world(world: World, ports: list[int], keys: KeyRing) -> None:
    for index, port in enumerate(ports):
        carrier = await world.carrier(port, f"0.0{index + 1}0")
        await world.put(egress_entry(carrier, keys))
    await standard(world)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("code", "qop", "algorithm"),
    [(401, True, "MD5"), (401, False, "MD5"), (407, True, "MD5")],
)
async def test_a_challenging_carrier_gets_our_credentials_and_the_call_completes(
    tmp_path: Path, code: int, qop: bool, algorithm: str
) -> None:
    keys = key_ring()
    port = free_port()
    async with bus(tmp_path) as world:
        await challenging_world(world, [port], keys)
        async with sip_node(world, keys=keys) as node:
            carrier = await challenger(tmp_path, port, code=code, qop=qop, algorithm=algorithm)
            await finish(await uac(tmp_path, node.port), carrier)
            await until(lambda: len(node.cdrs) == 1)
    (cdr,) = node.cdrs
    assert cdr.answered_at is not None
    assert cdr.release_reason is ReleaseReason.NORMAL
    # The challenge is part of the attempt, not an attempt of its own.
    assert [a.sip_code for a in cdr.attempts] == [200]


@pytest.mark.slow
async def test_wrong_password_fails_over_to_the_next_carrier(tmp_path: Path) -> None:
    keys = key_ring()
    cheap, second = free_port(), free_port()
    async with bus(tmp_path) as world:
        await challenging_world(world, [cheap, second], keys)
        async with sip_node(world, keys=keys) as node:
            refuser = await challenger(tmp_path, cheap, password="not-what-we-send")
            answerer = await start_sipp("-sn", "uas", "-m", "1", port=second, cwd=tmp_path)
            await finish(await uac(tmp_path, node.port), refuser, answerer)
            await until(lambda: len(node.cdrs) == 1)
    (cdr,) = node.cdrs
    assert cdr.answered_at is not None
    assert [a.sip_code for a in cdr.attempts] == [401, 200]
    assert [a.carrier_id for a in cdr.attempts] == [world.carriers[cheap], world.carriers[second]]


@pytest.mark.slow
async def test_wrong_password_on_the_last_carrier_refuses_the_caller_with_503(
    tmp_path: Path,
) -> None:
    keys = key_ring()
    port = free_port()
    async with bus(tmp_path) as world:
        await challenging_world(world, [port], keys)
        async with sip_node(world, keys=keys) as node:
            refuser = await challenger(tmp_path, port, password="not-what-we-send")
            await finish(await uac(tmp_path, node.port, refusal=503), refuser)
            await until(lambda: len(node.cdrs) == 1)
    (cdr,) = node.cdrs
    assert cdr.answered_at is None
    assert (cdr.sip_code, cdr.release_reason) == (503, ReleaseReason.REJECTED)
    assert [a.sip_code for a in cdr.attempts] == [401]
