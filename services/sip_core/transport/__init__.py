"""Moving SIP bytes: UDP datagrams, TCP and TLS streams (RFC 3261 §18).

Thin asyncio adapters around the sans-I/O codec in ``services.sip_core.sip``: they parse what
arrives, hand messages to the application and send back what it returns. Nothing raised while
handling one packet or one connection's bytes ever escapes into the event loop.
"""

from services.sip_core.transport.listeners import SipListeners

__all__ = ["SipListeners"]
