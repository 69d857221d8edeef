"""Typed messages carried over NATS, and the registry of them all.

Every message is a frozen pydantic model serialised as compact JSON. Decoding ignores unknown
fields, so a producer may add an *optional* field without breaking older consumers; anything else
(removing or renaming a field, narrowing a type, making a field required) is a breaking change and
goes out on a new subject. ``tests/bus/test_contracts.py`` snapshots the JSON schema of every
model in :data:`ALL_MESSAGES` to catch such changes.

Names follow the house style: events in the past tense (``CallEnded``), requests named for the
command (``AllocateMedia``) with a past-tense reply (``MediaAllocated``).
"""

from __future__ import annotations

from typing import Annotated, Literal, Self, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from libs.bus.errors import MessageDecodeError

__all__ = [
    "ALL_MESSAGES",
    "BusMessage",
    "LoginAttempted",
    "LoginOutcome",
    "NodeHeartbeat",
    "NodeRole",
    "decode",
    "login_subject",
]

M = TypeVar("M", bound="BusMessage")

_MAX_ERRORS_QUOTED = 3


class BusMessage(BaseModel):
    """Base of every bus message: frozen, compact JSON on the wire, unknown fields ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    def to_bytes(self) -> bytes:
        """Serialise to compact UTF-8 JSON."""
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview | str) -> Self:
        """Decode a payload produced by :meth:`to_bytes` (or any compatible producer).

        Raises:
            MessageDecodeError: the payload is not JSON, or not a valid ``cls``.
        """
        if isinstance(data, memoryview):
            data = data.tobytes()
        try:
            return cls.model_validate_json(data)
        except ValidationError as exc:
            # Raised "from None": pydantic's message quotes the input, which may be personal data.
            raise MessageDecodeError(_describe(cls, exc)) from None


def decode(data: bytes | bytearray | memoryview | str, model: type[M]) -> M:
    """Decode ``data`` as a ``model``; shorthand for ``model.from_bytes(data)`` in handlers.

    Raises:
        MessageDecodeError: the payload is not a valid ``model``.
    """
    return model.from_bytes(data)


def _describe(model: type[BaseModel], exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in error["loc"]) or "payload"
        problems.append(f"{where}: {error['msg']}")
    more = len(problems) - _MAX_ERRORS_QUOTED
    text = "; ".join(problems[:_MAX_ERRORS_QUOTED]) + (f"; and {more} more" if more > 0 else "")
    return f"invalid {model.__name__} message: {text}"


NodeRole = Literal["sip_core", "rtp_relay", "lookup_api", "switch_api", "customer_api", "billing"]
"""The kinds of Tandem node that announce their presence."""


class NodeHeartbeat(BusMessage):
    """A node announced that it is alive, where it runs and how loaded it is.

    Stored in the presence bucket under ``<role>.<node_id>`` and refreshed every few seconds; the
    entry expires when the node stops refreshing it. sip_core picks the least-loaded rtp_relay of
    a zone from these (DESIGN.md, *Presence*).
    """

    node_id: Annotated[str, Field(min_length=1, description="Unique id of the node (process).")]
    role: NodeRole
    zone: Annotated[str, Field(min_length=1, description="Zone the node serves, e.g. 'eu-west'.")]
    version: Annotated[str, Field(description="Tandem version the node runs.")]
    started_at: Annotated[AwareDatetime, Field(description="When the node started.")]
    sent_at: Annotated[AwareDatetime, Field(description="When this heartbeat was built.")]
    load: Annotated[
        float, Field(ge=0.0, le=1.0, description="Share of capacity in use, 0 (idle) to 1 (full).")
    ]
    capacity: dict[str, float | int] = Field(
        default_factory=dict,
        description="Role-specific figures, e.g. {'active_calls': 12, 'ports_in_use': 48}.",
    )
    draining: bool = Field(
        default=False,
        description="True while the node finishes its work and accepts no new work.",
    )
    addresses: dict[str, str] = Field(
        default_factory=dict,
        description="Endpoints by kind, e.g. {'sip': '203.0.113.7:5060', 'http': '…'}.",
    )


LoginOutcome = Literal["succeeded", "failed", "throttled"]
"""How a login attempt ended: ``throttled`` attempts were refused before the password was tried."""


def login_subject(outcome: LoginOutcome) -> str:
    """The subject a :class:`LoginAttempted` is published on: ``security.login.<outcome>``."""
    return f"security.login.{outcome}"


class LoginAttempted(BusMessage):
    """Someone tried to log in to switch_api or customer_api (every attempt, whatever its end).

    Published on ``security.login.<outcome>`` (the SECURITY stream) after the attempt's audit
    entry is stored; the audit log stays the reference when NATS was unreachable.
    """

    event_id: Annotated[str, Field(min_length=1, description="Unique id; the JetStream msg id.")]
    at: Annotated[AwareDatetime, Field(description="When the attempt was made.")]
    service: Literal["switch_api", "customer_api"]
    principal_kind: Literal["operator", "customer"]
    account: Annotated[
        str, Field(max_length=320, description="The (normalised) email the attempt named.")
    ]
    user_id: Annotated[
        str | None, Field(description="The account's id, when the email names one.")
    ] = None
    source_address: Annotated[str, Field(description="The client's address (after proxies).")]
    outcome: LoginOutcome
    reason: Annotated[
        str,
        Field(
            description="Why: ok, unknown_account, bad_password, bad_totp, totp_required, "
            "bad_recovery_code, disabled, source_not_allowed, delayed, locked."
        ),
    ]
    consecutive_failures: Annotated[
        int, Field(ge=0, description="Failures of the account in a row, after this attempt.")
    ] = 0
    retry_after: Annotated[
        int | None, Field(ge=0, description="Seconds until the next attempt is allowed.")
    ] = None
    correlation_id: str | None = None


# Message modules built on BusMessage above; each declares the messages it adds.
from libs.bus.calls import CALLS_MESSAGES  # noqa: E402
from libs.bus.cdr import CDR_MESSAGES  # noqa: E402
from libs.bus.limits import LIMITS_MESSAGES  # noqa: E402
from libs.bus.lookup import LOOKUP_MESSAGES  # noqa: E402
from libs.bus.media import MEDIA_MESSAGES  # noqa: E402
from libs.bus.registrations import REGISTRATION_MESSAGES  # noqa: E402
from libs.bus.security import SECURITY_MESSAGES  # noqa: E402

ALL_MESSAGES: tuple[type[BusMessage], ...] = (
    NodeHeartbeat,
    LoginAttempted,
    *CDR_MESSAGES,
    *CALLS_MESSAGES,
    *LIMITS_MESSAGES,
    *MEDIA_MESSAGES,
    *REGISTRATION_MESSAGES,
    *SECURITY_MESSAGES,
    *LOOKUP_MESSAGES,
)
"""Every message type on the bus; the contract test snapshots each one's JSON schema."""
