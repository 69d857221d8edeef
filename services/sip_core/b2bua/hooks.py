"""How parts other than the call logic plug into the B2BUA, the stack's one transaction user.

- :data:`RequestHandler`: the B2BUA hands out-of-dialog requests of the methods registered in
  ``B2BUA.handlers`` (REGISTER for the registrar…) to their handler instead of answering 405.
- :class:`Outgoing`: the context of a client transaction the switch starts outside a call (a
  keep-alive OPTIONS, an operator's MESSAGE); its responses and its failure (timeout,
  transport error) are delivered to it.
"""

from __future__ import annotations

from collections.abc import Callable

from services.sip_core.sip import ClientTransaction, Peer, Request, Response, ServerTransaction

__all__ = ["Outgoing", "RequestHandler"]

RequestHandler = Callable[[Request, Peer, ServerTransaction], None]


class Outgoing:
    """Base of a request's context: override what it needs. Must not raise (logged if so)."""

    __slots__ = ()

    def on_response(self, response: Response, transaction: ClientTransaction) -> None:
        """A response (provisional or final) to the request arrived."""

    def on_failure(self, transaction: ClientTransaction) -> None:
        """No final response: the transaction timed out, or the peer cannot be reached."""
