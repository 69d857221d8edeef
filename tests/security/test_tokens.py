"""Opaque API tokens and HS256-signed access tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.security import (
    AccessClaims,
    ConfigurationError,
    PrincipalKind,
    SigningKey,
    SigningKeyRing,
    TokenError,
    TokenExpired,
    TokenInvalid,
    decode_access_token,
    issue_access_token,
    new_token,
    parse_token,
    verify_token,
)
from libs.security.tokens import hash_token

NOW = 1_700_000_000.0


# --- opaque tokens -------------------------------------------------------------------------


def test_new_token_shape_and_storage_values() -> None:
    token = new_token("tdm_live")
    prefix, lookup_id, secret = token.plaintext.rsplit("_", 2)
    assert prefix == "tdm_live"
    assert lookup_id == token.lookup_id
    assert len(secret) == 43
    assert token.token_hash == hashlib.sha256(token.plaintext.encode()).hexdigest()
    assert token.plaintext not in repr(token)
    assert secret not in repr(token)


def test_tokens_are_unique() -> None:
    made = [new_token() for _ in range(200)]
    assert len({t.plaintext for t in made}) == len({t.lookup_id for t in made}) == 200


def test_parse_and_verify_round_trip() -> None:
    token = new_token("tdm_refresh")
    parts = parse_token(token.plaintext)
    assert parts is not None
    assert (parts.prefix, parts.lookup_id) == ("tdm_refresh", token.lookup_id)
    assert verify_token(token.plaintext, token.token_hash)


def test_verify_refuses_a_wrong_or_altered_token() -> None:
    token, other = new_token(), new_token()
    assert not verify_token(other.plaintext, token.token_hash)
    altered = token.plaintext[:-1] + ("a" if token.plaintext[-1] != "a" else "b")
    assert not verify_token(altered, token.token_hash)
    assert not verify_token(token.plaintext, "not a hash")
    assert not verify_token(token.plaintext, token.token_hash.upper())


@pytest.mark.parametrize(
    "text", ["", "tdm_live", "tdm_live_abc_def", "TDM_x_" + "a" * 60, "é" * 70]
)
def test_parse_refuses_malformed_tokens(text: str) -> None:
    assert parse_token(text) is None
    assert not verify_token(text, hash_token(text))


@pytest.mark.parametrize("prefix", ["", "Tdm", "tdm-live", "tdm__live", "_tdm", "a_b_c_d_e"])
def test_bad_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(ConfigurationError):
        new_token(prefix)


# --- access tokens -------------------------------------------------------------------------


def keyring(current: str = "s1", *older: str) -> SigningKeyRing:
    return SigningKeyRing(SigningKey.generate(current), [SigningKey.generate(k) for k in older])


def issue(keys: SigningKeyRing, **overrides: object) -> str:
    arguments: dict[str, object] = {
        "sub": "user:42",
        "kind": PrincipalKind.CUSTOMER,
        "scopes": ["cdrs:read", "balance:read"],
        "now": NOW,
        "ttl": 900,
        "tenant": "account:7",
    }
    arguments.update(overrides)
    return issue_access_token(keys, **arguments)  # type: ignore[arg-type]


def segments(token: str) -> list[dict[str, object]]:
    return [json.loads(base64.urlsafe_b64decode(p + "==")) for p in token.split(".")[:2]]


def forge(key: SigningKey, header: dict[str, object], payload: dict[str, object]) -> str:
    """A token signed with ``key`` over arbitrary JSON: to test what decoding refuses."""

    def encode(value: dict[str, object]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{encode(header)}.{encode(payload)}"
    signature = hmac.new(key.secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def test_round_trip() -> None:
    keys = keyring()
    claims = decode_access_token(keys, issue(keys), now=NOW + 10)
    assert isinstance(claims, AccessClaims)
    assert claims.sub == "user:42"
    assert claims.kind is PrincipalKind.CUSTOMER
    assert claims.scopes == frozenset({"cdrs:read", "balance:read"})
    assert (claims.iat, claims.exp) == (int(NOW), int(NOW) + 900)
    assert claims.tenant == "account:7"
    assert len(claims.jti) >= 22


def test_it_is_a_standard_hs256_jwt() -> None:
    keys = keyring("s1")
    header, payload = segments(issue(keys))
    assert header == {"alg": "HS256", "kid": "s1", "typ": "JWT"}
    assert payload["exp"] == int(NOW) + 900


def test_operator_token_without_tenant() -> None:
    keys = keyring()
    token = issue(keys, kind=PrincipalKind.OPERATOR, tenant=None, scopes=["*"])
    claims = decode_access_token(keys, token, now=NOW)
    assert claims.kind is PrincipalKind.OPERATOR
    assert claims.tenant is None


def test_expiry() -> None:
    keys = keyring()
    token = issue(keys, ttl=60)
    decode_access_token(keys, token, now=NOW + 59.9)
    with pytest.raises(TokenExpired):
        decode_access_token(keys, token, now=NOW + 60)
    decode_access_token(keys, token, now=NOW + 60, leeway=5)
    with pytest.raises(TokenExpired):
        decode_access_token(keys, token, now=NOW + 65, leeway=5)


def test_issued_in_the_future_is_invalid() -> None:
    keys = keyring()
    with pytest.raises(TokenInvalid):
        decode_access_token(keys, issue(keys, now=NOW + 120), now=NOW)


def test_bad_signature() -> None:
    keys = keyring("s1")
    token = issue(keys)
    with pytest.raises(TokenInvalid):
        decode_access_token(keyring("s1"), token, now=NOW)  # same id, another secret
    header, _, signature = token.split(".")
    tampered_payload = base64.urlsafe_b64encode(
        json.dumps({**segments(token)[1], "sub": "user:1"}).encode()
    ).rstrip(b"=")
    with pytest.raises(TokenInvalid):
        decode_access_token(keys, f"{header}.{tampered_payload.decode()}.{signature}", now=NOW)


def test_bad_signature_wins_over_expiry() -> None:
    token = issue(keyring("s1"))
    with pytest.raises(TokenInvalid):
        decode_access_token(keyring("s1"), token, now=NOW + 10_000)


def test_unknown_key_id() -> None:
    with pytest.raises(TokenInvalid):
        decode_access_token(keyring("new"), issue(keyring("old")), now=NOW)


def test_rotation_old_key_still_accepted() -> None:
    old = SigningKey.generate("old")
    token = issue(SigningKeyRing(old))
    rotated = SigningKeyRing(SigningKey.generate("new"), [old])
    assert decode_access_token(rotated, token, now=NOW).sub == "user:42"
    assert segments(issue(rotated))[0]["kid"] == "new"


def test_alg_none_and_other_algorithms_are_refused() -> None:
    keys = keyring("s1")
    good = segments(issue(keys))[1]
    for alg in ("none", "HS512", "RS256", "hs256"):
        with pytest.raises(TokenInvalid):
            decode_access_token(keys, forge(keys.current, {"alg": alg, "kid": "s1"}, good), now=NOW)
    header, payload, _ = issue(keys).split(".")
    with pytest.raises(TokenInvalid):
        decode_access_token(keys, f"{header}.{payload}.", now=NOW)


@pytest.mark.parametrize(
    "change",
    [
        {"sub": ""},
        {"sub": 42},
        {"kind": "admin"},
        {"scopes": "cdrs:read"},
        {"scopes": [1]},
        {"exp": "soon"},
        {"exp": True},
        {"iat": 1.5},
        {"jti": ""},
        {"tenant": 7},
        {"extra": "claim"},
    ],
)
def test_authentic_tokens_with_bad_claims_are_refused(change: dict[str, object]) -> None:
    keys = keyring("s1")
    payload = {**segments(issue(keys))[1], **change}
    with pytest.raises(TokenInvalid):
        decode_access_token(
            keys, forge(keys.current, {"alg": "HS256", "kid": "s1"}, payload), now=NOW
        )


def test_missing_claims_and_extra_header_fields_are_refused() -> None:
    keys = keyring("s1")
    payload = segments(issue(keys))[1]
    del payload["jti"]
    with pytest.raises(TokenInvalid):
        decode_access_token(
            keys, forge(keys.current, {"alg": "HS256", "kid": "s1"}, payload), now=NOW
        )
    good = segments(issue(keys))[1]
    header: dict[str, object] = {"alg": "HS256", "kid": "s1", "crit": ["exp"]}
    with pytest.raises(TokenInvalid):
        decode_access_token(keys, forge(keys.current, header, good), now=NOW)


def test_issue_validates_its_arguments() -> None:
    keys = keyring()
    for bad in (
        {"ttl": 0},
        {"ttl": 86_401},
        {"sub": ""},
        {"scopes": ["has space"]},
        {"tenant": ""},
    ):
        with pytest.raises(ConfigurationError):
            issue(keys, **bad)


_KEYS = keyring("fz")
_GOOD = issue(_KEYS)


@given(st.text(max_size=300))
def test_any_text_is_refused_with_a_token_error(text: str) -> None:
    with pytest.raises(TokenInvalid):
        decode_access_token(_KEYS, text, now=NOW)


@given(st.integers(min_value=0, max_value=len(_GOOD) - 1), st.characters())
def test_any_single_character_change_is_refused(position: int, char: str) -> None:
    changed = _GOOD[:position] + char + _GOOD[position + 1 :]
    if changed == _GOOD:
        return
    with pytest.raises(TokenError):
        decode_access_token(_KEYS, changed, now=NOW)


def test_signing_key_repr_hides_the_secret() -> None:
    key = SigningKey.generate("s1")
    assert repr(key) == "SigningKey(key_id='s1', secret=<hidden>)"
    assert key.secret.hex() not in repr(SigningKeyRing(key))
