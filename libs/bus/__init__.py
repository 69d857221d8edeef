"""Tandem's NATS bus: typed messages, JetStream assets and node presence.

Services meet only through ``libs`` contracts and NATS (DESIGN.md); this package is the NATS half
of that contract::

    from libs.bus import Bus, NodeHeartbeat, decode

    bus = await Bus.connect("nats://127.0.0.1:14222", name="sip_core")
    await provision(bus.js)                            # streams and buckets, idempotent
    reply = await bus.request("media.session.allocate", AllocateMedia(...), MediaAllocated)
    await bus.publish_persistent("cdr.call.ended", CallEnded(...), msg_id=call_id)
    await bus.close()                                   # drains

Modules:

- :mod:`libs.bus.client`: :class:`Bus` (publish, request/reply, subscribe, JetStream) and
  :class:`BusConnector` (first connection in the background).
- :mod:`libs.bus.messages`: :class:`BusMessage`, the message models and :data:`ALL_MESSAGES`.
- :mod:`libs.bus.assets`: stream and bucket names, :func:`provision`.
- :mod:`libs.bus.presence`: :class:`PresencePublisher`, :func:`live_nodes`.
- :mod:`libs.bus.errors`: :class:`BusError` and its subclasses (the tree is drawn there).

The nats-py types a caller handles (``Msg`` in handlers, ``PubAck``, ``KeyValue``,
``ObjectStore``, ``Subscription``) are re-exported so services need not import ``nats``.
"""

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import PubAck
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from libs.bus.assets import (
    BLOB_STORE,
    CDR_STREAM,
    CDR_SUBJECTS,
    CONFIG_BUCKET,
    PRESENCE_BUCKET,
    REGISTRATIONS_BUCKET,
    SECURITY_STREAM,
    SECURITY_SUBJECTS,
    AssetSettings,
    provision,
)
from libs.bus.client import Bus, BusConnector, Handler
from libs.bus.errors import (
    AssetConflict,
    BusError,
    BusTimeout,
    BusUnavailable,
    MessageDecodeError,
)
from libs.bus.messages import (
    ALL_MESSAGES,
    BusMessage,
    LoginAttempted,
    LoginOutcome,
    NodeHeartbeat,
    NodeRole,
    decode,
    login_subject,
)
from libs.bus.presence import PRESENCE_INTERVAL, PresencePublisher, live_nodes, presence_key

__all__ = [
    "ALL_MESSAGES",
    "BLOB_STORE",
    "CDR_STREAM",
    "CDR_SUBJECTS",
    "CONFIG_BUCKET",
    "PRESENCE_BUCKET",
    "PRESENCE_INTERVAL",
    "REGISTRATIONS_BUCKET",
    "SECURITY_STREAM",
    "SECURITY_SUBJECTS",
    "AssetConflict",
    "AssetSettings",
    "Bus",
    "BusConnector",
    "BusError",
    "BusMessage",
    "BusTimeout",
    "BusUnavailable",
    "Handler",
    "KeyValue",
    "LoginAttempted",
    "LoginOutcome",
    "MessageDecodeError",
    "Msg",
    "NodeHeartbeat",
    "NodeRole",
    "ObjectStore",
    "PresencePublisher",
    "PubAck",
    "Subscription",
    "decode",
    "live_nodes",
    "login_subject",
    "presence_key",
    "provision",
]
