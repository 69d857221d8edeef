"""Operators' SIP MESSAGEs to registered users (RFC 3428), requested over NATS.

switch_api sends a :class:`~libs.bus.registrations.SendSipMessage` request on
``sip.user.message``; one sip_core node (queue group ``sip_core``) sends a MESSAGE to each
contact of the user at once, waits for their final responses (up to the request's timeout) and
replies with every contact's status in a :class:`~libs.bus.registrations.SipMessageSent`. A
user with no binding gets ``error="not_registered"`` and nothing is sent.

A MESSAGE is a non-INVITE request outside any dialog (RFC 3428 §4): its own Call-ID, From with
a tag, To without, the text in the body (``text/plain`` by default; the phone shows it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from prometheus_client import Counter

from libs.bus import Bus, BusConnector, Msg, Subscription
from libs.bus.registrations import (
    SIP_MESSAGE_QUEUE,
    SIP_MESSAGE_SUBJECT,
    ContactDelivery,
    Registration,
    SendSipMessage,
    SipMessageSent,
)
from libs.bus.tasks import cancel_and_wait
from services.sip_core.b2bua.hooks import Outgoing
from services.sip_core.registrar.bindings import BindingTable
from services.sip_core.sip import (
    ClientTransaction,
    Peer,
    Request,
    Response,
    new_branch,
    new_tag,
)
from services.sip_core.stack import SipStack

__all__ = ["Messenger"]

_log = structlog.get_logger(__name__)

MESSAGES = Counter(
    "tandem_registrar_messages_total", "MESSAGEs to SIP users by outcome", ["outcome"]
)


class _Delivery(Outgoing):
    __slots__ = ("contact", "future")

    def __init__(self, contact: str, future: asyncio.Future[ContactDelivery]) -> None:
        self.contact = contact
        self.future = future

    def on_response(self, response: Response, transaction: ClientTransaction) -> None:
        if response.status_code >= 200 and not self.future.done():
            self.future.set_result(
                ContactDelivery(
                    contact=self.contact, status=response.status_code, reason=response.reason
                )
            )

    def on_failure(self, transaction: ClientTransaction) -> None:
        if not self.future.done():
            self.future.set_result(ContactDelivery(contact=self.contact, reason="no answer"))


class Messenger:
    """Sends MESSAGEs to the contacts in ``table``; answers the bus requests for them."""

    def __init__(
        self,
        stack: SipStack,
        table: BindingTable,
        *,
        local_host: str,
        local_port: int,
        node_id: str,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.stack = stack
        self.table = table
        self.local_host = local_host
        self.local_port = local_port
        self.node_id = node_id
        self.wall_clock = wall_clock
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    async def send(self, command: SendSipMessage) -> SipMessageSent:
        """Send ``command``'s MESSAGE to every live contact of its user."""
        bindings = self.table.of_user(command.sip_user_id, self.wall_clock())
        if not bindings:
            MESSAGES.labels("not_registered").inc()
            return SipMessageSent(
                sip_user_id=command.sip_user_id,
                delivered=False,
                error="not_registered",
                node_id=self.node_id,
            )
        loop = asyncio.get_running_loop()
        futures = [self._send_one(binding, command, loop) for binding in bindings]
        self.stack.pump()
        done, _ = await asyncio.wait(futures, timeout=command.timeout)
        results = [
            f.result()
            if f in done
            else ContactDelivery(contact=b.contact, reason="no final answer in time")
            for f, b in zip(futures, bindings, strict=True)
        ]
        delivered = any(r.status is not None and 200 <= r.status < 300 for r in results)
        MESSAGES.labels("delivered" if delivered else "failed").inc()
        return SipMessageSent(
            sip_user_id=command.sip_user_id,
            delivered=delivered,
            results=results,
            node_id=self.node_id,
        )

    def _send_one(
        self, binding: Registration, command: SendSipMessage, loop: asyncio.AbstractEventLoop
    ) -> asyncio.Future[ContactDelivery]:
        future: asyncio.Future[ContactDelivery] = loop.create_future()
        peer = Peer(binding.transport.upper(), binding.target_host, binding.target_port)
        local = f"{self.local_host}:{self.local_port}"
        request = Request(
            "MESSAGE",
            binding.contact,
            [
                ("Via", f"SIP/2.0/{peer.transport} {local};branch={new_branch()};rport"),
                ("Max-Forwards", "70"),
                ("From", f"<sip:{command.sender}@{local}>;tag={new_tag()}"),
                ("To", f"<sip:{binding.username}@{local}>"),
                ("Call-ID", new_tag() + new_tag()),
                ("CSeq", "1 MESSAGE"),
                ("Content-Type", command.content_type),
            ],
            command.body.encode(),
        )
        transaction = self.stack.layer.send_request(request, peer, self.stack.now())
        transaction.context = _Delivery(binding.contact, future)
        return future

    # -- the bus side ------------------------------------------------------------------------------

    def start(self, connector: BusConnector) -> None:
        """Answer ``sip.user.message`` requests (subscribing once NATS is up)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._subscribe(connector))

    async def _subscribe(self, connector: BusConnector) -> None:
        bus = await connector.wait_connected()

        async def handle(msg: Msg) -> None:
            command = SendSipMessage.from_bytes(msg.data)
            # Answered from a task: one slow phone must not hold the subscription's queue.
            task = asyncio.get_running_loop().create_task(self._answer(bus, msg, command))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

        self._subscription = await bus.subscribe(
            SIP_MESSAGE_SUBJECT, handle, queue=SIP_MESSAGE_QUEUE
        )

    async def _answer(self, bus: Bus, msg: Msg, command: SendSipMessage) -> None:
        try:
            reply = await self.send(command)
            await bus.respond(msg, reply)
        except Exception:
            _log.exception("MESSAGE request failed", sip_user_id=str(command.sip_user_id))

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            await cancel_and_wait(task)
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._subscription.unsubscribe(), 1.0)
            self._subscription = None
