"""Rating one CDR: the customer's charge on the sell rate, the carrier's cost on the buy rate.

Pure functions (no I/O): :class:`~libs.billing.cards.CardBook` supplies the card terms the CDR
does not carry (precision, rounding, a buy rate's increments and fee), and
:func:`rate_call` turns a :class:`~libs.bus.cdr.CallEnded` into the ``cdrs`` row.

Rules (the same :func:`libs.rating.price` sip_core caps calls with):

* the talk time is ``duration_ms`` of an answered call (0 otherwise), any started second billed;
* it is rounded up to the rate's increments (30/6 bills 20 s as 30 s, 31 s as 36 s), the CDR's
  increments first, else the card's defaults;
* the connection fee is charged on answered calls only;
* each part is rounded once to the card's precision with the card's rounding — capped at the
  balance's 6 decimal places, so a charge is exactly what the ledger debits.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from libs.bus.cdr import CallAttempt, CallEnded
from libs.db.models import BALANCE_SCALE
from libs.rating import BillingIncrements, Rate, from_milliseconds, price, whole_seconds

__all__ = ["BuyRate", "CardTerms", "RatedCall", "carrier_attempt", "rate_call", "rate_side"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class CardTerms:
    """What a rate card says about rounding charges (``libs.db.models.RateCard``)."""

    id: uuid.UUID
    currency: str
    precision: int
    rounding: str
    default_initial: int = 60
    default_subsequent: int = 60


#: Terms for a CDR whose card no longer exists: the balance's precision, half-up.
FALLBACK_PRECISION = BALANCE_SCALE


@dataclass(frozen=True, slots=True)
class BuyRate:
    """The buy card's rate row a carrier attempt was priced on."""

    per_minute: Decimal
    connection_fee: Decimal
    initial: int
    subsequent: int


@dataclass(frozen=True, slots=True)
class RatedCall:
    """A CDR with its charge and cost: ``row`` is the ``cdrs`` row to insert."""

    cdr: CallEnded
    row: dict[str, Any]
    charge: Decimal
    cost: Decimal


def carrier_attempt(cdr: CallEnded) -> CallAttempt | None:
    """The attempt the CDR is attributed to: the answered one, else the last one."""
    for attempt in cdr.attempts:
        if attempt.answered_at is not None:
            return attempt
    return cdr.attempts[-1] if cdr.attempts else None


def rate_side(
    seconds: Decimal,
    answered: bool,
    *,
    per_minute: Decimal | None,
    connection_fee: Decimal | None,
    initial: int | None,
    subsequent: int | None,
    card: CardTerms | None,
) -> tuple[int, Decimal]:
    """``(billable seconds, amount)`` of one side of a call; nothing without a rate."""
    if per_minute is None:
        return 0, _ZERO
    # Any started second is billed: rating depends on the whole seconds only, so the result
    # is memoised on them (a worker rates thousands of calls a second on a few rates).
    return _rate_whole_seconds(
        whole_seconds(seconds) if answered else 0,
        answered,
        per_minute,
        connection_fee,
        initial,
        subsequent,
        card,
    )


@functools.lru_cache(maxsize=65536)
def _rate_whole_seconds(
    seconds: int,
    answered: bool,
    per_minute: Decimal,
    connection_fee: Decimal | None,
    initial: int | None,
    subsequent: int | None,
    card: CardTerms | None,
) -> tuple[int, Decimal]:
    if card is not None:
        initial = card.default_initial if initial is None else initial
        subsequent = card.default_subsequent if subsequent is None else subsequent
        precision, rounding = min(card.precision, BALANCE_SCALE), card.rounding
    else:
        precision, rounding = FALLBACK_PRECISION, "half_up"
    increments = BillingIncrements(
        60 if initial is None else initial, 60 if subsequent is None else max(1, subsequent)
    )
    rate = Rate("", "", per_minute, connection_fee or _ZERO, increments)
    charge = price(seconds, rate, precision=precision, rounding=rounding, answered=answered)
    return charge.billable_seconds, charge.total


def _cut(text: str | None, length: int) -> str:
    return (text or "")[:length]


def rate_call(
    cdr: CallEnded,
    *,
    sell_card: CardTerms | None,
    buy_card: CardTerms | None,
    buy_rate: BuyRate | None,
) -> RatedCall:
    """Rate ``cdr`` and build its ``cdrs`` row (the id and ``rated_at`` are the caller's)."""
    answered = cdr.answered_at is not None
    seconds = from_milliseconds(cdr.duration_ms) if answered else _ZERO
    billed, charge = rate_side(
        seconds,
        answered,
        per_minute=cdr.sell_rate,
        connection_fee=cdr.connection_fee,
        initial=cdr.initial_increment,
        subsequent=cdr.subsequent_increment,
        card=sell_card,
    )
    if cdr.customer_id is None:
        charge = _ZERO  # nobody to charge (an unauthorised call)
    attempt = carrier_attempt(cdr)
    cost_seconds, cost = 0, _ZERO
    if attempt is not None and attempt.answered_at is not None:
        cost_seconds, cost = rate_side(
            seconds,
            True,
            per_minute=attempt.buy_rate,
            connection_fee=buy_rate.connection_fee if buy_rate else None,
            initial=buy_rate.initial if buy_rate else None,
            subsequent=buy_rate.subsequent if buy_rate else None,
            card=buy_card,
        )
    row: dict[str, Any] = {
        "call_id": cdr.call_id,
        "sip_call_id": _cut(cdr.sip_call_id, 255),
        "node_id": _cut(cdr.node_id, 128),
        "zone": _cut(cdr.zone, 64),
        "source_address": _cut(cdr.source_address, 64),
        "customer_id": cdr.customer_id,
        "auth_method": cdr.auth_method[:16] if cdr.auth_method else None,
        "ipauth_id": cdr.ipauth_id,
        "sip_user_id": cdr.sip_user_id,
        "caller_received": _cut(cdr.caller_received, 128),
        "callee_received": _cut(cdr.callee_received, 128),
        "caller_sent": _cut(cdr.caller_sent, 128),
        "callee_sent": _cut(cdr.callee_sent, 128),
        "route_id": cdr.route_id,
        "sell_card_id": cdr.sell_card_id,
        "sell_prefix": cdr.sell_prefix[:32] if cdr.sell_prefix is not None else None,
        "destination": cdr.destination[:200] if cdr.destination is not None else None,
        "sell_rate": cdr.sell_rate,
        "connection_fee": cdr.connection_fee,
        "initial_increment": cdr.initial_increment,
        "subsequent_increment": cdr.subsequent_increment,
        "currency": (cdr.currency or (sell_card.currency if sell_card else None) or None),
        "carrier_id": attempt.carrier_id if attempt else None,
        "gateway": attempt.gateway[:255] if attempt else None,
        "buy_card_id": attempt.buy_card_id if attempt else None,
        "buy_prefix": attempt.buy_prefix[:32] if attempt and attempt.buy_prefix else None,
        "buy_rate": attempt.buy_rate if attempt else None,
        "cost_currency": buy_card.currency if buy_card else None,
        "pdd_ms": attempt.pdd_ms if attempt else None,
        "started_at": cdr.started_at,
        "answered_at": cdr.answered_at,
        "ended_at": cdr.ended_at,
        "duration_ms": cdr.duration_ms if answered else 0,
        "billed_seconds": billed,
        "cost_seconds": cost_seconds,
        "sip_code": cdr.sip_code,
        "sip_reason": _cut(cdr.sip_reason, 255),
        "release_reason": cdr.release_reason.value,
        "released_by": cdr.released_by.value,
        "charge": charge,
        "cost": cost,
        "attempts": [a.model_dump(mode="json") for a in cdr.attempts],
        "media": {
            side: stats.model_dump(mode="json")
            for side, stats in (("caller", cdr.media_caller), ("callee", cdr.media_callee))
            if stats is not None
        },
    }
    if row["currency"] is not None:
        row["currency"] = row["currency"][:3]
    return RatedCall(cdr, row, charge, cost)
