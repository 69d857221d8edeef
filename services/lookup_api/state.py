"""What lookup_api answers from: live configuration turned into immutable in-memory indexes.

A :class:`~libs.liveconfig.ConfigView` watches the configuration bucket; on each batch of
changes the affected index is rebuilt beside the current one and swapped in with a single
assignment (:class:`Snapshot` is immutable), so a request — which reads ``state.snapshot``
once — sees either the old configuration or the new one, never a mixture. A dataset blob is
loaded by the view *before* its change is announced, and an old dataset stays in service until
the new one is complete.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import structlog

from libs.bus import BusConnector
from libs.liveconfig import BlobPointer, Change, ConfigView
from libs.liveconfig.models import CarrierConfig, CustomerConfig, LookupKeyConfig, RouteConfig
from libs.liveconfig.routing import build_routing_table, load_parsed_rate_card
from libs.lookup import CnamIndex, DatasetIndex, DatasetKind, DncIndex, LrnIndex, load_dataset
from libs.routing import RoutingTable

__all__ = ["LookupState", "Snapshot"]

_log = structlog.get_logger(__name__)

_ROUTING = frozenset({"carrier", "route", "ratecard"})
_DATASETS = frozenset(kind.value for kind in DatasetKind)


def _load_dataset(data: bytes, pointer: BlobPointer) -> DatasetIndex:
    index = load_dataset(data, version=pointer.version)
    if index.kind.value != pointer.of or index.id != pointer.id:
        raise ValueError(f"blob {pointer.name} holds {index.kind.value}.{index.id}")
    return index


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a request reads, swapped as one reference."""

    routing: RoutingTable = field(default_factory=RoutingTable)
    lrn: tuple[LrnIndex, ...] = ()
    cnam: tuple[CnamIndex, ...] = ()
    dnc: tuple[DncIndex, ...] = ()
    customers: Mapping[uuid.UUID, CustomerConfig] = field(default_factory=dict)
    #: Lookup API keys by their lookup id (the public part of the key).
    keys: Mapping[str, LookupKeyConfig] = field(default_factory=dict)
    generation: int = 0


def _ordered(indexes: Any, kind: type[DatasetIndex]) -> tuple[Any, ...]:
    found = [i for i in indexes if isinstance(i, kind)]
    return tuple(sorted(found, key=lambda i: (i.priority, i.name, str(i.id))))


class LookupState:
    """The live :class:`Snapshot` of one lookup_api process."""

    def __init__(self, connector: BusConnector | None = None) -> None:
        self.snapshot = Snapshot()
        self.view: ConfigView | None = None
        if connector is not None:
            self.attach(connector)

    def attach(self, connector: BusConnector) -> None:
        """Follow the live configuration through ``connector`` (call :meth:`start` next)."""
        self.view = ConfigView(
            connector,
            {
                "carrier": CarrierConfig,
                "route": RouteConfig,
                "customer": CustomerConfig,
                "lookupkey": LookupKeyConfig,
            },
            blobs={
                "ratecard": load_parsed_rate_card,
                **dict.fromkeys(_DATASETS, _load_dataset),
            },
            on_change=self.apply,
        )

    @property
    def loaded(self) -> bool:
        return self.view is None or self.view.loaded.is_set()

    def start(self) -> None:
        if self.view is not None:
            self.view.start()

    async def stop(self) -> None:
        if self.view is not None:
            await self.view.stop()

    def apply(self, changes: list[Change]) -> None:
        """Rebuild what ``changes`` touch from the view and swap the snapshot (one assignment)."""
        assert self.view is not None
        kinds = {change.kind for change in changes}
        self.install(
            {
                kind: self.view.all(kind)
                for kind in (*_ROUTING, *_DATASETS, "customer", "lookupkey")
            },
            kinds,
        )

    def install(self, data: Mapping[str, Mapping[uuid.UUID, Any]], kinds: set[str]) -> Snapshot:
        """A new snapshot with the kinds in ``kinds`` rebuilt from ``data`` (by kind, by id)."""
        current = self.snapshot
        updates: dict[str, Any] = {"generation": current.generation + 1}
        if kinds & _ROUTING:
            table = build_routing_table(
                data.get("carrier", {}).values(),
                data.get("route", {}).values(),
                data.get("ratecard", {}).values(),
            )
            for problem in table.problems:
                _log.info("routing configuration incomplete", problem=problem)
            updates["routing"] = table
        if kinds & _DATASETS:
            for kind, model in (("lrn", LrnIndex), ("cnam", CnamIndex), ("dnc", DncIndex)):
                updates[kind] = _ordered(data.get(kind, {}).values(), model)
        if "customer" in kinds:
            updates["customers"] = dict(data.get("customer", {}))
        if "lookupkey" in kinds:
            updates["keys"] = {k.lookup_id: k for k in data.get("lookupkey", {}).values()}
        self.snapshot = replace(current, **updates)
        return self.snapshot
