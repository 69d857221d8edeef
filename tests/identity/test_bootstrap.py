"""The first operator: `tandem admin create`, the forced set-up, and the dev secrets."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from typer.testing import CliRunner

from libs.config import IdentitySettings
from libs.db import Database
from libs.platform.admin import identity_settings_for
from libs.platform.cli import Ports, _child_specs, app
from libs.platform.devsecrets import ensure_dev_secrets, secret_file_env
from services.switch_api.app import create_app
from services.switch_api.config import SwitchApiSettings
from tests.apps import client_for
from tests.identity.factories import FakeClock, bearer, unreachable_nats


def test_dev_secrets_are_made_once_privately_and_reused(tmp_path: Path) -> None:
    first = ensure_dev_secrets(tmp_path)
    assert (tmp_path / "secrets").stat().st_mode & 0o777 == 0o700
    contents = {name: path.read_text() for name, path in first.items()}
    for path in first.values():
        assert path.stat().st_mode & 0o777 == 0o600
    again = ensure_dev_secrets(tmp_path)
    assert {name: path.read_text() for name, path in again.items()} == contents
    settings = IdentitySettings(
        **{name: text.strip() for name, text in contents.items()}, argon2_memory_kib=1024
    )
    assert settings.peppers.get_secret_value().startswith("dev1:")


def test_only_the_login_apis_get_the_secrets_and_only_as_files(tmp_path: Path) -> None:
    env = secret_file_env(ensure_dev_secrets(tmp_path))
    specs = _child_specs(
        host="127.0.0.1",
        ports=Ports(1, 2, 3, 4, 5, 6, 7, 8, 9),
        database_url="sqlite+aiosqlite:///x.db",
        nats_url="nats://127.0.0.1:1",
        data_dir=tmp_path,
        identity_env=env,
    )
    by_name = {spec.name: dict(spec.env) for spec in specs}
    for name in ("switch_api", "customer_api"):
        assert by_name[name]["TANDEM_IDENTITY__PEPPERS_FILE"].endswith("secrets/peppers")
    for name in ("lookup_api", "rtp_relay"):
        assert not any(key.startswith("TANDEM_IDENTITY") for key in by_name[name])
    # sip_core decrypts carriers' egress passwords: the encryption keys only, as a file.
    sip_identity = {k: v for k, v in by_name["sip_core"].items() if k.startswith("TANDEM_IDENTITY")}
    assert list(sip_identity) == ["TANDEM_IDENTITY__ENCRYPTION_KEYS_FILE"]
    assert sip_identity["TANDEM_IDENTITY__ENCRYPTION_KEYS_FILE"].endswith("secrets/encryption_keys")
    values = {path.read_text().strip() for path in ensure_dev_secrets(tmp_path).values()}
    assert not values & {v for spec in specs for v in spec.env.values()}


async def test_the_bootstrap_operator_must_change_the_password_and_enrol(
    database: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("TANDEM_"):
            monkeypatch.delenv(name)
    # Secrets from the data folder, a cheap cost from the environment (tests only).
    monkeypatch.setenv("TANDEM_IDENTITY__ARGON2_TIME_COST", "1")
    monkeypatch.setenv("TANDEM_IDENTITY__ARGON2_MEMORY_KIB", "1024")
    monkeypatch.setenv("TANDEM_IDENTITY__ARGON2_PARALLELISM", "1")
    hint = await asyncio.to_thread(bootstrap_hint, database_url, tmp_path)
    assert "tandem admin create --email" in hint
    result = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        [
            "admin",
            "create",
            "--email",
            " First.Admin@Carrier.example ",
            "--database-url",
            database_url,
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    match = re.search(r"one-time password: (\S+)", result.output)
    assert match is not None
    one_time = match.group(1)
    assert len(one_time) >= 6

    again = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        [
            "admin",
            "create",
            "--email",
            "first.admin@carrier.example",
            "--database-url",
            database_url,
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert again.exit_code == 1
    assert "already exists" in again.output
    assert await asyncio.to_thread(bootstrap_hint, database_url, tmp_path) == ""

    # The API reads the same dev secrets the CLI used.
    settings = identity_settings_for(tmp_path)
    assert settings.argon2_memory_kib == 1024
    identity: dict[str, Any] = {
        name: getattr(value, "get_secret_value", lambda v=value: v)() for name, value in settings
    }
    clock = FakeClock()
    api = create_app(
        SwitchApiSettings(
            environment="test",
            database={"url": database_url},
            identity=identity,
            nats=unreachable_nats(),
        ),
        clock=clock,
    )
    async with api.router.lifespan_context(api), client_for(api) as client:
        email = "first.admin@carrier.example"
        first = await client.post("/v1/auth/login", json={"email": email, "password": one_time})
        assert first.status_code == 200, first.text
        assert first.json()["restrictions"] == ["password_change", "totp_enrolment"]
        headers = bearer(first.json()["access_token"])
        assert (await client.get("/v1/operators", headers=headers)).status_code == 403

        await set_up(client, headers, one_time, "my own passphrase, finally", clock)

        code = pyotp.TOTP(clock.secret).at(clock.now + 30)  # type: ignore[attr-defined]
        full = await client.post(
            "/v1/auth/login",
            json={"email": email, "password": "my own passphrase, finally", "totp_code": code},
        )
        assert full.status_code == 200
        assert full.json()["restrictions"] == []
        operators = await client.get("/v1/operators", headers=bearer(full.json()["access_token"]))
        assert operators.status_code == 200
        assert [o["email"] for o in operators.json()["items"]] == [email]


def bootstrap_hint(database_url: str, data_dir: Path) -> str:
    """What `tandem up` prints about the first operator."""
    import contextlib
    import io

    from libs.platform.cli import _print_bootstrap_hint

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        _print_bootstrap_hint(database_url, data_dir)
    return out.getvalue()


async def set_up(
    client: httpx.AsyncClient, headers: dict[str, str], old: str, new: str, clock: FakeClock
) -> None:
    changed = await client.post(
        "/v1/auth/password", json={"current_password": old, "new_password": new}, headers=headers
    )
    assert changed.status_code == 204, changed.text
    secret = (await client.post("/v1/auth/totp/enrol", headers=headers)).json()["secret"]
    confirmed = await client.post(
        "/v1/auth/totp/confirm", json={"code": pyotp.TOTP(secret).at(clock.now)}, headers=headers
    )
    assert confirmed.status_code == 200
    clock.secret = secret  # type: ignore[attr-defined]
