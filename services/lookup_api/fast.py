"""The lean path: single-number lookups answered straight from ASGI, in front of FastAPI.

FastAPI's per-request machinery (routing over every route, dependency injection, pydantic
validation and serialisation, two middlewares) costs more than a lookup itself; on this
machine it caps a trivial endpoint near 7,500 requests/s per core. :class:`FastLookups` sits in
front of the app (``build_app(front=…)``) and answers ``GET /v1/{numbers,lrn,cnam,dnc,rates,
routes}/{number}`` itself: match the path by string, read the key header, :meth:`Gate.admit`,
run the lookup of :mod:`~services.lookup_api.service`, encode with orjson, send the
security headers precomputed. Everything else — batch, usage, health, the OpenAPI document —
goes on to FastAPI.

The same paths are declared as FastAPI routes (:mod:`~services.lookup_api.endpoints`) calling
the same functions: they document the API (the OpenAPI document stays complete) and serve it
when the front is disabled (``lookup.fast_path = false``); a test checks the two answer alike.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl

import orjson
from prometheus_client import REGISTRY, Metric
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Receive, Scope, Send

from libs.errors import PROBLEM_BASE_URI, FieldError, TandemError, ValidationFailed
from services.lookup_api import service
from services.lookup_api.access import Gate
from services.lookup_api.service import Caller
from services.lookup_api.state import LookupState

__all__ = ["FastLookups", "front"]

#: The live lean paths, whose tallies :class:`_FastRequests` exports.
_FRONTS: weakref.WeakSet[FastLookups] = weakref.WeakSet()


class _FastRequests(Collector):
    """``tandem_lookup_fast_requests_total`` by kind and status, read from plain integer tallies
    at scrape time: a ``prometheus_client.Counter`` takes a lock on every increment."""

    def collect(self) -> Iterator[Metric]:
        totals: dict[tuple[str, int], int] = {}
        for fast in list(_FRONTS):
            for labels, count in list(fast.tally.items()):
                totals[labels] = totals.get(labels, 0) + count
        family = CounterMetricFamily(
            "tandem_lookup_fast_requests",
            "Lookups answered by the lean path",
            labels=["kind", "status"],
        )
        for (kind, status), count in sorted(totals.items()):
            family.add_metric([kind, str(status)], count)
        yield family


REGISTRY.register(_FastRequests())

#: Path segment → lookup kind.
PATHS = {
    "numbers": "number",
    "lrn": "lrn",
    "cnam": "cnam",
    "dnc": "dnc",
    "rates": "rate",
    "routes": "route",
}
_HEADERS = [
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]
_JSON = (b"content-type", b"application/json")
#: Lookups whose answer is a function of the snapshot and the request line alone (``rate`` and
#: ``route`` also depend on the time and on the caller's key): their encoded bodies are kept.
_CACHED = frozenset({"number", "lrn", "cnam", "dnc"})
#: Encoded answers kept per snapshot (about 400 bytes each); the cache starts afresh when full.
CACHE_SIZE = 16_384
_PROBLEM = (b"content-type", b"application/problem+json")
_TEXT_OPTIONS = ("country", "customer_id", "rate_card_id", "cli", "tech_prefix")


def options_of(query: bytes) -> dict[str, Any]:
    """The lookup options of a query string (as the FastAPI routes declare them)."""
    options: dict[str, Any] = {}
    if not query:
        return options
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name in _TEXT_OPTIONS:
            if len(value) > 64:
                raise ValidationFailed(
                    "Invalid request", errors=[FieldError(["query", name], "too long")]
                )
            options[name] = value
        elif name == "include":
            options["include"] = [part for part in value.split(",") if part]
        elif name == "seed":
            try:
                options["seed"] = int(value)
            except ValueError:
                raise ValidationFailed(
                    "Invalid request",
                    errors=[FieldError(["query", "seed"], "Input should be a valid integer")],
                ) from None
    return options


class FastLookups:
    """ASGI: answers single lookups, passes every other request to ``app``."""

    def __init__(self, app: ASGIApp, state: LookupState, gate: Gate) -> None:
        self.app = app
        self.state = state
        self.gate = gate
        #: Answers by (kind, status) — exported as ``tandem_lookup_fast_requests_total``.
        self.tally: dict[tuple[str, int], int] = {}
        self._bodies: dict[tuple[str, str, bytes], bytes] = {}
        self._bodies_of: object = None  # the snapshot the cached bodies were computed from
        _FRONTS.add(self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if not path.startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        segment, slash, raw = path[4:].partition("/")
        kind = PATHS.get(segment)
        if kind is None or not slash or not raw or "/" in raw:
            await self.app(scope, receive, send)
            return
        key = None
        bearer = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                key = value.decode("latin-1")
            elif name == b"authorization":
                bearer = value.decode("latin-1")
        if key is None and bearer is not None and bearer[:7].lower() == "bearer ":
            key = bearer[7:].strip()
        client = scope.get("client")
        query: bytes = scope["query_string"]
        try:
            config = self.gate.admit(key, client[0] if client else None)
            # One snapshot for the whole answer (a reload swaps it between two requests).
            snapshot = self.state.snapshot
            body = None
            if kind in _CACHED:
                if snapshot is not self._bodies_of:
                    self._bodies = {}
                    self._bodies_of = snapshot
                body = self._bodies.get((kind, raw, query))
            if body is None:
                options = options_of(query)
                if kind in ("rate", "route"):
                    options["caller"] = Caller(config.customer_id)
                body = orjson.dumps(service.lookup(snapshot, kind, raw, **options))
                if kind in _CACHED:
                    if len(self._bodies) >= CACHE_SIZE:
                        self._bodies = {}
                    self._bodies[(kind, raw, query)] = body
        except TandemError as exc:
            await self._problem(send, exc, path)
            self._count(kind, exc.status)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [_JSON, (b"content-length", b"%d" % len(body)), *_HEADERS],
            }
        )
        await send({"type": "http.response.body", "body": body})
        tally = self.tally
        tally[(kind, 200)] = tally.get((kind, 200), 0) + 1

    def _count(self, kind: str, status: int) -> None:
        self.tally[(kind, status)] = self.tally.get((kind, status), 0) + 1

    async def _problem(self, send: Send, exc: TandemError, path: str) -> None:
        problem: dict[str, Any] = {
            "type": PROBLEM_BASE_URI + exc.slug,
            "title": exc.title,
            "status": exc.status,
            "detail": exc.detail,
            "instance": path,
        }
        if exc.errors:
            problem["errors"] = list(exc.errors)
        problem.update(exc.extra)
        body = orjson.dumps(problem)
        headers = [_PROBLEM, (b"content-length", str(len(body)).encode()), *_HEADERS]
        headers += [(k.lower().encode(), v.encode()) for k, v in exc.headers().items()]
        await send({"type": "http.response.start", "status": exc.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def front(state: LookupState, gate: Gate) -> Callable[[ASGIApp], ASGIApp]:
    """The ``build_app(front=…)`` hook installing :class:`FastLookups`."""

    def wrap(app: ASGIApp) -> ASGIApp:
        return FastLookups(app, state, gate)

    return wrap
