"""``python -m services.lookup_api``: serve the lookup_api HTTP API.

On granian by default (``TANDEM_LOOKUP__SERVER=uvicorn`` for uvicorn): one worker process
running :func:`~services.lookup_api.app.served_app`, a single-threaded Rust runtime and uvloop —
scale out with more replicas (they share the NATS queue groups and the cluster-wide quotas), each
pinned to its core. SIGINT/SIGTERM stop it gracefully (lifespan shutdown: last usage report).
"""

from __future__ import annotations

from libs.config import HttpSettings
from libs.web.server import serve
from services.lookup_api.app import create_app
from services.lookup_api.config import LookupApiSettings


def serve_granian(settings: LookupApiSettings) -> None:
    from granian import Granian
    from granian.constants import Interfaces, Loops, RuntimeModes, SSLProtocols
    from granian.log import LogLevels

    from libs.telemetry import configure_logging

    configure_logging(service="lookup_api", level=settings.log_level, json=settings.json_logs)
    http: HttpSettings = settings.http
    tls = bool(http.tls_cert_file and http.tls_key_file)
    Granian(
        "services.lookup_api.app:served_app",
        factory=True,
        address=http.host,
        port=http.port,
        interface=Interfaces.ASGI,
        workers=1,
        runtime_mode=RuntimeModes.st,
        loop=Loops.uvloop,
        log_level=LogLevels.warning,
        log_access=False,
        # rustls: TLS 1.2+ with forward-secret AEAD suites only, as libs.web.server's uvicorn.
        ssl_cert=http.tls_cert_file if tls else None,
        ssl_key=http.tls_key_file if tls else None,
        ssl_protocol_min=SSLProtocols.tls12,
    ).serve()


def main() -> None:
    settings = LookupApiSettings()
    if settings.lookup.server == "granian":
        serve_granian(settings)
    else:
        serve("lookup_api", settings, create_app)


if __name__ == "__main__":
    main()
