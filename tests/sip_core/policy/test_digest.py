"""Digest authentication: RFC 7616 vectors, nonces that cannot be forged, replayed or kept."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from libs.security.digest import compute_response, ha1
from services.sip_core.policy.digest import (
    DigestAuthenticator,
    DigestOutcome,
    NonceService,
    NonceState,
)
from services.sip_core.sip import Auth, parse_auth

# RFC 7616 §3.9.1
RFC_USER, RFC_REALM, RFC_PASSWORD = "Mufasa", "http-auth@example.org", "Circle of Life"
RFC_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC_URI = "/dir/index.html"
RFC_RESPONSES = {
    "MD5": "8ca523f5e9506fed4657c9700eebdbec",
    "SHA-256": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
}


@dataclass(frozen=True)
class User:
    ha1_md5: str
    ha1_sha256: str


def user_for(username: str, realm: str, password: str) -> User:
    return User(ha1(username, realm, password, "MD5"), ha1(username, realm, password, "SHA-256"))


class RfcNonces(NonceService):
    """Accepts the RFC's example nonce as one it issued at t=0."""

    def issued_at(self, nonce: str) -> float | None:
        return 0.0 if nonce == RFC_NONCE else super().issued_at(nonce)


def credentials(**params: str) -> Auth:
    return Auth("Digest", tuple(params.items()))


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_rfc7616_vectors_are_accepted(algorithm: str) -> None:
    authenticator = DigestAuthenticator(RfcNonces(), RFC_REALM)
    user = user_for(RFC_USER, RFC_REALM, RFC_PASSWORD)
    result = authenticator.verify(
        credentials(
            username=RFC_USER, realm=RFC_REALM, uri=RFC_URI, algorithm=algorithm,
            nonce=RFC_NONCE, nc="00000001", cnonce=RFC_CNONCE, qop="auth",
            response=RFC_RESPONSES[algorithm],
        ),
        "GET",
        lambda name, realm: user if (name, realm) == (RFC_USER, RFC_REALM) else None,
        now=1.0,
    )  # fmt: skip
    assert result.outcome is DigestOutcome.OK
    assert result.user is user


class Client:
    """A digest client answering one of our challenges."""

    def __init__(self, authenticator: DigestAuthenticator, password: str = "s3cret") -> None:
        self.authenticator = authenticator
        self.password = password
        self.nc = 0

    def answer(
        self,
        challenge: str,
        *,
        username: str = "alice",
        realm: str | None = None,
        algorithm: str = "SHA-256",
        nc: int | None = None,
        nonce: str | None = None,
    ) -> Auth:
        parsed = parse_auth(challenge)
        realm = realm or parsed.get("realm") or ""
        nonce = nonce or parsed.get("nonce") or ""
        self.nc = nc if nc is not None else self.nc + 1
        nc_text = f"{self.nc:08x}"
        secret = ha1(username, realm, self.password, algorithm)
        response = compute_response(
            secret, method="INVITE", uri="sip:123@example.net", nonce=nonce,
            algorithm=algorithm, qop="auth", nc=nc_text, cnonce="abc123",
        )  # fmt: skip
        return credentials(
            username=username, realm=realm, nonce=nonce, uri="sip:123@example.net",
            algorithm=algorithm, qop="auth", nc=nc_text, cnonce="abc123", response=response,
        )  # fmt: skip


@pytest.fixture
def setup() -> tuple[DigestAuthenticator, dict[tuple[str, str], User]]:
    users = {("alice", "tandem"): user_for("alice", "tandem", "s3cret")}
    return DigestAuthenticator(NonceService(lifetime=30), "tandem"), users


def test_challenge_offers_sha256_then_md5_with_qop_auth(setup: tuple) -> None:
    authenticator, _ = setup
    headers = authenticator.challenge(10.0)
    assert [name for name, _ in headers] == ["Proxy-Authenticate"] * 2
    first, second = (parse_auth(value) for _, value in headers)
    assert (first.get("algorithm"), second.get("algorithm")) == ("SHA-256", "MD5")
    assert first.get("qop") == "auth"
    assert first.get("realm") == "tandem"
    assert first.get("nonce") == second.get("nonce")
    assert first.get("stale") is None
    www = authenticator.challenge(10.0, stale=True, header="WWW-Authenticate")
    assert www[0][0] == "WWW-Authenticate"
    assert parse_auth(www[0][1]).get("stale") == "true"


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5"])
def test_right_password_is_accepted_wrong_and_unknown_look_alike(
    setup: tuple, algorithm: str
) -> None:
    authenticator, users = setup
    lookup = lambda name, realm: users.get((name, realm))  # noqa: E731
    challenge = authenticator.challenge(0.0)[0][1]
    good = Client(authenticator).answer(challenge, algorithm=algorithm)
    assert authenticator.verify(good, "INVITE", lookup, 1.0).outcome is DigestOutcome.OK
    bad = Client(authenticator, password="guess").answer(challenge, algorithm=algorithm)
    assert authenticator.verify(bad, "INVITE", lookup, 1.0).outcome is DigestOutcome.BAD_CREDENTIALS
    nobody = Client(authenticator).answer(challenge, username="mallory", algorithm=algorithm)
    result = authenticator.verify(nobody, "INVITE", lookup, 1.0)
    assert result.outcome is DigestOutcome.UNKNOWN_USER
    assert result.username == "mallory"


def test_the_method_is_part_of_the_proof(setup: tuple) -> None:
    authenticator, users = setup
    answer = Client(authenticator).answer(authenticator.challenge(0.0)[0][1])
    result = authenticator.verify(answer, "REGISTER", lambda n, r: users.get((n, r)), 1.0)
    assert result.outcome is DigestOutcome.BAD_CREDENTIALS


def test_a_replayed_nonce_count_is_refused_and_a_higher_one_accepted(setup: tuple) -> None:
    authenticator, users = setup
    lookup = lambda name, realm: users.get((name, realm))  # noqa: E731
    client = Client(authenticator)
    challenge = authenticator.challenge(0.0)[0][1]
    first = client.answer(challenge)
    assert authenticator.verify(first, "INVITE", lookup, 1.0).ok
    assert authenticator.verify(first, "INVITE", lookup, 2.0).outcome is DigestOutcome.REPLAYED
    second = client.answer(challenge)  # nc=2 on the same nonce: allowed (RFC 7616 §3.4)
    assert authenticator.verify(second, "INVITE", lookup, 3.0).ok
    older = client.answer(challenge, nc=1)
    assert authenticator.verify(older, "INVITE", lookup, 4.0).outcome is DigestOutcome.REPLAYED


def test_an_expired_nonce_is_stale_only_with_the_right_password(setup: tuple) -> None:
    authenticator, users = setup
    lookup = lambda name, realm: users.get((name, realm))  # noqa: E731
    challenge = authenticator.challenge(0.0)[0][1]
    late = Client(authenticator).answer(challenge)
    assert authenticator.verify(late, "INVITE", lookup, 31.0).outcome is DigestOutcome.STALE
    wrong = Client(authenticator, password="x").answer(challenge)
    assert authenticator.verify(wrong, "INVITE", lookup, 31.0).outcome is (
        DigestOutcome.BAD_CREDENTIALS
    )


def test_forged_and_foreign_nonces_are_invalid(setup: tuple) -> None:
    authenticator, users = setup
    lookup = lambda name, realm: users.get((name, realm))  # noqa: E731
    challenge = authenticator.challenge(0.0)[0][1]
    nonce = parse_auth(challenge).get("nonce") or ""
    tampered = nonce[:-2] + ("AA" if not nonce.endswith("AA") else "BB")
    forged = Client(authenticator).answer(challenge, nonce=tampered)
    assert authenticator.verify(forged, "INVITE", lookup, 1.0).outcome is (
        DigestOutcome.INVALID_NONCE
    )
    other_node = DigestAuthenticator(NonceService(), "tandem")  # another secret
    foreign = Client(authenticator).answer(other_node.challenge(0.0)[0][1])
    assert authenticator.verify(foreign, "INVITE", lookup, 1.0).outcome is (
        DigestOutcome.INVALID_NONCE
    )
    garbage = Client(authenticator).answer(challenge, nonce="not-a-nonce")
    assert authenticator.verify(garbage, "INVITE", lookup, 1.0).outcome is (
        DigestOutcome.INVALID_NONCE
    )


def test_wrong_realm_and_malformed_credentials(setup: tuple) -> None:
    authenticator, users = setup
    lookup = lambda name, realm: users.get((name, realm))  # noqa: E731
    challenge = authenticator.challenge(0.0)[0][1]
    elsewhere = Client(authenticator).answer(challenge, realm="other")
    assert authenticator.verify(elsewhere, "INVITE", lookup, 1.0).outcome is (
        DigestOutcome.WRONG_REALM
    )
    assert authenticator.verify(Auth("Basic", ()), "INVITE", lookup, 1.0).outcome is (
        DigestOutcome.MALFORMED
    )
    missing = credentials(username="alice", realm="tandem")
    assert authenticator.verify(missing, "INVITE", lookup, 1.0).outcome is DigestOutcome.MALFORMED
    answer = Client(authenticator).answer(challenge)
    odd = Auth("Digest", tuple((k, "zz" if k == "nc" else v) for k, v in answer.params))
    assert authenticator.verify(odd, "INVITE", lookup, 1.0).outcome is DigestOutcome.MALFORMED


def test_nonce_states_and_tracking_is_bounded() -> None:
    nonces = NonceService(lifetime=30, max_tracked=2)
    nonce = nonces.issue(100.0)
    assert nonces.check(nonce, 100.5) is NonceState.VALID
    assert nonces.check(nonce, 131.0) is NonceState.STALE
    assert nonces.check(nonce, 50.0) is NonceState.INVALID  # from the future
    assert nonces.use(nonce, None, 101.0)  # no qop: single use
    assert not nonces.use(nonce, None, 101.0)
    assert nonces.use(nonces.issue(101.0), 1, 101.0)
    assert not nonces.use(nonces.issue(101.0), 1, 101.0)  # table full: re-challenge
    assert nonces.use(nonces.issue(140.0), 1, 140.0)  # the expired ones were pruned
    assert nonces.tracked == 1
