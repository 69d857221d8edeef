"""The intrusion-detection worker: sip_core's security events in, automatic firewall blocks out.

It consumes ``security.sip.>`` from the ``SECURITY`` stream through a durable pull consumer
(``ids``): a restart resumes where it stopped, and a message is acknowledged only once what it
caused is stored, so nothing is lost to a crash (a redelivered event may be counted twice,
which errs towards blocking an attacker slightly sooner). Each escalation of the
:class:`ThreatDetector` goes through :class:`IdsService` — one transaction, published as live
configuration after the commit — then a :class:`SourceBlocked` or :class:`BlockWithheld` event
records it on the same stream for operators and dashboards.

Detection state lives in this process: run one worker (the k8s Deployment has one replica with
the ``Recreate`` strategy); a second one would split the counts, never double a block.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

import structlog
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from prometheus_client import Counter

from libs.bus import SECURITY_STREAM, BusConnector, live_nodes
from libs.bus.errors import MessageDecodeError
from libs.bus.security import (
    BLOCK_WITHHELD_SUBJECT,
    SCANNER_DETECTED_SUBJECT,
    SIP_AUTH_FAILED_SUBJECT,
    SIP_SECURITY_SUBJECTS,
    SOURCE_BLOCKED_SUBJECT,
    SOURCE_FLOODED_SUBJECT,
    BlockWithheld,
    ScannerDetected,
    SipAuthFailed,
    SourceBlocked,
    SourceFlooded,
)
from libs.bus.tasks import cancel_and_wait
from libs.db import Database, UnitOfWork
from libs.db.models import SwitchSettings
from libs.liveconfig.models import SETTINGS_ID, SettingsConfig
from libs.liveconfig.snapshot import settings_config
from services.switch_api.ids.detector import Escalation, ThreatDetector, Thresholds
from services.switch_api.ids.service import BlockOutcome, IdsService
from services.switch_api.live import LiveConfig

__all__ = ["IdsWorker"]

_log = structlog.get_logger(__name__)

EVENTS = Counter("tandem_ids_events_total", "Security events consumed", ["kind"])
ESCALATIONS = Counter("tandem_ids_escalations_total", "Escalations by outcome", ["outcome"])
DURABLE = "ids"
#: How often the settings and the platform's node addresses are re-read.
REFRESH_INTERVAL = 10.0


class IdsWorker:
    def __init__(
        self,
        database: Database,
        connector: BusConnector,
        *,
        enumeration_usernames: int = 5,
        durable: str = DURABLE,
        batch: int = 200,
    ) -> None:
        self.database = database
        self.connector = connector
        self.live = LiveConfig(database, connector)
        self.enumeration_usernames = enumeration_usernames
        self.durable = durable
        self.batch = batch
        self.settings = SettingsConfig(id=SETTINGS_ID)
        self.detector = ThreatDetector(self._thresholds())
        self.platform: set[str] = set()
        #: Set once the durable consumer exists (events from then on are seen).
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def _thresholds(self) -> Thresholds:
        s = self.settings
        return Thresholds(
            auth_failure_max=max(1, s.auth_failure_max),
            auth_failure_window=float(max(1, s.auth_failure_window_seconds)),
            enumeration_usernames=max(2, self.enumeration_usernames),
        )

    # -- running -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ids")

    async def stop(self) -> None:
        task, self._task = self._task, None
        self._stopping = True
        await cancel_and_wait(task)  # a cancellation nats-py swallowed must not hang us

    async def _run(self) -> None:
        refreshed = 0.0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                bus = await self.connector.wait_connected()
                subscription = await bus.js.pull_subscribe(
                    SIP_SECURITY_SUBJECTS,
                    durable=self.durable,
                    stream=SECURITY_STREAM,
                    config=ConsumerConfig(
                        ack_policy=AckPolicy.EXPLICIT,
                        ack_wait=60,
                        deliver_policy=DeliverPolicy.NEW,
                        max_ack_pending=10_000,
                    ),
                )
                await self._refresh()
                refreshed = loop.time()
                self.ready.set()
                while not self._stopping:
                    if loop.time() - refreshed > REFRESH_INTERVAL:
                        await self._refresh()
                        refreshed = loop.time()
                    try:
                        messages = await subscription.fetch(self.batch, timeout=1.0)
                    except TimeoutError:
                        continue
                    for msg in messages:
                        await self._consume(msg)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                _log.warning("IDS consumer interrupted; resuming", error=str(exc))
                await asyncio.sleep(1.0)

    async def _refresh(self) -> None:
        """Re-read the settings (thresholds) and the platform's node addresses."""
        try:
            async with self.database.session() as session:
                settings = settings_config(await session.get(SwitchSettings, SETTINGS_ID))
            if settings != self.settings:
                self.settings = settings
                self.detector.thresholds = self._thresholds()
        except Exception as exc:
            _log.warning("settings not read; keeping the last", error=str(exc))
        try:
            nodes = await live_nodes(self.connector.bus, timeout=5.0)
        except Exception as exc:
            _log.debug("presence not read", error=str(exc))
            return
        self.platform = {host for node in nodes for host in _hosts(node.addresses.values())}

    async def _consume(self, msg: Msg) -> None:
        try:
            escalations = self.observe(msg.subject, msg.data)
        except MessageDecodeError as exc:
            _log.warning("security event rejected", subject=msg.subject, error=str(exc))
            await msg.ack()
            return
        try:
            for escalation in escalations:
                await self.escalate(escalation)
        except Exception:
            _log.exception("escalation failed; the event will be redelivered")
            await msg.nak(delay=2.0)
            return
        await msg.ack()

    # -- deciding ----------------------------------------------------------------------------

    def observe(self, subject: str, data: bytes) -> list[Escalation]:
        """Feed one event to the detector (decoding it by subject)."""
        detector = self.detector
        if subject == SIP_AUTH_FAILED_SUBJECT:
            failed = SipAuthFailed.from_bytes(data)
            EVENTS.labels("auth_failed").inc()
            return detector.auth_failed(
                failed.source_address,
                failed.at.timestamp(),
                username=failed.username,
                reason=failed.reason,
                node=failed.node_id,
                user_agent=failed.user_agent,
            )
        if subject == SCANNER_DETECTED_SUBJECT:
            scan = ScannerDetected.from_bytes(data)
            EVENTS.labels("scanner").inc()
            return detector.scanner(
                scan.source_address,
                scan.at.timestamp(),
                fingerprint=scan.fingerprint,
                user_agent=scan.user_agent,
                method=scan.method,
                to_user=scan.to_user,
                node=scan.node_id,
            )
        if subject == SOURCE_FLOODED_SUBJECT:
            flood = SourceFlooded.from_bytes(data)
            EVENTS.labels("flooded").inc()
            return detector.flooded(
                flood.source_address,
                flood.at.timestamp(),
                requests=flood.requests,
                limit=flood.limit,
                window=flood.window_seconds,
                node=flood.node_id,
            )
        EVENTS.labels("other").inc()
        return []

    async def escalate(self, escalation: Escalation) -> None:
        """Block the source (or report why not) and announce it."""
        now = datetime.now(UTC)
        base = (
            self.settings.flood_block_seconds
            if escalation.reason == "flood"
            else self.settings.auth_failure_block_seconds
        )
        async with self.database.session() as session:
            uow = UnitOfWork(session)
            outcome = await IdsService(uow, self.live).block(
                escalation, base_seconds=base, platform=self.platform, now=now
            )
            await uow.commit()  # publishes the rule to every node
        bus = self.connector.bus
        event_id = str(uuid.uuid4())
        if isinstance(outcome, BlockOutcome):
            if not outcome.created:
                ESCALATIONS.labels("already_blocked").inc()
                return
            rule = outcome.rule
            assert rule.expires_at is not None
            ESCALATIONS.labels("blocked").inc()
            _log.warning(
                "source blocked automatically",
                source=escalation.source,
                reason=escalation.reason,
                offence=rule.offences,
                until=rule.expires_at.isoformat(),
            )
            await bus.publish_persistent(
                SOURCE_BLOCKED_SUBJECT,
                SourceBlocked(
                    event_id=event_id,
                    at=now,
                    rule_id=str(rule.id),
                    network=rule.network,
                    reason=escalation.reason,
                    detail=rule.reason,
                    offence=rule.offences,
                    expires_at=rule.expires_at,
                    evidence=rule.evidence,
                ),
                msg_id=event_id,
            )
            return
        ESCALATIONS.labels("withheld").inc()
        _log.warning(
            "protected source over a threshold: not blocked",
            source=escalation.source,
            reason=escalation.reason,
            protected_by=outcome.protected_by,
        )
        await bus.publish_persistent(
            BLOCK_WITHHELD_SUBJECT,
            BlockWithheld(
                event_id=event_id,
                at=now,
                source_address=escalation.source,
                reason=escalation.reason,
                protected_by=outcome.protected_by,
                detail=escalation.detail[:2000],
                customer_id=outcome.customer_id,
                carrier_id=outcome.carrier_id,
                evidence=escalation.evidence,
            ),
            msg_id=event_id,
        )


def _hosts(addresses: Iterable[str]) -> set[str]:
    hosts: set[str] = set()
    for address in addresses:
        host = address.rsplit(":", 1)[0] if address.count(":") == 1 else address
        if host.startswith("["):
            host = host[1:].partition("]")[0]
        if host not in ("0.0.0.0", "::", ""):  # noqa: S104 - compared, never bound
            hosts.add(host)
    return hosts
