"""sip_core's registrar: REGISTER, bindings shared over NATS, NAT pings, calls and MESSAGEs to
registered SIP users (issue 8, "Registrar and calls to SIP users").

==========  ==========================================================================
module      what it does
==========  ==========================================================================
bindings    ``BindingTable`` (the node's view) and ``BindingStore`` (the bucket behind it)
registrar   ``Registrar``: REGISTER with digest (401), expiry, several contacts, NAT
keepalive   ``Keepalive``: NAT/SIP pings per SIP user and lapsing bindings, one timer
inbound     ``RegisteredUserTarget``: the call policy's way to a registered user
messaging   ``Messenger``: MESSAGE to a user's contacts on an operator's request (NATS)
==========  ==========================================================================

:class:`RegistrarNode` puts them together on a node: ``B2BUA.handlers["REGISTER"]``, the
policy's ``registered`` resolution, the bucket watch, the sweep timer and the MESSAGE responder.
"""

from __future__ import annotations

from libs.bus import BusConnector
from services.sip_core.b2bua.calls import B2BUA
from services.sip_core.config import RegistrarSettings
from services.sip_core.policy.live import LivePolicy
from services.sip_core.registrar.bindings import BindingStore, BindingTable
from services.sip_core.registrar.inbound import RegisteredUserTarget
from services.sip_core.registrar.keepalive import Keepalive
from services.sip_core.registrar.messaging import Messenger
from services.sip_core.registrar.registrar import Registrar

__all__ = [
    "BindingStore",
    "BindingTable",
    "Keepalive",
    "Messenger",
    "RegisteredUserTarget",
    "Registrar",
    "RegistrarNode",
]


class RegistrarNode:
    """Everything registration-related on one sip_core node, wired to its B2BUA and policy."""

    def __init__(
        self,
        b2bua: B2BUA,
        policy: LivePolicy,
        connector: BusConnector,
        settings: RegistrarSettings,
        *,
        node_id: str,
    ) -> None:
        stack = b2bua.stack
        self.connector = connector
        self.table = BindingTable(node_id)
        self.store = BindingStore(connector, self.table)
        self.registrar = Registrar(
            stack, policy, self.store, settings, node_id=node_id, allow=lambda: b2bua.allow
        )
        self.keepalive = Keepalive(
            stack, policy, self.store, settings,
            local_host=b2bua.local_host, local_port=b2bua.local_port,
        )  # fmt: skip
        self.messenger = Messenger(
            stack, self.table,
            local_host=b2bua.local_host, local_port=b2bua.local_port, node_id=node_id,
        )  # fmt: skip
        policy.registered = RegisteredUserTarget(self.table, policy.limiter, settings)
        b2bua.handlers["REGISTER"] = self.registrar.handle

    def start(self) -> None:
        """Start watching the bucket, the sweep timer and the MESSAGE responder."""
        self.store.start()
        self.keepalive.start()
        self.messenger.start(self.connector)

    async def stop(self) -> None:
        self.keepalive.stop()
        await self.messenger.stop()
        await self.store.stop()
