"""The ``tandem`` command: run the embedded platform, migrate the database.

``tandem up`` is the zero-set-up deployment: a bundled nats-server with JetStream in the data
folder, an SQLite database beside it, and the five services as supervised child processes.
``--database-url`` and ``--nats-url`` point it at a production PostgreSQL and NATS instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from libs.platform.supervisor import ChildSpec, Supervisor

app = typer.Typer(
    name="tandem",
    help="Tandem, the open carrier softswitch: run the embedded platform, manage its database.",
    no_args_is_help=True,
    add_completion=False,
)


@dataclass(frozen=True)
class Ports:
    switch_api: int
    customer_api: int
    lookup_api: int
    sip_core_http: int
    rtp_relay_http: int
    sip: int
    sip_tls: int
    rtp_min: int
    rtp_max: int


def _sqlite_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{(data_dir / 'tandem.db').resolve()}"


def _child_specs(
    *, host: str, ports: Ports, database_url: str, nats_url: str, data_dir: Path
) -> list[ChildSpec]:
    common = {
        "TANDEM_ENVIRONMENT": "development",
        "TANDEM_DATABASE__URL": database_url,
        "TANDEM_NATS__SERVERS": json.dumps([nats_url]),
        "TANDEM_ZONE": "default",
        "TANDEM_HTTP__HOST": host,
    }
    http_ports = {
        "switch_api": ports.switch_api,
        "customer_api": ports.customer_api,
        "lookup_api": ports.lookup_api,
        "sip_core": ports.sip_core_http,
        "rtp_relay": ports.rtp_relay_http,
    }
    extra: dict[str, dict[str, str]] = {
        "sip_core": {
            "TANDEM_SIP__HOST": host,
            "TANDEM_SIP__UDP_PORT": str(ports.sip),
            "TANDEM_SIP__TCP_PORT": str(ports.sip),
            "TANDEM_SIP__TLS_PORT": str(ports.sip_tls),
            "TANDEM_SPOOL_DIR": str((data_dir / "spool").resolve()),
        },
        "rtp_relay": {
            "TANDEM_MEDIA__HOST": host,
            "TANDEM_MEDIA__PORT_MIN": str(ports.rtp_min),
            "TANDEM_MEDIA__PORT_MAX": str(ports.rtp_max),
        },
    }
    return [
        ChildSpec(
            name=name,
            env={
                **common,
                "TANDEM_HTTP__PORT": str(port),
                "TANDEM_NODE_ID": f"embedded-{name.replace('_', '-')}",
                **extra.get(name, {}),
            },
            ready_url=f"http://{_url_host(host)}:{port}/readyz",
        )
        for name, port in http_ports.items()
    ]


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::"):  # noqa: S104 - a comparison, not a bind
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _provision(nats_url: str, *, replicas: int = 1) -> None:
    from libs.bus import AssetSettings, Bus
    from libs.bus import provision as provision_assets

    async def run() -> None:
        bus = await Bus.connect(nats_url, name="tandem-cli")
        try:
            await provision_assets(bus.js, AssetSettings(replicas=replicas))
        finally:
            await bus.close()

    asyncio.run(run())


@app.command()
def up(
    data_dir: Annotated[
        Path, typer.Option(help="Where the SQLite database, JetStream store and logs live.")
    ] = Path("data"),
    host: Annotated[str, typer.Option(help="Address every service listens on.")] = "127.0.0.1",
    database_url: Annotated[
        str | None,
        typer.Option(
            envvar="TANDEM_DATABASE__URL",
            help="External database (postgresql+asyncpg://…) instead of the embedded SQLite.",
            show_default=False,
        ),
    ] = None,
    nats_url: Annotated[
        str | None,
        typer.Option(
            envvar="TANDEM_NATS_URL",
            help="External NATS (nats://…) instead of the bundled nats-server.",
            show_default=False,
        ),
    ] = None,
    nats_port: int = 14222,
    nats_monitor_port: int = 18222,
    switch_api_port: int = 8001,
    customer_api_port: int = 8002,
    lookup_api_port: int = 8003,
    sip_core_http_port: int = 8004,
    rtp_relay_http_port: int = 8005,
    sip_port: Annotated[int, typer.Option(help="SIP over UDP and TCP.")] = 5060,
    sip_tls_port: int = 5061,
    rtp_port_min: int = 20000,
    rtp_port_max: int = 29999,
    ready_timeout: float = 60.0,
) -> None:
    """Start the whole platform on this machine; Ctrl-C stops it cleanly."""
    from libs.db.migrate import upgrade
    from libs.platform.natsd import NatsServer, NatsServerError
    from libs.telemetry import configure_logging

    configure_logging(service="tandem", level="WARNING")
    data_dir.mkdir(parents=True, exist_ok=True)
    logs = data_dir / "logs"
    logs.mkdir(exist_ok=True)
    ports = Ports(
        switch_api_port,
        customer_api_port,
        lookup_api_port,
        sip_core_http_port,
        rtp_relay_http_port,
        sip_port,
        sip_tls_port,
        rtp_port_min,
        rtp_port_max,
    )

    nats: NatsServer | None = None
    if nats_url is None:
        nats = NatsServer(
            store_dir=data_dir / "nats",
            host=host,
            port=nats_port,
            monitoring_port=nats_monitor_port,
            log_file=logs / "nats-server.log",
        )
        try:
            nats.start()
        except NatsServerError as exc:
            typer.echo(f"tandem: the bundled nats-server did not start: {exc}", err=True)
            raise typer.Exit(1) from None
        nats_url = nats.url
    try:
        database_url = database_url or _sqlite_url(data_dir)
        typer.echo("migrating the database …")
        upgrade(database_url)
        _provision(nats_url)
        specs = _child_specs(
            host=host, ports=ports, database_url=database_url, nats_url=nats_url, data_dir=data_dir
        )
        _print_banner(host, ports, nats, database_url, data_dir)
        ok = asyncio.run(_supervise(specs, logs, ready_timeout))
    finally:
        if nats is not None:
            nats.stop()
    typer.echo("tandem: stopped")
    if not ok:
        raise typer.Exit(1)


async def _supervise(specs: list[ChildSpec], logs: Path, ready_timeout: float) -> bool:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    supervisor = Supervisor(specs, log_dir=logs, say=lambda line: typer.echo(f"tandem: {line}"))

    async def announce_ready() -> None:
        ready = await supervisor.wait_ready(stop, ready_timeout)
        if ready:
            typer.echo("tandem: all services ready (Ctrl-C to stop)")
        else:
            stop.set()

    announcer = asyncio.create_task(announce_ready())
    try:
        await supervisor.run(stop)
    finally:
        announcer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await announcer
    return not supervisor.failed_to_start


def _print_banner(
    host: str, ports: Ports, nats: object | None, database_url: str, data_dir: Path
) -> None:
    h = _url_host(host)
    rows = [
        ("switch_api", f"http://{h}:{ports.switch_api}  (docs: /docs)"),
        ("customer_api", f"http://{h}:{ports.customer_api}"),
        ("lookup_api", f"http://{h}:{ports.lookup_api}"),
        ("sip_core", f"sip:{h}:{ports.sip} (UDP, TCP)  health http://{h}:{ports.sip_core_http}"),
        (
            "rtp_relay",
            f"RTP {ports.rtp_min}-{ports.rtp_max}/udp  health http://{h}:{ports.rtp_relay_http}",
        ),
        ("nats", getattr(nats, "url", "external") if nats is not None else "external"),
        (
            "database",
            "SQLite " + str(data_dir / "tandem.db")
            if database_url.startswith("sqlite")
            else "external",
        ),
        ("logs", str(data_dir / "logs")),
    ]
    typer.echo("Tandem embedded platform")
    for name, where in rows:
        typer.echo(f"  {name:<13} {where}")


@app.command()
def migrate(
    database_url: Annotated[
        str | None,
        typer.Option(help="Default: TANDEM_DATABASE__URL(_FILE), else the embedded SQLite."),
    ] = None,
    data_dir: Path = Path("data"),
    downgrade_to: Annotated[
        str | None, typer.Option("--downgrade", help="Revision to go down to (e.g. base).")
    ] = None,
) -> None:
    """Migrate the database to the newest schema (or down, with --downgrade)."""
    from libs.config import ServiceSettings
    from libs.db import migrate as migrations

    # An explicit URL wins; else the services' own settings (TANDEM_DATABASE__URL or its
    # _FILE form, as mounted in production); else the embedded SQLite database.
    url = database_url
    if url is None and any(k.startswith("TANDEM_DATABASE__URL") for k in os.environ):
        url = ServiceSettings().database.url.get_secret_value()
    url = url or _sqlite_url(data_dir)
    if downgrade_to:
        migrations.downgrade(url, downgrade_to)
        typer.echo(f"downgraded to {downgrade_to}")
    else:
        migrations.upgrade(url)
        typer.echo("database at the newest revision")


@app.command()
def provision(
    nats_url: Annotated[
        str, typer.Option(envvar="TANDEM_NATS_URL", help="The NATS server or cluster.")
    ] = "nats://127.0.0.1:14222",
    replicas: Annotated[
        int, typer.Option(min=1, max=5, help="JetStream replicas (3 in a production cluster).")
    ] = 1,
) -> None:
    """Create or update the JetStream streams and buckets Tandem uses (idempotent)."""
    _provision(nats_url, replicas=replicas)
    typer.echo("JetStream assets provisioned")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
