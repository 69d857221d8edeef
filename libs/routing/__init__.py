"""Tandem's routing: longest-prefix rate lookup, the routing model and the routing decision.

Pure library code — no framework, no I/O, no clock (``now`` and a ``random.Random`` are passed
in) — shared by sip_core (every call), lookup_api (rate and route lookups) and the billing
worker (rating CDRs on the card in effect at the call's time), so all three always agree.

==============  ===================================================================
module          what it does
==============  ===================================================================
prefix_index    ``PrefixIndex``: immutable longest-prefix match over digit strings
patterns        ``DialPattern`` and ``Regex``: prefixes and RE2 (linear-time) regexes
rewrite         parameter rewrite rules (destination / CLI) with a step-by-step trace
model           ``Carrier``, ``Gateway``, ``RateCard`` + revisions, ``Route`` …
table           ``RoutingTable`` snapshot and :meth:`~RoutingTable.plan`
failover        :func:`next_action`: stop, fail over or succeed on a SIP status
data            the model from plain (JSON-shaped) configuration data
errors          the exception tree, rooted at :class:`RoutingError`
==============  ===================================================================

A configuration reload builds a new :class:`RoutingTable` and swaps the reference: every
object here is immutable, so a call in progress keeps a consistent snapshot.
"""

from libs.routing.data import (
    parse_carrier,
    parse_config,
    parse_rate_card,
    parse_rewrite_rule,
    parse_route,
)
from libs.routing.errors import (
    DuplicatePrefix,
    InvalidConfig,
    InvalidNumber,
    InvalidPattern,
    InvalidPrefix,
    InvalidStatus,
    InvalidTime,
    RewriteError,
    RoutingError,
)
from libs.routing.failover import DEFAULT_STOP_CODES, FailoverAction, next_action
from libs.routing.model import (
    Carrier,
    CarrierStatus,
    CarrierTimeouts,
    Gateway,
    MediaMode,
    RateCard,
    RateRevision,
    Route,
    RouteCarrier,
    Strategy,
    Transport,
)
from libs.routing.patterns import DialPattern, PatternKind, Regex, RegexMatch
from libs.routing.prefix_index import MAX_PREFIX_LENGTH, PrefixIndex, is_digits
from libs.routing.rewrite import (
    MAX_NUMBER_LENGTH,
    ParameterRewriteRule,
    RewriteStep,
    RewriteTarget,
    apply_rewrites,
)
from libs.routing.table import (
    Attempt,
    DroppedCarrier,
    DropReason,
    PlanResult,
    RefusalReason,
    RoutingPlan,
    RoutingRefusal,
    RoutingTable,
)

__all__ = [
    "DEFAULT_STOP_CODES",
    "MAX_NUMBER_LENGTH",
    "MAX_PREFIX_LENGTH",
    "Attempt",
    "Carrier",
    "CarrierStatus",
    "CarrierTimeouts",
    "DialPattern",
    "DropReason",
    "DroppedCarrier",
    "DuplicatePrefix",
    "FailoverAction",
    "Gateway",
    "InvalidConfig",
    "InvalidNumber",
    "InvalidPattern",
    "InvalidPrefix",
    "InvalidStatus",
    "InvalidTime",
    "MediaMode",
    "ParameterRewriteRule",
    "PatternKind",
    "PlanResult",
    "PrefixIndex",
    "RateCard",
    "RateRevision",
    "RefusalReason",
    "Regex",
    "RegexMatch",
    "RewriteError",
    "RewriteStep",
    "RewriteTarget",
    "Route",
    "RouteCarrier",
    "RoutingError",
    "RoutingPlan",
    "RoutingRefusal",
    "RoutingTable",
    "Strategy",
    "Transport",
    "apply_rewrites",
    "is_digits",
    "next_action",
    "parse_carrier",
    "parse_config",
    "parse_rate_card",
    "parse_rewrite_rule",
    "parse_route",
]
