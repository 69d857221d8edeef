"""Getting call detail records to the CDR stream: none lost, none duplicated."""

from services.sip_core.cdr.sender import CdrSender
from services.sip_core.cdr.spool import CdrSpool

__all__ = ["CdrSender", "CdrSpool"]
