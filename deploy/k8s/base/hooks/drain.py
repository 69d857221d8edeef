"""preStop hook of sip_core and rtp_relay: drain the node, then let Kubernetes stop it.

Kubernetes runs this inside the container when the pod is deleted (rolling update, scale-down,
node drain) and sends SIGTERM only after it returns, all within terminationGracePeriodSeconds.

Contract with the service, on its own health/metrics port (``TANDEM_HTTP__PORT``, reached on
127.0.0.1: the hook runs in the container, with its environment):

``POST /drain``
    Mark the node draining (idempotent): its heartbeat says ``draining: true`` so sip_core picks
    other relays / the DNS-SRV peers pick other SIP nodes, new INVITEs get ``503`` with
    ``Retry-After``, ``/readyz`` turns 503; calls in progress carry on untouched.
``GET /drain``
    ``{"draining": true, "active": <calls or media sessions still up>}``.

The hook returns when ``active`` reaches 0 or when its budget (first argument, seconds; keep it
below the grace period so SIGTERM still has time to flush the CDR spool) runs out; it polls every
5 seconds (second argument). If the
endpoint is missing or the service does not answer, it returns at once: SIGTERM then does a
plain graceful shutdown, which is never worse than having no hook.

Standard library only: it runs with the image's Python and nothing else.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request

MAX_CONSECUTIVE_ERRORS = 6


def _call(url: str, method: str) -> dict[str, object]:
    data = b"" if method == "POST" else None
    request = urllib.request.Request(url, method=method, data=data)  # noqa: S310 - fixed http URL
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - fixed http URL
        body = response.read()
    return json.loads(body) if body else {}


def main(argv: list[str]) -> int:
    budget = float(argv[1]) if len(argv) > 1 else 3480.0
    poll = float(argv[2]) if len(argv) > 2 else 5.0
    port = int(os.environ.get("TANDEM_HTTP__PORT", "8004"))
    url = f"http://127.0.0.1:{port}/drain"
    deadline = time.monotonic() + budget
    try:
        _call(url, "POST")
    except (OSError, ValueError):  # HTTP errors and refused connections are OSErrors
        return 0  # no drain endpoint, or the service is already gone: nothing to wait for
    errors = 0
    while time.monotonic() < deadline:
        try:
            state = _call(url, "GET")
        except (OSError, ValueError):
            errors += 1
            if errors >= MAX_CONSECUTIVE_ERRORS:
                return 0
        else:
            errors = 0
            active = state.get("active")
            if not isinstance(active, int) or active <= 0:
                return 0
        time.sleep(poll)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
