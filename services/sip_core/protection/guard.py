"""The security plane's gate in front of sip_core's parser: firewall, flood guard, scanners.

:class:`Protection` is what the transports consult. Its hot path, :meth:`Protection.admit`,
runs for every datagram and every TCP/TLS chunk *before* parsing, with the source IP as its only
input: one dict look-up in a per-address verdict cache (rebuilt from the immutable
:class:`~services.sip_core.protection.index.SourceIndex` on a miss) and, only while bans exist,
one more for the flood guard's bans. A blocked or banned source is dropped silently and counted.

After parsing, :meth:`Protection.screen` counts new requests (out-of-dialog INVITE, REGISTER,
OPTIONS… — not ACK/CANCEL, not in-dialog traffic, which carries a To tag) and drops requests
with a scanner's User-Agent; :meth:`Protection.malformed` counts unparseable messages and
:meth:`Protection.auth_failed` failed authentications (the call policy calls it). Crossing the
flood limit bans the source on this node at once and reports a
:class:`~libs.bus.security.SourceFlooded`, which the IDS worker turns into a firewall rule for
every node.

The clock is injected (the event loop's ``time``) and reports go to a callback, so the class
does no I/O and tests drive it with a fake clock.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from prometheus_client import Counter, Gauge

from libs.bus.messages import BusMessage
from libs.bus.security import (
    SCANNER_DETECTED_SUBJECT,
    SOURCE_FLOODED_SUBJECT,
    ScannerDetected,
    SourceFlooded,
)
from libs.liveconfig.models import SettingsConfig
from services.sip_core.protection.flood import Ban, FloodGuard
from services.sip_core.protection.index import PASS, SourceIndex, Verdict
from services.sip_core.protection.scanner import scanner_fingerprint
from services.sip_core.sip import ParseError, Peer, Request, Response

__all__ = ["Protection", "Reporter"]

_log = structlog.get_logger(__name__)

DROPPED = Counter(
    "tandem_sip_protection_dropped_total",
    "SIP packets dropped by the security plane before or after parsing",
    ["reason"],
)
_DROPPED_FIREWALL = DROPPED.labels("firewall")
_DROPPED_FLOOD = DROPPED.labels("flood")
_DROPPED_SCANNER = DROPPED.labels("scanner")
BANS = Counter("tandem_sip_flood_bans_total", "Sources banned by the flood guard")
BANNED = Gauge("tandem_sip_flood_banned_sources", "Sources under a flood ban on this node")
RULES = Gauge("tandem_sip_firewall_rules", "Firewall rules in force on this node")

#: ``report(subject, message)``: hand a security event to the bus (never blocks, never raises).
Reporter = Callable[[str, BusMessage], None]

#: Per-address verdicts cached between index swaps (bounded: cleared when full).
VERDICT_CACHE_SIZE = 65_536
#: A source's scanner hits are reported at most once per this many seconds.
SCANNER_REPORT_INTERVAL = 60.0
_SCANNER_REPORTS_KEPT = 4_096
_NOT_NEW = frozenset({"ACK", "CANCEL"})


def _no_report(subject: str, message: BusMessage) -> None:
    return None


class Protection:
    """Firewall, flood guard and scanner screen of one sip_core node."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        node_id: str = "",
        zone: str = "",
        report: Reporter = _no_report,
        settings: SettingsConfig | None = None,
        max_sources: int = 65_536,
    ) -> None:
        self.clock = clock
        self.node_id = node_id
        self.zone = zone
        self.report = report
        self.index = SourceIndex(now=datetime.now(UTC))
        self.flood = FloodGuard(max_sources=max_sources, max_bans=max_sources)
        self._verdicts: dict[str, Verdict] = {}
        self._scanner_reported: OrderedDict[str, float] = OrderedDict()
        self.configure(settings or SettingsConfig(id=uuid.UUID(int=1)))

    # -- configuration -----------------------------------------------------------------------

    def configure(self, settings: SettingsConfig) -> None:
        """Apply the platform settings' flood thresholds."""
        self.flood.configure(
            settings.flood_max_requests,
            max(1, settings.flood_window_seconds),
            max(0, settings.flood_block_seconds),
        )

    def swap(self, index: SourceIndex) -> None:
        """Use ``index`` from now on (one assignment; the cache starts afresh). A source the new
        index exempts loses any flood ban it had (an operator trusted it)."""
        self.index = index
        self._verdicts = {}
        RULES.set(index.rules)
        for source in list(self.flood.bans):
            if index.classify(source).exempt and self.flood.lift(source):
                _log.info("flood ban lifted: source now exempt", source=source)
        BANNED.set(len(self.flood.bans))

    def verdict(self, host: str) -> Verdict:
        verdict = self._verdicts.get(host)
        if verdict is None:
            verdict = self.index.classify(host)
            if len(self._verdicts) >= VERDICT_CACHE_SIZE:
                self._verdicts = {}
            self._verdicts[host] = verdict
        return verdict

    # -- the transports' hooks ---------------------------------------------------------------

    def admit(self, host: str) -> bool:
        """Whether a packet from ``host`` may be parsed at all (the per-packet hot path)."""
        verdict = self._verdicts.get(host) or self.verdict(host)
        if verdict is PASS or not (verdict.blocked or verdict.exempt):
            flood = self.flood
            if flood._bans and flood.banned(host, self.clock()):
                _DROPPED_FLOOD.inc()
                return False
            return True
        if verdict.blocked:
            _DROPPED_FIREWALL.inc()
            return False
        return True

    def malformed(self, host: str) -> bool:
        """Count an unparseable message from ``host``; ``False`` if the source is now banned
        (do not answer it)."""
        return self._count(host, self.verdict(host)) is None

    def auth_failed(self, host: str) -> None:
        """Count a failed authentication from ``host`` (the call policy calls this)."""
        self._count(host, self.verdict(host))

    def screen(self, message: Request | Response, peer: Peer) -> bool:
        """Count a parsed message; ``False``: drop it silently (a scanner, or a source that
        this message put over the flood limit)."""
        if not isinstance(message, Request) or message.method in _NOT_NEW:
            return True
        host = peer.host
        verdict = self.verdict(host)
        if verdict.exempt:
            return True
        try:
            if message.to.tag is not None:
                return True  # in a dialog: not counted
            user_agent = message.headers.get("User-Agent")
        except ParseError:
            user_agent = None  # the transaction layer answers a broken To itself
        fingerprint = scanner_fingerprint(user_agent)
        if fingerprint is not None:
            _DROPPED_SCANNER.inc()
            self._count(host, verdict)
            self._scanner(message, peer, fingerprint, user_agent or "")
            return False
        return self._count(host, verdict) is None

    # -- internals ---------------------------------------------------------------------------

    def _count(self, host: str, verdict: Verdict) -> Ban | None:
        if verdict.exempt or verdict.blocked:
            return None
        ban = self.flood.hit(host, self.clock(), verdict.limit)
        if ban is not None:
            BANS.inc()
            BANNED.set(len(self.flood.bans))
            _log.warning(
                "flood: source banned",
                source=host,
                requests=ban.requests,
                limit=ban.limit,
                window=ban.window,
                seconds=ban.until - ban.started,
            )
            self.report(
                SOURCE_FLOODED_SUBJECT,
                SourceFlooded(
                    event_id=str(uuid.uuid4()),
                    at=datetime.now(UTC),
                    node_id=self.node_id,
                    zone=self.zone,
                    source_address=host,
                    requests=ban.requests,
                    limit=max(1, ban.limit),
                    window_seconds=ban.window,
                    ban_seconds=ban.until - ban.started,
                ),
            )
        return ban

    def _scanner(self, request: Request, peer: Peer, fingerprint: str, user_agent: str) -> None:
        now = self.clock()
        reported = self._scanner_reported
        last = reported.get(peer.host)
        if last is not None and now - last < SCANNER_REPORT_INTERVAL:
            return
        reported[peer.host] = now
        reported.move_to_end(peer.host)
        while len(reported) > _SCANNER_REPORTS_KEPT:
            reported.popitem(last=False)
        try:
            to_user = getattr(request.to.uri, "user", None)
        except (ParseError, ValueError):
            to_user = None
        _log.info("SIP scanner", source=peer.host, fingerprint=fingerprint, method=request.method)
        self.report(
            SCANNER_DETECTED_SUBJECT,
            ScannerDetected(
                event_id=str(uuid.uuid4()),
                at=datetime.now(UTC),
                node_id=self.node_id,
                zone=self.zone,
                source_address=peer.host,
                source_port=peer.port,
                transport=peer.transport.lower(),
                method=request.method,
                fingerprint=fingerprint,
                user_agent=user_agent[:256],
                to_user=(to_user or None) and str(to_user)[:256],
            ),
        )

    def housekeeping(self) -> None:
        """Forget ended bans and idle counters (call every few seconds)."""
        self.flood.forget_expired(self.clock())
        BANNED.set(len(self.flood.bans))
