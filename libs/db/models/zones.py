"""Media and signalling zones: groups of sip_core and rtp_relay nodes in one place."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from libs.db.base import Base, TimestampedMixin, UUIDPrimaryKeyMixin


class Zone(UUIDPrimaryKeyMixin, TimestampedMixin, Base):
    __tablename__ = "zones"

    #: Short machine name, e.g. ``eu-west``; nodes announce the zone they run in by this name.
    name: Mapped[str] = mapped_column(String(63), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
