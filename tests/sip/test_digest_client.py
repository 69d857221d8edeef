"""The digest client: RFC 7616 §3.9.1 and RFC 2617 §3.5 vectors, challenge selection, and a
round trip through our own server-side verifier."""

from __future__ import annotations

import pytest

from libs.security.digest import compute_response, ha1
from services.sip_core.policy.digest import DigestAuthenticator, DigestOutcome, NonceService
from services.sip_core.sip import Response, parse_auth
from services.sip_core.sip.digest_client import (
    DigestChallenge,
    DigestCredentials,
    answer_challenge,
    authorize,
    parse_challenges,
)

# RFC 7616 §3.9.1
MUFASA = DigestCredentials("Mufasa", "Circle of Life")
RFC7616_REALM = "http-auth@example.org"
RFC7616_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC7616_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC7616_RESPONSES = {
    "MD5": "8ca523f5e9506fed4657c9700eebdbec",
    "SHA-256": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
}


def challenged(status: int, *values: str) -> Response:
    name = "Proxy-Authenticate" if status == 407 else "WWW-Authenticate"
    return Response(status, headers=[(name, value) for value in values])


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_rfc7616_vectors(algorithm: str) -> None:
    response = challenged(
        401,
        f'Digest realm="{RFC7616_REALM}", qop="auth, auth-int", algorithm={algorithm}, '
        f'nonce="{RFC7616_NONCE}", opaque="{RFC7616_OPAQUE}"',
    )
    (challenge,) = parse_challenges(response)
    auth = authorize(challenge, MUFASA, method="GET", uri="/dir/index.html", cnonce=RFC7616_CNONCE)
    assert auth.get("response") == RFC7616_RESPONSES[algorithm]
    assert auth.get("qop") == "auth"
    assert auth.get("nc") == "00000001"
    assert auth.get("cnonce") == RFC7616_CNONCE
    assert auth.get("opaque") == RFC7616_OPAQUE
    assert auth.get("algorithm") == algorithm
    assert auth.get("realm") == RFC7616_REALM
    # The rendered header parses back to the same parameters (quoted where RFC 7616 says).
    text = str(auth)
    assert f'response="{RFC7616_RESPONSES[algorithm]}"' in text
    assert "qop=auth" in text
    assert "nc=00000001" in text
    assert parse_auth(text).params == auth.params


def test_rfc2617_vector() -> None:
    """RFC 2617 §3.5: MD5 with qop=auth, no algorithm parameter in the challenge."""
    challenge = DigestChallenge(
        realm="testrealm@host.com",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        qop="auth",
        opaque="5ccc069c403ebaf9f0171e9517f40e41",
    )
    # RFC 2617 spells the password with a capital O.
    credentials = DigestCredentials("Mufasa", "Circle Of Life")
    auth = authorize(challenge, credentials, method="GET", uri="/dir/index.html", cnonce="0a4f113b")
    assert auth.get("response") == "6629fae49393a05397450978507c4ef1"
    assert auth.get("algorithm") is None  # not in the challenge: not in the answer


def test_without_qop_the_rfc2069_form_has_no_cnonce_or_nc() -> None:
    challenge = DigestChallenge(realm="carrier", nonce="abc")
    auth = authorize(challenge, MUFASA, method="INVITE", uri="sip:1@h")
    assert auth.get("cnonce") is None
    assert auth.get("nc") is None
    assert auth.get("qop") is None
    expected_ha1 = ha1("Mufasa", "carrier", "Circle of Life")
    assert auth.get("response") == compute_response(
        expected_ha1, method="INVITE", uri="sip:1@h", nonce="abc", qop=None
    )


def test_first_supported_challenge_per_realm_and_every_realm_answered() -> None:
    response = challenged(
        407,
        'Digest realm="a", nonce="n1", algorithm=SHA-512-256-weird, qop="auth"',
        'Newauth realm="a"',
        'Digest realm="a", nonce="n2", algorithm=SHA-256, qop="auth"',
        'Digest realm="a", nonce="n3", algorithm=MD5, qop="auth"',
        'Digest realm="b", nonce="n4", qop="auth-int"',  # only auth-int: not answerable
        'Digest realm="c", nonce="n5"',
        "Digest realm=broken=",
    )
    chosen = parse_challenges(response)
    assert [(c.realm, c.nonce, c.algorithm) for c in chosen] == [
        ("a", "n2", "SHA-256"),
        ("c", "n5", None),
    ]
    answer = answer_challenge(response, MUFASA, method="INVITE", uri="sip:1@h")
    assert answer is not None
    assert not answer.stale
    assert [name for name, _ in answer.headers] == ["Proxy-Authorization"] * 2
    assert "Circle" not in repr(answer)
    assert "Circle" not in repr(MUFASA)


def test_401_answers_with_authorization_and_stale_is_reported() -> None:
    response = challenged(401, 'Digest realm="r", nonce="x", qop="auth", stale=TRUE')
    answer = answer_challenge(response, MUFASA, method="INVITE", uri="sip:1@h")
    assert answer is not None
    assert answer.stale
    ((name, value),) = answer.headers
    assert name == "Authorization"
    assert "Circle" not in value


def test_nothing_usable() -> None:
    assert answer_challenge(challenged(407), MUFASA, method="INVITE", uri="sip:x@h") is None
    assert (
        answer_challenge(challenged(407, 'Basic realm="r"'), MUFASA, method="INVITE", uri="sip:x@h")
        is None
    )
    assert answer_challenge(Response(403), MUFASA, method="INVITE", uri="sip:x@h") is None


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5"])
def test_round_trip_through_our_own_verifier(algorithm: str) -> None:
    """What the client sends is what our registrar/INVITE verifier accepts (and only once)."""
    nonces = NonceService(lifetime=30)
    server = DigestAuthenticator(nonces, "tandem", algorithms=(algorithm,))
    response = Response(407, headers=server.challenge(100.0))
    answer = answer_challenge(response, MUFASA, method="INVITE", uri="sip:4420@gw")
    assert answer is not None
    (header,) = answer.headers

    class Stored:
        ha1_md5 = ha1("Mufasa", "tandem", "Circle of Life", "MD5")
        ha1_sha256 = ha1("Mufasa", "tandem", "Circle of Life", "SHA-256")

    def lookup(user: str, realm: str) -> Stored:
        return Stored()

    credentials = parse_auth(header[1])
    assert server.verify(credentials, "INVITE", lookup, 100.5).outcome is DigestOutcome.OK
    assert server.verify(credentials, "INVITE", lookup, 100.6).outcome is DigestOutcome.REPLAYED
    wrong = answer_challenge(
        response, DigestCredentials("Mufasa", "wrong"), method="INVITE", uri="sip:4420@gw"
    )
    assert wrong is not None
    outcome = server.verify(parse_auth(wrong.headers[0][1]), "INVITE", lookup, 100.7).outcome
    assert outcome is DigestOutcome.BAD_CREDENTIALS


def test_sess_algorithm_gets_a_cnonce_even_without_qop() -> None:
    challenge = DigestChallenge(realm="r", nonce="n", algorithm="MD5-sess")
    auth = authorize(challenge, MUFASA, method="INVITE", uri="sip:1@h")
    assert auth.get("cnonce")
    assert auth.get("algorithm") == "MD5-sess"
