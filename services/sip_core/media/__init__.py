"""sip_core's side of the media plane: which rtp_relay carries a call, and the call's session
on it (SDP rewriting, updates, statistics for the CDR)."""

from services.sip_core.media.anchor import (
    MediaController,
    MediaSession,
    MediaUnavailable,
    Offer,
    leg_stats,
)
from services.sip_core.media.relays import RelayDirectory, RelayInfo

__all__ = [
    "MediaController",
    "MediaSession",
    "MediaUnavailable",
    "Offer",
    "RelayDirectory",
    "RelayInfo",
    "leg_stats",
]
