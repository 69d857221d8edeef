"""SIP digest helpers against the RFC examples."""

from __future__ import annotations

import hashlib

import pytest

from libs.security import DigestError, digest

# RFC 2617 §3.5
RFC2617 = {
    "method": "GET",
    "uri": "/dir/index.html",
    "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093",
    "nc": "00000001",
    "cnonce": "0a4f113b",
}
RFC2617_RESPONSE = "6629fae49393a05397450978507c4ef1"

# RFC 7616 §3.9.1
RFC7616 = {
    "method": "GET",
    "uri": "/dir/index.html",
    "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    "nc": "00000001",
    "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
}


def test_rfc2617_mufasa_example() -> None:
    ha1 = digest.ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    assert ha1 == "939e7578ed9e3c518a452acee763bce9"
    assert digest.compute_response(ha1, **RFC2617) == RFC2617_RESPONSE
    assert digest.verify_response(ha1, RFC2617_RESPONSE, **RFC2617)
    assert digest.verify_response(ha1, RFC2617_RESPONSE.upper(), **RFC2617)


@pytest.mark.parametrize(
    ("algorithm", "response"),
    [
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ],
)
def test_rfc7616_examples(algorithm: str, response: str) -> None:
    ha1 = digest.ha1("Mufasa", "http-auth@example.org", "Circle of Life", algorithm)
    assert digest.compute_response(ha1, algorithm=algorithm, **RFC7616) == response
    assert digest.verify_response(ha1, response, algorithm=algorithm, **RFC7616)


def test_wrong_password_or_changed_request_fails() -> None:
    wrong = digest.ha1("Mufasa", "testrealm@host.com", "circle of life")
    assert not digest.verify_response(wrong, RFC2617_RESPONSE, **RFC2617)
    right = digest.ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    for field, value in (("method", "INVITE"), ("uri", "/x"), ("nc", "00000002"), ("nonce", "n")):
        assert not digest.verify_response(right, RFC2617_RESPONSE, **{**RFC2617, field: value})


@pytest.mark.parametrize("response", ["", "zz", "6629fae4", "é" * 32, RFC2617_RESPONSE + "0"])
def test_malformed_responses_are_false(response: str) -> None:
    ha1 = digest.ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    assert not digest.verify_response(ha1, response, **RFC2617)


def test_sha512_256_rfc8760() -> None:
    ha1 = digest.ha1("alice", "sip.carrier.test", "s3cret pass", "SHA-512-256")
    assert len(ha1) == 64
    response = digest.compute_response(ha1, algorithm="SHA-512-256", **RFC2617)
    assert digest.verify_response(ha1, response, algorithm="sha-512-256", **RFC2617)
    assert response != digest.compute_response(
        digest.ha1("alice", "sip.carrier.test", "s3cret pass", "SHA-256"),
        algorithm="SHA-256",
        **RFC2617,
    )


def test_sess_variant_mixes_nonce_and_cnonce_into_ha1() -> None:
    ha1 = digest.ha1("Mufasa", "testrealm@host.com", "Circle Of Life", "MD5-sess")
    plain = digest.compute_response(ha1, **RFC2617)
    session = digest.compute_response(ha1, algorithm="MD5-sess", **RFC2617)
    assert session != plain
    assert digest.verify_response(ha1, session, algorithm="MD5-sess", **RFC2617)


def test_rfc2069_form_without_qop() -> None:
    ha1 = digest.ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    response = digest.compute_response(
        ha1, method="REGISTER", uri="sip:carrier.test", nonce="abc", qop=None
    )
    # H(HA1:nonce:H(method:uri)), RFC 2617 §3.2.2.1
    ha2 = hashlib.md5(b"REGISTER:sip:carrier.test").hexdigest()
    assert response == hashlib.md5(f"{ha1}:abc:{ha2}".encode()).hexdigest()


@pytest.mark.parametrize(
    "overrides",
    [
        {"algorithm": "SHA-1"},
        {"algorithm": "MD5-sess", "cnonce": None},
        {"qop": "auth-int"},
        {"nc": "1"},
        {"nc": None},
        {"cnonce": ""},
    ],
)
def test_unsupported_or_incomplete_parameters_raise(overrides: dict[str, object]) -> None:
    ha1 = digest.ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    with pytest.raises(DigestError):
        digest.verify_response(ha1, RFC2617_RESPONSE, **{**RFC2617, **overrides})  # type: ignore[arg-type]


def test_ha1_must_fit_the_algorithm() -> None:
    md5_ha1 = digest.ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    with pytest.raises(DigestError):
        digest.compute_response(md5_ha1, algorithm="SHA-256", **RFC2617)
    with pytest.raises(DigestError):
        digest.compute_response("not hex at all, not hex at all!!", **RFC2617)
    with pytest.raises(DigestError):
        digest.ha1("a", "b", "c", "SHA-1")


def test_utf8_credentials() -> None:
    ha1 = digest.ha1("jürgen", "sip.example", "pässwörd")
    assert ha1 == hashlib.md5("jürgen:sip.example:pässwörd".encode()).hexdigest()
