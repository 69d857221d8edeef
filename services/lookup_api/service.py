"""The lookups themselves: pure functions of a :class:`~services.lookup_api.state.Snapshot`.

Every function here is used by the three front doors alike — the lean HTTP path
(:mod:`~services.lookup_api.fast`), the documented FastAPI routes and the NATS responders — so
they always give the same answer. Results are JSON-ready dicts (money as decimal strings);
errors are :mod:`libs.errors` exceptions (4xx), never anything else for bad input.

Numbers
    ``number``, ``lrn``, ``cnam`` and ``dnc`` read a number as a person writes it (national
    formats with a default ``country``, or international) and key datasets by its E.164
    digits. ``rate`` and ``route`` take the number *as dialled* — digits after sip_core's
    rewrites, a leading ``+`` dropped — because that is what a call is routed on.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from libs.errors import BadRequest, NotFound, PermissionDenied, TandemError
from libs.rating import Rate
from libs.routing import RateCard, RoutingPlan, RoutingRefusal
from services.lookup_api.numbers import digits_of, number_info
from services.lookup_api.state import Snapshot

__all__ = [
    "BATCH_LIMIT",
    "INCLUDES",
    "KINDS",
    "Caller",
    "batch",
    "cnam",
    "dnc",
    "lookup",
    "lrn",
    "number",
    "rate",
    "route",
]

#: Numbers per batch request at most.
BATCH_LIMIT = 1000
#: What a number lookup can add from the datasets (``include=lrn,cnam,dnc``).
INCLUDES = ("lrn", "cnam", "dnc")
KINDS = ("number", "lrn", "cnam", "dnc", "rate", "route")


class Caller:
    """Who asks: an operator's key (``customer_id`` None: any customer) or a customer's."""

    __slots__ = ("customer_id",)

    def __init__(self, customer_id: uuid.UUID | None = None) -> None:
        self.customer_id = customer_id


OPERATOR = Caller()


def _e164(raw: str, country: str | None) -> tuple[dict[str, Any], str]:
    info = number_info(raw, country)
    return info, info["e164"][1:]


def _dataset(index: Any) -> dict[str, Any]:
    return {"id": str(index.id), "name": index.name}


def _lrn(snapshot: Snapshot, digits: str) -> dict[str, Any]:
    for index in snapshot.lrn:
        found = index.get(digits)
        if found is not None:
            return {
                "found": True,
                "ported": found.lrn is not None and found.lrn != digits,
                "lrn": found.lrn,
                "operator": found.operator,
                "dataset": _dataset(index),
            }
    return {"found": False, "ported": False, "lrn": None, "operator": None, "dataset": None}


def _cnam(snapshot: Snapshot, digits: str) -> dict[str, Any]:
    for index in snapshot.cnam:
        name = index.get(digits)
        if name is not None:
            return {"found": True, "name": name, "dataset": _dataset(index)}
    return {"found": False, "name": None, "dataset": None}


def _dnc(snapshot: Snapshot, digits: str) -> dict[str, Any]:
    lists = []
    for index in snapshot.dnc:
        found = index.get(digits)
        if found is not None:
            lists.append({**_dataset(index), "entry": found.entry, "prefix": found.prefix})
    return {"listed": bool(lists), "lists": lists}


def number(
    snapshot: Snapshot,
    raw: str,
    *,
    country: str | None = None,
    include: Sequence[str] = (),
) -> dict[str, Any]:
    """libphonenumber's facts about a number, with the datasets named in ``include``."""
    info, digits = _e164(raw, country)
    if not include:
        return info
    result = dict(info)
    for part in include:
        if part == "lrn":
            result["lrn"] = _lrn(snapshot, digits)
        elif part == "cnam":
            result["cnam"] = _cnam(snapshot, digits)
        elif part == "dnc":
            result["dnc"] = _dnc(snapshot, digits)
        else:
            raise BadRequest(f"include {part!r} is not one of {', '.join(INCLUDES)}")
    return result


def lrn(snapshot: Snapshot, raw: str, *, country: str | None = None) -> dict[str, Any]:
    """Portability: whether an LRN dataset holds the number, its LRN and serving operator."""
    _, digits = _e164(raw, country)
    return {"number": "+" + digits, **_lrn(snapshot, digits)}


def cnam(snapshot: Snapshot, raw: str, *, country: str | None = None) -> dict[str, Any]:
    """The caller name the CNAM datasets hold for a number."""
    _, digits = _e164(raw, country)
    return {"number": "+" + digits, **_cnam(snapshot, digits)}


def dnc(snapshot: Snapshot, raw: str, *, country: str | None = None) -> dict[str, Any]:
    """Which do-not-call lists hold the number (itself, or a prefix of it)."""
    _, digits = _e164(raw, country)
    return {"number": "+" + digits, **_dnc(snapshot, digits)}


def rate_json(found: Rate, card: RateCard) -> dict[str, Any]:
    return {
        "rate_card_id": card.id,
        "currency": card.currency,
        "prefix": found.prefix,
        "destination": found.destination,
        "rate": str(found.per_minute),
        "connection_fee": str(found.connection_fee),
        "increments": {
            "initial": found.increments.initial,
            "subsequent": found.increments.subsequent,
        },
        "blocked": found.blocked,
    }


def _customer(caller: Caller, customer_id: str | None) -> str:
    if customer_id is None:
        if caller.customer_id is None:
            raise BadRequest("name the customer (customer_id) whose routes to use")
        return str(caller.customer_id)
    if caller.customer_id is not None and customer_id != str(caller.customer_id):
        raise PermissionDenied("A customer's key can only look up that customer's routes.")
    return customer_id


def rate(
    snapshot: Snapshot,
    raw: str,
    *,
    caller: Caller = OPERATOR,
    rate_card_id: str | None = None,
    customer_id: str | None = None,
    cli: str = "",
    tech_prefix: str = "",
    now: datetime | None = None,
) -> dict[str, Any]:
    """The destination and price of a number: on a rate card (operators), or on the sell card
    of the customer's route that takes it — the longest prefix, in the revision in effect."""
    dialled = digits_of(raw)
    now = now or datetime.now(UTC)
    if rate_card_id is not None:
        if caller.customer_id is not None:
            raise PermissionDenied("A customer's key looks up rates through its routes.")
        card = snapshot.routing.rate_cards.get(rate_card_id)
        if card is None:
            raise NotFound(f"No rate card {rate_card_id} (or it has no rates in effect)")
        revision = card.revision_at(now.timestamp())
        found = revision.rates.lookup_digits(dialled) if revision is not None else None
        if found is None:
            raise NotFound(f"{dialled} is not on rate card {rate_card_id}")
        return {"number": dialled, "route_id": None, **rate_json(found, card)}
    customer = _customer(caller, customer_id)
    plan = snapshot.routing.plan(customer, dialled, cli, tech_prefix, now, random.Random(0))  # noqa: S311 - a reproducible plan, no secret
    if plan.sell_rate is None:
        assert isinstance(plan, RoutingRefusal)
        raise NotFound(plan.detail, reason=plan.reason.value)
    assert plan.route is not None
    card = snapshot.routing.rate_cards[plan.route.rate_card_id]
    return {"number": dialled, "route_id": plan.route.id, **rate_json(plan.sell_rate, card)}


def route(
    snapshot: Snapshot,
    raw: str,
    *,
    caller: Caller = OPERATOR,
    customer_id: str | None = None,
    cli: str = "",
    tech_prefix: str = "",
    seed: int = 0,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The carriers a call to ``raw`` would try, in sip_core's order, with their costs.

    This is :meth:`libs.routing.RoutingTable.plan` on the configuration sip_core reads, with a
    ``random.Random(seed)``: the weighted strategy and the gateway choice are random per call
    in sip_core; here the same ``seed`` always gives the same answer.
    """
    dialled = digits_of(raw)
    customer = _customer(caller, customer_id)
    now = now or datetime.now(UTC)
    plan = snapshot.routing.plan(customer, dialled, cli, tech_prefix, now, random.Random(seed))  # noqa: S311
    return plan_json(plan, customer, seed, dialled)


def _sell_rate(found: Rate, rate_card_id: str, currency: str | None) -> dict[str, Any]:
    return {
        "rate_card_id": rate_card_id,
        "currency": currency,
        "prefix": found.prefix,
        "destination": found.destination,
        "rate": str(found.per_minute),
        "connection_fee": str(found.connection_fee),
        "increments": {
            "initial": found.increments.initial,
            "subsequent": found.increments.subsequent,
        },
        "blocked": found.blocked,
    }


def plan_json(
    plan: RoutingPlan | RoutingRefusal, customer_id: str, seed: int, dialled: str
) -> dict[str, Any]:
    """A routing decision as the lookup answers it."""
    dropped = [
        {
            "carrier_id": d.carrier_id,
            "reason": d.reason.value,
            "buy_rate": str(d.buy_rate.per_minute) if d.buy_rate is not None else None,
        }
        for d in plan.dropped
    ]
    route_part = (
        {"id": plan.route.id, "strategy": plan.route.strategy.value}
        if plan.route is not None
        else None
    )
    if isinstance(plan, RoutingRefusal):
        return {
            "customer_id": customer_id,
            "number": dialled,
            "routed": False,
            "route": route_part,
            "sell_rate": _sell_rate(plan.sell_rate, plan.route.rate_card_id, None)
            if plan.sell_rate is not None and plan.route is not None
            else None,
            "carriers": [],
            "dropped": dropped,
            "refusal": {
                "reason": plan.reason.value,
                "sip_status": plan.sip_status,
                "detail": plan.detail,
            },
            "seed": seed,
        }
    return {
        "customer_id": customer_id,
        "number": dialled,
        "routed": True,
        "route": route_part,
        "sell_rate": _sell_rate(plan.sell_rate, plan.sell_card.id, plan.sell_card.currency),
        "carriers": [
            {
                "carrier_id": a.carrier.id,
                "name": a.carrier.name,
                "gateway": {
                    "id": a.gateway.id,
                    "host": a.gateway.host,
                    "port": a.gateway.port,
                    "transport": a.gateway.transport.value,
                },
                "number": a.number,
                "buy_rate": {
                    "prefix": a.buy_rate.prefix,
                    "destination": a.buy_rate.destination,
                    "rate": str(a.buy_rate.per_minute),
                    "connection_fee": str(a.buy_rate.connection_fee),
                    "increments": {
                        "initial": a.buy_rate.increments.initial,
                        "subsequent": a.buy_rate.increments.subsequent,
                    },
                },
                "margin": str(a.margin),
            }
            for a in plan.attempts
        ],
        "dropped": dropped,
        "refusal": None,
        "seed": seed,
    }


LookupFunction = Callable[..., dict[str, Any]]
_FUNCTIONS: dict[str, LookupFunction] = {
    "number": number,
    "lrn": lrn,
    "cnam": cnam,
    "dnc": dnc,
    "rate": rate,
    "route": route,
}
#: The options each lookup kind takes (besides the number).
OPTIONS: dict[str, frozenset[str]] = {
    "number": frozenset({"country", "include"}),
    "lrn": frozenset({"country"}),
    "cnam": frozenset({"country"}),
    "dnc": frozenset({"country"}),
    "rate": frozenset({"rate_card_id", "customer_id", "cli", "tech_prefix", "caller"}),
    "route": frozenset({"customer_id", "cli", "tech_prefix", "seed", "caller"}),
}


def lookup(snapshot: Snapshot, kind: str, raw: str, **options: Any) -> dict[str, Any]:
    """One lookup of ``kind`` (see :data:`KINDS`), with only the options that kind takes."""
    function = _FUNCTIONS.get(kind)
    if function is None:
        raise BadRequest(f"lookup {kind!r} is not one of {', '.join(KINDS)}")
    allowed = OPTIONS[kind]
    return function(
        snapshot, raw, **{k: v for k, v in options.items() if k in allowed and v is not None}
    )


def batch(
    snapshot: Snapshot, kind: str, numbers: Sequence[str], **options: Any
) -> list[dict[str, Any]]:
    """Up to :data:`BATCH_LIMIT` lookups; each item holds its ``result`` or its ``error``."""
    if kind not in _FUNCTIONS:
        raise BadRequest(f"lookup {kind!r} is not one of {', '.join(KINDS)}")
    if len(numbers) > BATCH_LIMIT:
        raise BadRequest(f"a batch holds at most {BATCH_LIMIT} numbers, not {len(numbers)}")
    items: list[dict[str, Any]] = []
    for position, raw in enumerate(numbers):
        try:
            items.append(
                {"index": position, "input": raw, "result": lookup(snapshot, kind, raw, **options)}
            )
        except TandemError as exc:
            items.append(
                {
                    "index": position,
                    "input": raw,
                    "error": {"status": exc.status, "title": exc.title, "detail": exc.detail},
                }
            )
    return items
