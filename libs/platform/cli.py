"""The ``tandem`` command: run the embedded platform, migrate the database, bootstrap.

``tandem up`` is the zero-set-up deployment: a bundled nats-server with JetStream in the data
folder, an SQLite database beside it, and the five services as supervised child processes.
``--database-url`` and ``--nats-url`` point it at a production PostgreSQL and NATS instead.
``tandem admin create`` makes the first operator; ``tandem cert dev`` a development TLS
certificate.
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
    #: The intrusion-detection worker's health/metrics port.
    ids: int = 8006
    #: The billing worker's health/metrics port.
    billing_http: int = 8007


def _sqlite_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{(data_dir / 'tandem.db').resolve()}"


def _child_specs(
    *,
    host: str,
    ports: Ports,
    database_url: str,
    nats_url: str,
    data_dir: Path,
    identity_env: dict[str, str] | None = None,
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
        "ids": ports.ids,
        "billing": ports.billing_http,
    }
    # Workers that live in a service's package rather than a service of their own.
    modules = {"ids": "services.switch_api.ids", "billing": "services.switch_api.billing"}
    extra: dict[str, dict[str, str]] = {
        # Only the login-bearing APIs get the identity secrets (as files, never values);
        # sip_core gets the encryption keys alone.
        "switch_api": dict(identity_env or {}),
        "customer_api": dict(identity_env or {}),
        "sip_core": {
            # Only the key ring that decrypts carriers' egress passwords (as a file).
            **{
                key: value
                for key, value in (identity_env or {}).items()
                if key == "TANDEM_IDENTITY__ENCRYPTION_KEYS_FILE"
            },
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
            module=modules.get(name, ""),
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
    billing_http_port: Annotated[int, typer.Option(help="The billing worker's health.")] = 8007,
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
        billing_http_port,
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
        _publish_config(database_url, nats_url)
        specs = _child_specs(
            host=host,
            ports=ports,
            database_url=database_url,
            nats_url=nats_url,
            data_dir=data_dir,
            identity_env=_identity_env(data_dir),
        )
        _print_banner(host, ports, nats, database_url, data_dir)
        _print_bootstrap_hint(database_url, data_dir)
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


def _identity_env(data_dir: Path) -> dict[str, str]:
    """The APIs' identity secrets: the operator's own (``TANDEM_IDENTITY__…`` variables, which
    the children inherit) or, by default, development keys generated once in the data folder."""
    from libs.platform.devsecrets import SECRET_NAMES, ensure_dev_secrets, secret_file_env

    def configured(name: str) -> bool:
        variable = f"TANDEM_IDENTITY__{name.upper()}"
        return bool(os.environ.get(variable) or os.environ.get(f"{variable}_FILE"))

    missing = [name for name in SECRET_NAMES if not configured(name)]
    if not missing:
        return {}
    paths = ensure_dev_secrets(data_dir)
    return secret_file_env({name: paths[name] for name in missing})


def _print_bootstrap_hint(database_url: str, data_dir: Path) -> None:
    """Say how to create the first operator while there is none."""
    from libs.platform.admin import count_operators

    if count_operators(database_url) == 0:
        where = (
            f" --data-dir {data_dir}"
            if database_url == _sqlite_url(data_dir)
            else " --database-url <the same URL>"
        )
        typer.echo(
            "No operator exists yet. Create the first one (it prints a one-time password; the "
            "first login then asks for a new password and TOTP enrolment):\n"
            f"  tandem admin create --email you@example.com{where}"
        )


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
        ("billing", f"CDR rating worker  health http://{h}:{ports.billing_http}"),
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


def _publish_config(database_url: str, nats_url: str) -> None:
    """Reconcile the configuration bucket and blobs with the database (``config publish``)."""
    from libs.bus import BusConnector
    from libs.db import Database
    from libs.liveconfig import ConfigPublisher
    from libs.liveconfig.snapshot import reconcile_database

    async def run() -> tuple[int, int, int]:
        connector = BusConnector(nats_url, name="tandem-cli")
        connector.start()
        database = Database(database_url, pool_size=1)
        try:
            await connector.wait_connected(10)
            report = await reconcile_database(database, ConfigPublisher(connector))
            return len(report.written), len(report.deleted), report.unchanged
        finally:
            await connector.close()
            await database.dispose()

    written, deleted, unchanged = asyncio.run(run())
    typer.echo(
        f"configuration published: {written} written, {deleted} deleted, {unchanged} unchanged"
    )


config_app = typer.Typer(help="Live configuration in NATS.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("publish")
def config_publish(
    database_url: Annotated[
        str | None,
        typer.Option(help="Default: TANDEM_DATABASE__URL(_FILE), else the embedded SQLite."),
    ] = None,
    data_dir: Path = Path("data"),
    nats_url: Annotated[
        str, typer.Option(envvar="TANDEM_NATS_URL", help="The NATS server or cluster.")
    ] = "nats://127.0.0.1:14222",
) -> None:
    """Bring NATS in line with the database: every configuration key and rate card blob."""
    from libs.config import ServiceSettings

    url = database_url
    if url is None and any(k.startswith("TANDEM_DATABASE__URL") for k in os.environ):
        url = ServiceSettings().database.url.get_secret_value()
    _publish_config(url or _sqlite_url(data_dir), nats_url)


admin_app = typer.Typer(help="Operators: create the first one.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="The operator's email (their login).")],
    name: Annotated[str, typer.Option(help="A display name.")] = "",
    database_url: Annotated[
        str | None,
        typer.Option(help="Default: TANDEM_DATABASE__URL(_FILE), else the embedded SQLite."),
    ] = None,
    data_dir: Annotated[
        Path, typer.Option(help="The embedded platform's data folder (database, dev secrets).")
    ] = Path("data"),
) -> None:
    """Create an operator with the owner role and print a one-time password (once)."""
    from libs.config import ServiceSettings
    from libs.db.migrate import upgrade
    from libs.errors import TandemError
    from libs.platform.admin import create_first_operator, identity_settings_for

    url = database_url
    if url is None and any(k.startswith("TANDEM_DATABASE__URL") for k in os.environ):
        url = ServiceSettings().database.url.get_secret_value()
    url = url or _sqlite_url(data_dir)
    upgrade(url)
    try:
        created = create_first_operator(url, email, identity_settings_for(data_dir), name=name)
    except TandemError as exc:
        typer.echo(f"tandem: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"operator {created.person.email} created (role owner, id {created.person.id})")
    typer.echo(f"one-time password: {created.one_time_password}")
    typer.echo(
        "It is shown only now. Log in with it (POST /v1/auth/login): that session may only "
        "change the password (POST /v1/auth/password) and enrol TOTP (POST /v1/auth/totp/enrol, "
        "then /v1/auth/totp/confirm); then log in again with a TOTP code."
    )


cert_app = typer.Typer(help="TLS certificates.", no_args_is_help=True)
app.add_typer(cert_app, name="cert")


@cert_app.command("dev")
def cert_dev(
    out_dir: Annotated[Path, typer.Option(help="Where to write cert.pem and key.pem.")] = Path(
        "data/tls"
    ),
    host: Annotated[
        list[str] | None,
        typer.Option(help="A host name or address the certificate is for (repeatable)."),
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=825)] = 90,
) -> None:
    """Generate a self-signed certificate for development (not trusted by browsers)."""
    from libs.platform.devcert import DEFAULT_HOSTS, generate_dev_certificate

    cert, key = out_dir / "cert.pem", out_dir / "key.pem"
    generate_dev_certificate(cert, key, hosts=host or list(DEFAULT_HOSTS), days=days)
    typer.echo(f"certificate {cert}, private key {key} (mode 0600), valid {days} days")
    typer.echo(
        f"serve HTTPS with TANDEM_HTTP__TLS_CERT_FILE={cert} TANDEM_HTTP__TLS_KEY_FILE={key}"
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
