"""The typed configuration objects that travel from switch_api to the nodes.

Every object lives in the configuration key-value bucket under ``<kind>.<id>`` as compact JSON.
Decoding ignores unknown fields, so a newer switch_api can add a field without breaking an older
sip_core; removing or changing the meaning of a field is a breaking change that takes a new kind.
"""

from __future__ import annotations

import uuid
from typing import Annotated, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from libs.liveconfig.errors import ConfigDecodeError

__all__ = ["BlobPointer", "ConfigObject", "config_key", "split_key"]


def config_key(kind: str, object_id: uuid.UUID | str) -> str:
    """The bucket key of one object: ``<kind>.<id>``."""
    return f"{kind}.{object_id}"


def split_key(key: str) -> tuple[str, str]:
    """``("carrier", "<uuid>")`` for ``carrier.<uuid>``; raises ``ValueError`` if malformed."""
    kind, _, object_id = key.partition(".")
    if not kind or not object_id:
        raise ValueError(f"not a configuration key: {key!r}")
    return kind, object_id


class ConfigObject(BaseModel):
    """Base of every configuration object; subclasses set ``kind`` (the key prefix)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: ClassVar[str]

    id: uuid.UUID
    #: The source row's version: consumers ignore an update older than what they hold.
    version: Annotated[int, Field(ge=0)] = 0

    @property
    def key(self) -> str:
        return config_key(self.kind, self.id)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        try:
            return cls.model_validate_json(data)
        except ValidationError as exc:
            raise ConfigDecodeError(f"{cls.kind}: {exc.error_count()} invalid field(s)") from None


class BlobPointer(ConfigObject):
    """Where a large object (a compiled rate card, a dataset) lives in the object store.

    The pointer key changes last, after the blob is complete, so a consumer never sees a
    half-written blob; ``sha256`` lets it verify what it downloaded.
    """

    kind: ClassVar[str] = "blob"

    #: What the blob holds (``ratecard``, ``lrn`` …); the pointer's key is ``<of>.<id>``.
    of: str
    name: str
    size: Annotated[int, Field(ge=0)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]

    @property
    def key(self) -> str:
        return config_key(self.of, self.id)
