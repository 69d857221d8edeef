"""The audit log: every write through the APIs, with who, where, when and a field diff.

Written once, for every domain: :func:`attach` hooks a unit of work's session so that each flush
records one :class:`~libs.db.models.AuditEvent` per object created, changed or deleted, with
``{"field": {"old": …, "new": …}}`` for the columns that changed. Nothing per endpoint, and a
new table is audited the day it is added. Columns marked ``info=SECRET`` appear as
``"[redacted]"`` (so the log shows that a password or TOTP secret changed, never its hash or
ciphertext); columns marked ``info=UNAUDITED`` and models with ``__audited__ = False`` are left
out. Events that are not a row change (a login attempt, a refresh token replayed) are written
with :func:`record`.

The entries are inserted in the same transaction as the change they describe: a rolled-back
write leaves no entry, and a committed one always has its entry.
"""

from __future__ import annotations

import enum
import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, event, insert, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, UOWTransaction

from libs.db.models import AuditEvent
from libs.db.types import utcnow
from libs.identity.principal import Actor

__all__ = ["REDACTED", "attach", "current_actor", "record"]

REDACTED = "[redacted]"
_ACTOR = "tandem.audit.actor"
_LISTENING = "tandem.audit.listening"
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_AUDIT_TABLE = cast(Table, AuditEvent.__table__)


def attach(session: AsyncSession, actor: Actor) -> None:
    """Record every later flush of ``session`` in the audit log, as done by ``actor``."""
    sync = session.sync_session
    sync.info[_ACTOR] = actor
    if not sync.info.get(_LISTENING):
        event.listen(sync, "after_flush", _after_flush)
        sync.info[_LISTENING] = True


def current_actor(session: AsyncSession) -> Actor | None:
    """The actor :func:`attach` bound to ``session``, if any."""
    actor = session.sync_session.info.get(_ACTOR)
    return actor if isinstance(actor, Actor) else None


def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    object_type: str | None = None,
    object_id: object = None,
    outcome: str = "success",
    diff: dict[str, Any] | None = None,
) -> None:
    """Add one explicit entry (for what is not a row change: a login attempt, say)."""
    session.add(
        AuditEvent(
            id=uuid.uuid4(),
            at=utcnow(),
            action=action,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            outcome=outcome,
            diff=diff,
            **_actor_columns(actor),
        )
    )


def _actor_columns(actor: Actor) -> dict[str, Any]:
    return {
        "actor_kind": actor.kind.value,
        "actor_id": actor.id,
        "actor_label": actor.label[:320] if actor.label else None,
        "api_key_id": actor.api_key_id,
        "tenant_id": actor.tenant_id,
        "source_address": actor.source_address,
        "correlation_id": actor.correlation_id,
    }


def object_type_of(instance: object) -> str:
    """``Customer`` → ``customer``, ``OperatorRole`` → ``operator_role``."""
    return _CAMEL.sub("_", type(instance).__name__).lower()


def _json(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return _json(value.value)
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json(v) for v in value]
    return repr(value)


def _shown(column_info: dict[str, Any], value: Any) -> Any:
    if value is not None and column_info.get("secret"):
        return REDACTED
    return _json(value)


def _diff(instance: object, verb: str) -> dict[str, Any]:
    state = inspect(instance)
    changes: dict[str, Any] = {}
    for attribute in state.mapper.column_attrs:
        column = attribute.columns[0]
        if column.primary_key or column.info.get("audited") is False:
            continue
        attr_state = state.attrs[attribute.key]
        if verb == "created":
            old, new = None, attr_state.value
        elif verb == "deleted":
            old, new = attr_state.value, None
        else:
            history = attr_state.history
            if not history.added and not history.deleted:
                continue
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            if old == new:
                continue
        if old is None and new is None:
            continue
        changes[attribute.key] = {
            "old": _shown(column.info, old),
            "new": _shown(column.info, new),
        }
    return changes


def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    # In after_flush the session still lists what this flush wrote (new, dirty, deleted) with
    # each attribute's history, and generated values (ids, defaults) are filled in.
    actor = session.info.get(_ACTOR)
    if not isinstance(actor, Actor):
        return
    rows: list[dict[str, Any]] = []
    now = utcnow()
    for verb, instances in (
        ("created", session.new),
        ("updated", session.dirty),
        ("deleted", session.deleted),
    ):
        for instance in instances:
            if getattr(type(instance), "__audited__", True) is False:
                continue
            changes = _diff(instance, verb)
            if verb == "updated" and not changes:
                continue
            object_type = object_type_of(instance)
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "at": now,
                    "action": f"{object_type}.{verb}",
                    "object_type": object_type,
                    "object_id": str(getattr(instance, "id", "")) or None,
                    "outcome": "success",
                    "diff": changes,
                    **_actor_columns(actor),
                }
            )
    if rows:
        session.connection().execute(insert(_AUDIT_TABLE), rows)
