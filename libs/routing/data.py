"""Building the routing model from plain data: the JSON objects of the configuration bucket.

Every parser takes a ``Mapping`` (as decoded from JSON) and the *path* of the object in the
whole configuration, and returns a model object or raises :class:`InvalidConfig` with that path
(``"rate_cards[2].revisions[0].rates[17]: per_minute must be finite and >= 0"``). Unknown keys
are ignored, so a newer publisher does not break an older consumer.

Shapes (``?`` marks optional keys; defaults are the model's)::

    {"carriers": [carrier…], "rate_cards": [rate_card…], "routes": [route…]}

    carrier    {id, name, rate_card_id, status?, tech_prefix?, channel_limit?, cps_limit?,
                timeouts?: {first_reply?, post_dial_delay?, ring?},
                failover_codes?: [int], stop_codes?: [int],
                gateways?: [{id, host, port?, transport?, weight?}]}
    rate_card  {id, currency, precision?, rounding?, name?,
                default_increments?: "60/60" | [60, 60] | {initial, subsequent},
                revisions: [{id, effective_from: ISO-8601 with offset, rates: [rate…]}]}
    rate       {prefix, destination?, rate, connection_fee?, increments? | initial? + subsequent?,
                blocked?}            — amounts as strings ("0.0125") or ints, never floats
    route      {id, customer_id, rate_card_id, dial_pattern?: "44" | {prefix} | {regex},
                cli_pattern?: same, strategy?, tech_prefix?, allow_below_cost?, max_duration?,
                carriers?: ["carrier-id" | {carrier_id, priority?, weight?}],
                excluded_carriers?: [id], media_zone?, media_mode?, channel_limit?, cps_limit?,
                priority?}
    rewrite    {target, kind, match, replacement, order?, id?}

Loading a card interns repeated values (amounts, increments, destination names), so a million
rates that share a few hundred prices and names hold one object for each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from libs.rating import BillingIncrements, Rate, RatingError
from libs.routing.errors import InvalidConfig, RoutingError
from libs.routing.model import (
    Carrier,
    CarrierTimeouts,
    Gateway,
    RateCard,
    RateRevision,
    Route,
    RouteCarrier,
)
from libs.routing.patterns import DialPattern
from libs.routing.prefix_index import PrefixIndex
from libs.routing.rewrite import ParameterRewriteRule

__all__ = [
    "parse_carrier",
    "parse_config",
    "parse_rate_card",
    "parse_rewrite_rule",
    "parse_route",
]

_T = TypeVar("_T")


_MODEL_ERRORS = (RatingError, RoutingError, KeyError, TypeError, ValueError)


def _config_error(exc: Exception, path: str) -> InvalidConfig:
    """``exc`` (a model error from inside the object at ``path``) as :class:`InvalidConfig`."""
    if isinstance(exc, InvalidConfig) and exc.path:
        return exc
    message = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
    return InvalidConfig(message, path)


@contextmanager
def _at(path: str) -> Iterator[None]:
    """Report any model error raised inside as :class:`InvalidConfig` at ``path``."""
    try:
        yield
    except _MODEL_ERRORS as exc:
        raise _config_error(exc, path) from None


def _object(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidConfig(f"expected an object, got {type(value).__name__}", path)
    return value


def _list(value: object, path: str) -> Sequence[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InvalidConfig(f"expected a list, got {type(value).__name__}", path)
    return value


def _items(
    data: Mapping[str, Any], key: str, path: str, parse: Callable[[Any, str], _T]
) -> list[_T]:
    return [
        parse(item, f"{path}{key}[{index}]")
        for index, item in enumerate(_list(data.get(key, ()), f"{path}{key}"))
    ]


def _optional(data: Mapping[str, Any], **names: str) -> dict[str, Any]:
    """``{argument: data[key]}`` for the keys present (``names`` maps argument → key)."""
    return {argument: data[key] for argument, key in names.items() if key in data}


class _Interner:
    """One object per distinct amount, increment scheme and name within a load."""

    def __init__(self) -> None:
        self.amounts: dict[object, Decimal] = {}
        self.increments: dict[tuple[int, int], BillingIncrements] = {}
        self.names: dict[str, str] = {}

    def amount(self, value: object, what: str) -> Decimal:
        if isinstance(value, bool | float):
            raise InvalidConfig(f"{what} must be a string or an int (money is never a float)")
        cached = self.amounts.get(value) if isinstance(value, str | int) else None
        if cached is not None:
            return cached
        if isinstance(value, Decimal):
            return value
        if isinstance(value, int):
            amount = Decimal(value)
        elif isinstance(value, str):
            try:
                amount = Decimal(value.strip())
            except InvalidOperation:
                raise InvalidConfig(f"{what} is not a number: {value!r}") from None
        else:
            raise InvalidConfig(f"{what} must be a string or an int, not {value!r}")
        self.amounts[value] = amount
        return amount

    def increment(self, initial: int, subsequent: int) -> BillingIncrements:
        key = (initial, subsequent)
        found = self.increments.get(key)
        if found is None:
            found = self.increments[key] = BillingIncrements(initial, subsequent)
        return found

    def name(self, value: object) -> str:
        if not isinstance(value, str):
            raise InvalidConfig(f"a destination name is a string, not {value!r}")
        return self.names.setdefault(value, value)


def _increments(value: object, interner: _Interner) -> BillingIncrements:
    if isinstance(value, BillingIncrements):
        return value
    if isinstance(value, str):
        parsed = BillingIncrements.parse(value)
        return interner.increment(parsed.initial, parsed.subsequent)
    if isinstance(value, Mapping):
        return interner.increment(value["initial"], value["subsequent"])
    if isinstance(value, Sequence) and len(value) == 2:
        return interner.increment(value[0], value[1])
    raise InvalidConfig(f"increments must be '30/6', [30, 6] or {{initial, subsequent}}: {value!r}")


def _moment(value: object) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise InvalidConfig(f"a date-time is an ISO-8601 string, not {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidConfig(f"not an ISO-8601 date-time: {value!r}") from None


def _pattern(value: object) -> DialPattern:
    if isinstance(value, DialPattern):
        return value
    if isinstance(value, str):
        return DialPattern.prefix(value)
    if isinstance(value, Mapping) and len(value) == 1:
        if "prefix" in value:
            return DialPattern.prefix(value["prefix"])
        if "regex" in value:
            return DialPattern.regex(value["regex"])
    raise InvalidConfig(f'a pattern is "digits", {{"prefix": …}} or {{"regex": …}}, not {value!r}')


def _parse_rate(data: Mapping[str, Any], default: BillingIncrements, interner: _Interner) -> Rate:
    # The loader's hot loop (a million rows): the caller adds the row's path on error only.
    if "increments" in data:
        increments = _increments(data["increments"], interner)
    elif "initial" in data or "subsequent" in data:
        increments = interner.increment(
            data.get("initial", default.initial), data.get("subsequent", default.subsequent)
        )
    else:
        increments = default
    return Rate(
        data["prefix"],
        interner.name(data.get("destination", "")),
        interner.amount(data["rate"], "rate"),
        interner.amount(data.get("connection_fee", 0), "connection_fee"),
        increments,
        data.get("blocked", False),
    )


def parse_rate_card(value: object, path: str = "rate_card") -> RateCard:
    """A :class:`RateCard` (with every revision's prefix index) from plain data."""
    data = _object(value, path)
    interner = _Interner()
    with _at(path):
        default = _increments(data.get("default_increments", "60/60"), interner)
    revisions = []
    for index, item in enumerate(_list(data.get("revisions", ()), f"{path}.revisions")):
        where = f"{path}.revisions[{index}]"
        revision = _object(item, where)
        rates = _list(revision.get("rates", ()), f"{where}.rates")
        parsed = []
        for number, row in enumerate(rates):
            try:
                parsed.append(_parse_rate(_object(row, ""), default, interner))
            except _MODEL_ERRORS as exc:
                raise _config_error(exc, f"{where}.rates[{number}]") from None
        with _at(where):
            index_ = PrefixIndex((rate.prefix, rate) for rate in parsed)
            revisions.append(
                RateRevision(revision["id"], _moment(revision["effective_from"]), index_)
            )
    with _at(path):
        return RateCard(
            data["id"],
            data["currency"],
            tuple(revisions),
            default_increments=default,
            **_optional(data, precision="precision", rounding="rounding", name="name"),
        )


def _gateway(value: object, path: str) -> Gateway:
    data = _object(value, path)
    with _at(path):
        return Gateway(
            data["id"],
            data["host"],
            **_optional(data, port="port", transport="transport", weight="weight"),
        )


def parse_carrier(value: object, path: str = "carrier") -> Carrier:
    """A :class:`Carrier` from plain data."""
    data = _object(value, path)
    gateways = tuple(_items(data, "gateways", f"{path}.", _gateway))
    with _at(path):
        extra = _optional(
            data,
            status="status",
            tech_prefix="tech_prefix",
            channel_limit="channel_limit",
            cps_limit="cps_limit",
        )
        if "timeouts" in data:
            timeouts = _object(data["timeouts"], f"{path}.timeouts")
            extra["timeouts"] = CarrierTimeouts(
                **_optional(
                    timeouts,
                    first_reply="first_reply",
                    post_dial_delay="post_dial_delay",
                    ring="ring",
                )
            )
        for key in ("failover_codes", "stop_codes"):
            if key in data:
                extra[key] = frozenset(_list(data[key], f"{path}.{key}"))
        return Carrier(data["id"], data.get("name", ""), data["rate_card_id"], gateways, **extra)


def _route_carrier(value: object, path: str) -> RouteCarrier:
    if isinstance(value, str):
        return RouteCarrier(value)
    data = _object(value, path)
    with _at(path):
        return RouteCarrier(
            data["carrier_id"], **_optional(data, priority="priority", weight="weight")
        )


def parse_route(value: object, path: str = "route") -> Route:
    """A :class:`Route` from plain data (regex patterns are compiled — and vetted — by RE2)."""
    data = _object(value, path)
    carriers = tuple(_items(data, "carriers", f"{path}.", _route_carrier))
    with _at(path):
        extra = _optional(
            data,
            strategy="strategy",
            tech_prefix="tech_prefix",
            allow_below_cost="allow_below_cost",
            max_duration="max_duration",
            media_zone="media_zone",
            media_mode="media_mode",
            channel_limit="channel_limit",
            cps_limit="cps_limit",
            priority="priority",
        )
        if "dial_pattern" in data:
            extra["dial_pattern"] = _pattern(data["dial_pattern"])
        if data.get("cli_pattern") is not None:
            extra["cli_pattern"] = _pattern(data["cli_pattern"])
        if "excluded_carriers" in data:
            extra["excluded_carriers"] = frozenset(
                _list(data["excluded_carriers"], f"{path}.excluded_carriers")
            )
        return Route(
            data["id"], data["customer_id"], data["rate_card_id"], carriers=carriers, **extra
        )


def parse_rewrite_rule(value: object, path: str = "rule") -> ParameterRewriteRule:
    """A :class:`ParameterRewriteRule` from plain data."""
    data = _object(value, path)
    with _at(path):
        return ParameterRewriteRule(
            data["target"],
            data["kind"],
            data["match"],
            data["replacement"],
            **_optional(data, order="order", id="id"),
        )


def parse_config(value: object) -> tuple[list[Carrier], list[RateCard], list[Route]]:
    """Every carrier, rate card and route of a whole configuration object."""
    data = _object(value, "")
    return (
        _items(data, "carriers", "", parse_carrier),
        _items(data, "rate_cards", "", parse_rate_card),
        _items(data, "routes", "", parse_route),
    )
