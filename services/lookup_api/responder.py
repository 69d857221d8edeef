"""lookup_api's NATS request/reply interface (:mod:`libs.bus.lookup`) for in-cluster callers.

Every replica subscribes to ``lookup.*`` in the queue group ``lookup_api``: NATS hands each
request to one of them. Callers inside the cluster are trusted as the operator (no key, no
quota). A malformed request still gets an answer — a :class:`~libs.bus.lookup.LookedUp` with
an ``error`` — so a caller never waits for a time-out because of its own mistake.
"""

from __future__ import annotations

import structlog

from libs.bus import BusConnector, MessageDecodeError, Msg
from libs.bus.lookup import (
    LOOKUP_QUEUE,
    LOOKUP_SUBJECTS,
    LookedUp,
    LookUp,
    LookupFailure,
    LookupItem,
)
from libs.bus.subscriber import QueueSubscriber
from libs.errors import TandemError
from services.lookup_api import service
from services.lookup_api.state import LookupState

__all__ = ["LookupResponder"]

_log = structlog.get_logger(__name__)


class LookupResponder:
    def __init__(self, connector: BusConnector, state: LookupState, *, node_id: str) -> None:
        self._connector = connector
        self._state = state
        self._node_id = node_id
        self._subscriber = QueueSubscriber(
            connector, LOOKUP_SUBJECTS, self._on_request, queue=LOOKUP_QUEUE, name="lookup-nats"
        )
        #: Set while subscribed (tests wait on it).
        self.ready = self._subscriber.ready

    def start(self) -> None:
        self._subscriber.start()

    async def stop(self) -> None:
        await self._subscriber.stop()

    async def _on_request(self, msg: Msg) -> None:
        if not msg.reply:
            return
        reply = self.answer(msg.subject, msg.data)
        await self._connector.bus.publish(msg.reply, reply)

    def answer(self, subject: str, data: bytes) -> LookedUp:
        """The reply to a request on ``subject`` carrying ``data`` (never raises)."""
        kind = subject.rpartition(".")[2]
        try:
            request = LookUp.from_bytes(data)
        except MessageDecodeError as exc:
            return self._failed(400, "Bad Request", str(exc))
        if kind not in service.KINDS:
            return self._failed(404, "Not Found", f"no lookup {kind!r}")
        try:
            items = service.batch(
                self._state.snapshot,
                kind,
                request.numbers,
                **request.model_dump(exclude={"numbers"}),
            )
        except TandemError as exc:
            return self._failed(exc.status, exc.title, exc.detail)
        return LookedUp(
            items=[LookupItem.model_validate(item) for item in items], node_id=self._node_id
        )

    def _failed(self, status: int, title: str, detail: str) -> LookedUp:
        return LookedUp(
            error=LookupFailure(status=status, title=title, detail=detail), node_id=self._node_id
        )
