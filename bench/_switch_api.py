"""A real switch_api process on loopback for the benchmarks: nats-server, database, operator.

``async with running_switch_api(workdir) as api:`` starts a bundled nats-server (its own port),
migrates a fresh SQLite database (or the PostgreSQL one given), launches
``python -m services.switch_api`` under uvicorn with generated identity keys, creates an owner
operator with TOTP straight in the database and logs in; ``api.client`` carries the token.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyotp
from sqlalchemy import select

from libs.bus import BusConnector, provision
from libs.config import IdentitySettings
from libs.db import Database
from libs.db.migrate import upgrade
from libs.db.models import Operator, OperatorRole
from libs.identity import IdentityContext, ensure_builtin_roles
from libs.identity.people import totp_associated_data
from libs.platform.natsd import NatsServer, free_port
from libs.security import PrincipalKind, totp

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "benchmark operator password"


def _key() -> str:
    return f"b1:{base64.b64encode(os.urandom(32)).decode()}"


@dataclass
class SwitchApi:
    client: httpx.AsyncClient
    connector: BusConnector
    process: subprocess.Popen[bytes]
    nats: NatsServer
    url: str
    log: Path

    def peak_rss_mib(self) -> float:
        """The switch_api process's peak resident memory (VmHWM), MiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")


async def _operator(database_url: str, identity: IdentitySettings) -> tuple[str, str]:
    context = IdentityContext.from_settings(
        identity, kind=PrincipalKind.OPERATOR, service="switch_api"
    )
    database = Database(database_url, pool_size=1)
    email = f"bench-{uuid.uuid4().hex[:6]}@carrier.example"
    secret = totp.new_secret()
    try:
        async with database.session() as session:
            await ensure_builtin_roles(session)
            await session.commit()
            role = (
                await session.scalars(select(OperatorRole).where(OperatorRole.name == "owner"))
            ).one()
            operator = Operator(
                id=uuid.uuid4(),
                email=email,
                name="bench",
                role_id=role.id,
                password_hash=context.passwords.hash(PASSWORD, email),
                must_change_password=False,
                allowed_sources=[],
                disabled=False,
            )
            operator.totp_secret = context.encryption.encrypt(
                secret.encode(), totp_associated_data(operator)
            )
            session.add(operator)
            await session.commit()
    finally:
        await database.dispose()
    return email, secret


@contextlib.asynccontextmanager
async def running_switch_api(
    workdir: Path, *, database_url: str | None = None
) -> AsyncIterator[SwitchApi]:
    workdir.mkdir(parents=True, exist_ok=True)
    database_url = database_url or f"sqlite+aiosqlite:///{workdir / 'tandem.db'}"
    await asyncio.to_thread(upgrade, database_url)
    keys = {"peppers": _key(), "encryption_keys": _key(), "signing_keys": _key()}
    identity = IdentitySettings(
        **keys, argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1
    )
    email, secret = await _operator(database_url, identity)
    with NatsServer(store_dir=workdir / "nats", port=0) as nats:
        connector = BusConnector(nats.url, name="bench")
        connector.start()
        await provision((await connector.wait_connected(10)).js)
        port = free_port()
        env = {
            **os.environ,
            "TANDEM_ENVIRONMENT": "development",
            "TANDEM_LOG_LEVEL": "INFO",
            "TANDEM_LOG_FORMAT": "json",
            "TANDEM_DATABASE__URL": database_url,
            "TANDEM_NATS__SERVERS": f'["{nats.url}"]',
            "TANDEM_HTTP__PORT": str(port),
            "TANDEM_IDENTITY__ARGON2_TIME_COST": "1",
            "TANDEM_IDENTITY__ARGON2_MEMORY_KIB": "1024",
            "TANDEM_IDENTITY__ARGON2_PARALLELISM": "1",
            **{f"TANDEM_IDENTITY__{name.upper()}": value for name, value in keys.items()},
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "services.switch_api"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(workdir / "switch_api.log", "wb"),  # noqa: SIM115
        )
        url = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=url, timeout=600) as client:
                deadline = time.monotonic() + 60
                while True:
                    with contextlib.suppress(httpx.TransportError):
                        if (await client.get("/readyz")).status_code == 200:
                            break
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"switch_api did not start: see {workdir}/switch_api.log"
                        )
                    await asyncio.sleep(0.2)
                login = await client.post(
                    "/v1/auth/login",
                    json={
                        "email": email,
                        "password": PASSWORD,
                        "totp_code": pyotp.TOTP(secret).now(),
                    },
                )
                login.raise_for_status()
                client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
                yield SwitchApi(client, connector, process, nats, url, workdir / "switch_api.log")
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
            if process.poll() is None:
                process.kill()
            await connector.close()
