"""The JetStream assets Tandem relies on, by name, and :func:`provision` to create them.

========================  =================  ==============================================
asset                     kind               holds
========================  =================  ==============================================
``tandem_config``         key-value bucket   one key per configuration object (``ipauth.<id>``)
``tandem_blobs``          object store       large objects (compiled rate cards, LNP tables)
``tandem_presence``       key-value bucket   node heartbeats (``<role>.<node_id>``), with a TTL
``tandem_registrations``  key-value bucket   SIP bindings (:mod:`libs.bus.registrations`), TTL
``CDR``                   stream             ``cdr.>``: call detail records, de-duplicated
``SECURITY``              stream             ``security.>``: security events, de-duplicated
========================  =================  ==============================================

A key-value bucket is the stream ``KV_<bucket>`` underneath and an object store the stream
``OBJ_<name>``: :func:`provision` compares and updates those streams.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import structlog
from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    KeyValueConfig,
    ObjectStoreConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import APIError, NotFoundError

from libs.bus.errors import _NATS_FAILURES, AssetConflict, BusError, _from_nats

__all__ = [
    "BLOB_STORE",
    "CDR_STREAM",
    "CDR_SUBJECTS",
    "CONFIG_BUCKET",
    "PRESENCE_BUCKET",
    "REGISTRATIONS_BUCKET",
    "SECURITY_STREAM",
    "SECURITY_SUBJECTS",
    "AssetSettings",
    "provision",
]

CONFIG_BUCKET = "tandem_config"
BLOB_STORE = "tandem_blobs"
PRESENCE_BUCKET = "tandem_presence"
REGISTRATIONS_BUCKET = "tandem_registrations"
CDR_STREAM = "CDR"
CDR_SUBJECTS = ("cdr.>",)
SECURITY_STREAM = "SECURITY"
SECURITY_SUBJECTS = ("security.>",)

_DAY = 86_400.0
_KV_MAX_DUPLICATE_WINDOW = 120.0  # what nats-py's create_key_value uses (capped by the TTL)
_STREAM_EXISTS = 10058  # JetStream err_code: "stream name already in use with a different config"

_log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class AssetSettings:
    """How the assets are configured; the defaults suit one embedded server.

    Attributes:
        presence_ttl: seconds a heartbeat lives in the presence bucket unless refreshed.
        duplicate_window: seconds CDR and SECURITY remember a ``Nats-Msg-Id``.
        replicas: JetStream replicas of every asset (1 on a single server, 3 in a cluster).
        config_history: revisions kept per configuration key.
        stream_max_age: seconds CDR and SECURITY keep a message.
        registrations_ttl: seconds a registration lives in its bucket unless refreshed; longer
            than the longest registration a registrar grants, it only clears the bindings of a
            node that died (a live node deletes its own when they lapse).
    """

    presence_ttl: float = 10.0
    duplicate_window: float = 3600.0
    replicas: int = 1
    config_history: int = 5
    stream_max_age: float = 14 * _DAY
    registrations_ttl: float = 7200.0

    def __post_init__(self) -> None:
        if self.presence_ttl <= 0:
            raise ValueError("presence_ttl must be positive")
        if not 0 < self.duplicate_window <= self.stream_max_age:
            raise ValueError("need 0 < duplicate_window <= stream_max_age")
        if not 1 <= self.replicas <= 5:
            raise ValueError("replicas must be between 1 and 5")
        if self.registrations_ttl <= 0:
            raise ValueError("registrations_ttl must be positive")
        if not 1 <= self.config_history <= 64:
            raise ValueError("config_history must be between 1 and 64")


@dataclass(frozen=True)
class _Asset:
    """One asset: the stream it is, the stream fields Tandem sets, and how to create it."""

    kind: str
    name: str
    stream: str
    wanted: dict[str, Any]
    create: Callable[[JetStreamContext], Awaitable[object]]


def _assets(settings: AssetSettings) -> list[_Asset]:
    def stream(name: str, subjects: tuple[str, ...]) -> _Asset:
        wanted: dict[str, Any] = {
            "subjects": list(subjects),
            "retention": RetentionPolicy.LIMITS,
            "discard": DiscardPolicy.OLD,
            "storage": StorageType.FILE,
            "num_replicas": settings.replicas,
            "max_age": settings.stream_max_age,
            "duplicate_window": settings.duplicate_window,
        }

        async def create(js: JetStreamContext) -> object:
            return await js.add_stream(StreamConfig(name=name, **wanted))

        return _Asset("stream", name, name, wanted, create)

    def bucket(name: str, *, history: int, ttl: float | None) -> _Asset:
        # The fields nats-py's create_key_value derives from a KeyValueConfig.
        wanted: dict[str, Any] = {
            "storage": StorageType.FILE,
            "num_replicas": settings.replicas,
            "max_msgs_per_subject": history,
            "max_age": ttl or 0.0,
            "duplicate_window": min(_KV_MAX_DUPLICATE_WINDOW, ttl or _KV_MAX_DUPLICATE_WINDOW),
        }
        config = KeyValueConfig(
            bucket=name,
            history=history,
            ttl=ttl,
            storage=StorageType.FILE,
            replicas=settings.replicas,
        )

        async def create(js: JetStreamContext) -> object:
            return await js.create_key_value(config)

        return _Asset("key-value bucket", name, f"KV_{name}", wanted, create)

    def object_store(name: str) -> _Asset:
        wanted: dict[str, Any] = {
            "storage": StorageType.FILE,
            "num_replicas": settings.replicas,
        }
        config = ObjectStoreConfig(storage=StorageType.FILE, replicas=settings.replicas)

        async def create(js: JetStreamContext) -> object:
            return await js.create_object_store(name, config)

        return _Asset("object store", name, f"OBJ_{name}", wanted, create)

    return [
        bucket(CONFIG_BUCKET, history=settings.config_history, ttl=None),
        object_store(BLOB_STORE),
        bucket(PRESENCE_BUCKET, history=1, ttl=settings.presence_ttl),
        bucket(REGISTRATIONS_BUCKET, history=1, ttl=settings.registrations_ttl),
        stream(CDR_STREAM, CDR_SUBJECTS),
        stream(SECURITY_STREAM, SECURITY_SUBJECTS),
    ]


async def provision(js: JetStreamContext, settings: AssetSettings = AssetSettings()) -> None:
    """Create every asset with FILE storage, or bring existing ones to ``settings``.

    Idempotent: a second run changes nothing. An existing asset whose settings differ is updated
    in place where NATS allows it (TTL, history, duplicate window, max age, replicas in a
    cluster); otherwise :class:`AssetConflict` says what differs (e.g. MEMORY storage, which
    NATS cannot change: move the data and recreate the stream).

    Raises:
        AssetConflict: an asset exists with settings NATS refuses to update.
        BusTimeout, BusUnavailable: JetStream did not answer.
        BusError: JetStream refused to create an asset.
    """
    for asset in _assets(settings):
        await _provision_one(js, asset)


async def _provision_one(js: JetStreamContext, asset: _Asset) -> None:
    label = f"{asset.kind} {asset.name!r}"
    current = await _stream_config(js, asset, label)
    if current is None:
        try:
            await asset.create(js)
        except APIError as exc:
            if exc.err_code != _STREAM_EXISTS:
                raise _from_nats(exc, f"create {label}") from exc
            # Another process created it meanwhile: compare with what it made.
            current = await _stream_config(js, asset, label)
        except _NATS_FAILURES as exc:
            raise _from_nats(exc, f"create {label}") from exc
        else:
            _log.info("bus.asset_created", asset=asset.name, kind=asset.kind)
            return
    if current is None:
        raise BusError(f"{label}: created by another process, then deleted again")

    differences = _differences(current, asset.wanted)
    if not differences:
        return
    changes = "; ".join(f"{field} is {have!r}, want {want!r}" for field, have, want in differences)
    try:
        await js.update_stream(dataclasses.replace(current, **asset.wanted))
    except APIError as exc:
        raise AssetConflict(
            f"{label} (stream {asset.stream}) exists with other settings ({changes}) and "
            f"NATS refused to update it: {exc.description}"
        ) from exc
    except Exception as exc:
        raise _from_nats(exc, f"update {label}") from exc
    _log.info("bus.asset_updated", asset=asset.name, kind=asset.kind, changes=changes)


async def _stream_config(js: JetStreamContext, asset: _Asset, label: str) -> StreamConfig | None:
    try:
        info = await js.stream_info(asset.stream)
    except NotFoundError:
        return None
    except Exception as exc:
        raise _from_nats(exc, f"look up {label}") from exc
    return info.config


def _differences(current: StreamConfig, wanted: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    return [
        (field, _plain(getattr(current, field)), _plain(value))
        for field, value in wanted.items()
        if _comparable(field, getattr(current, field)) != _comparable(field, value)
    ]


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _comparable(field: str, value: Any) -> Any:
    if field in ("max_age", "duplicate_window"):
        return round((value or 0.0) * 1e9)  # the server keeps nanoseconds
    if field == "subjects":
        return sorted(value or ())
    return _plain(value)
