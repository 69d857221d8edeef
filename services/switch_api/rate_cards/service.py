"""Rate cards, their revisions and rates.

A revision is a *draft* until it gets an effective date; then it is *scheduled*, becomes
*active* at that instant and *superseded* when a later one takes effect — kept, so older calls
can be re-rated. Rates can be changed only while a revision is a draft or scheduled: what was
in effect stays as it was billed (start a new revision, optionally copying the current one).

Every change to what is or will be in effect republishes the card's compiled blob (after the
commit, in the background); nodes hold the active and scheduled revisions, so a scheduled
revision takes effect on time without a publish.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import builtins
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import IO, Any

import structlog

from libs.accounts.rates import rates_csv
from libs.db import Database, DuplicateKey, KeysetPage, UnitOfWork, utcnow
from libs.db.listing import list_page
from libs.db.models import Rate, RateCard, RateCardDirection, RateCardRevision
from libs.errors import BadRequest, Conflict, FieldError, NotFound, ValidationFailed
from libs.identity import audit
from services.switch_api.dependents import Dependents
from services.switch_api.live import LiveConfig
from services.switch_api.rate_cards.importer import (
    MAX_ERRORS,
    ImportFormatError,
    RateDefaults,
    RowError,
    csv_rows,
    open_rate_card_rows,
    parse_mapping,
    row_error,
    validate_row,
)
from services.switch_api.rate_cards.progress import ImportTracker
from services.switch_api.rate_cards.repository import (
    RATE_COLUMNS,
    RateCardRepository,
    RateRepository,
    RevisionRepository,
)
from services.switch_api.rate_cards.schemas import (
    ImportFormat,
    ImportMode,
    ImportResult,
    ImportState,
    RateCardCreate,
    RateCardUpdate,
    RateWrite,
    Revision,
    RevisionCreate,
    RevisionStatus,
    RevisionUpdate,
)
from services.switch_api.rules import apply_changes, changes_of, invalid

BATCH = 5000

_log = structlog.get_logger(__name__)


def revision_statuses(
    revisions: Sequence[RateCardRevision], now: datetime
) -> dict[uuid.UUID, RevisionStatus]:
    started = [r for r in revisions if r.effective_from is not None and r.effective_from <= now]
    active = max(started, key=lambda r: r.effective_from, default=None)  # type: ignore[arg-type, return-value]
    statuses = {}
    for revision in revisions:
        if revision.effective_from is None:
            statuses[revision.id] = RevisionStatus.DRAFT
        elif revision.effective_from > now:
            statuses[revision.id] = RevisionStatus.SCHEDULED
        elif active is not None and revision.id == active.id:
            statuses[revision.id] = RevisionStatus.ACTIVE
        else:
            statuses[revision.id] = RevisionStatus.SUPERSEDED
    return statuses


def revision_view(revision: RateCardRevision, status: RevisionStatus) -> Revision:
    return Revision(
        id=revision.id,
        rate_card_id=revision.rate_card_id,
        name=revision.name,
        effective_from=revision.effective_from,
        status=status,
        rate_count=revision.rate_count,
        version=revision.version,
        created_at=revision.created_at,
        updated_at=revision.updated_at,
    )


def _encode_cursor(prefix: str) -> str:
    return base64.urlsafe_b64encode(prefix.encode()).rstrip(b"=").decode()


def _decode_cursor(cursor: str) -> str:
    try:
        prefix = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest(
            "the cursor is malformed; use next_cursor as the API returned it"
        ) from None
    if not prefix.isdigit():
        raise BadRequest("the cursor is malformed; use next_cursor as the API returned it")
    return prefix


class RateCardService:
    def __init__(
        self, uow: UnitOfWork, live: LiveConfig, tracker: ImportTracker | None = None
    ) -> None:
        self.uow = uow
        self.live = live
        self.tracker = tracker or ImportTracker()
        self.cards = RateCardRepository(uow.session)
        self.revisions = RevisionRepository(uow.session)
        self.rates = RateRepository(uow.session)
        self.dependents = Dependents(uow.session)

    # -- cards -------------------------------------------------------------------------------

    async def list(
        self,
        *,
        direction: RateCardDirection | None,
        name_contains: str | None,
        sort: str,
        cursor: str | None,
        limit: int,
    ) -> KeysetPage[RateCard]:
        statement = self.cards.filtered(direction=direction, name_contains=name_contains)
        return await list_page(self.cards, statement, sort=sort, cursor=cursor, limit=limit)

    async def get(self, card_id: uuid.UUID) -> RateCard:
        card = await self.cards.get(card_id)
        if card is None:
            raise NotFound(f"No rate card with id {card_id}")
        return card

    async def create(self, data: RateCardCreate) -> RateCard:
        try:
            card = await self.cards.add(RateCard(**data.model_dump(mode="json")))
        except DuplicateKey:
            raise Conflict(f"A rate card named {data.name!r} already exists") from None
        self.live.rate_card_changed(self.uow, card.id)
        return card

    async def update(self, card_id: uuid.UUID, data: RateCardUpdate) -> RateCard:
        card = await self.get(card_id)
        changes = changes_of(data)
        if "rounding" in changes:
            changes["rounding"] = changes["rounding"].value
        if changes.get("direction", card.direction) != card.direction:
            carriers, routes = await self.dependents.card_users(card_id)
            if carriers or routes:
                raise Conflict(
                    f"Rate card {card.name!r} is in use (carriers: {len(carriers)}, routes: "
                    f"{len(routes)}): a carrier needs a buy card and a route a sell card."
                )
        currency_changes = changes.get("currency", card.currency) != card.currency
        if currency_changes and await self.revisions.count_dated(card_id):
            raise Conflict(
                "The card's revisions have been scheduled or used in this currency: create "
                "a new card for another currency."
            )
        apply_changes(card, changes)
        try:
            await self.cards.flush()
        except DuplicateKey:
            raise Conflict(f"A rate card named {data.name!r} already exists") from None
        self.live.rate_card_changed(self.uow, card.id)
        return card

    async def delete(self, card_id: uuid.UUID) -> None:
        card = await self.get(card_id)
        carriers, routes = await self.dependents.card_users(card_id)
        if carriers or routes:
            raise Conflict(
                f"Rate card {card.name!r} is in use by carriers ({', '.join(carriers)[:200]}) "
                f"or routes ({len(routes)}): give them another card first."
            )
        await self.cards.delete(card)
        self.live.rate_card_changed(self.uow, card_id)

    # -- revisions ---------------------------------------------------------------------------

    async def list_revisions(
        self, card_id: uuid.UUID, *, sort: str, cursor: str | None, limit: int
    ) -> tuple[builtins.list[Revision], str | None]:
        await self.get(card_id)
        page = await list_page(
            self.revisions, self.revisions.of_card(card_id), sort=sort, cursor=cursor, limit=limit
        )
        statuses = revision_statuses(await self.revisions.all_of_card(card_id), utcnow())
        return [revision_view(r, statuses[r.id]) for r in page.items], page.next_cursor

    async def revision(
        self, card_id: uuid.UUID, revision_id: uuid.UUID
    ) -> tuple[RateCard, RateCardRevision, RevisionStatus]:
        card = await self.get(card_id)
        revision = await self.revisions.get(revision_id)
        if revision is None or revision.rate_card_id != card_id:
            raise NotFound(f"Rate card {card_id} has no revision {revision_id}")
        statuses = revision_statuses(await self.revisions.all_of_card(card_id), utcnow())
        return card, revision, statuses[revision.id]

    async def get_revision(self, card_id: uuid.UUID, revision_id: uuid.UUID) -> Revision:
        _, revision, status = await self.revision(card_id, revision_id)
        return revision_view(revision, status)

    async def create_revision(self, card_id: uuid.UUID, data: RevisionCreate) -> Revision:
        await self.get(card_id)
        self._check_future(data.effective_from)
        revision = RateCardRevision(
            rate_card_id=card_id, name=data.name, effective_from=data.effective_from
        )
        await self._flush_revision(revision, add=True)
        if data.copy_from is not None:
            source = await self.revisions.get(data.copy_from)
            if source is None or source.rate_card_id != card_id:
                raise invalid("copy_from", f"rate card {card_id} has no revision {data.copy_from}")
            await self.rates.copy(source.id, revision.id)
            revision.rate_count = source.rate_count
            await self.revisions.flush()
        if revision.effective_from is not None:
            self.live.rate_card_changed(self.uow, card_id)
        return await self.get_revision(card_id, revision.id)

    async def update_revision(
        self, card_id: uuid.UUID, revision_id: uuid.UUID, data: RevisionUpdate
    ) -> Revision:
        _, revision, status = await self.revision(card_id, revision_id)
        changes = changes_of(data, nullable={"effective_from"})
        if "effective_from" in changes:
            self._require_editable(revision, status)
            self._check_future(changes["effective_from"])
        apply_changes(revision, changes)
        await self._flush_revision(revision)
        if "effective_from" in changes:
            self.live.rate_card_changed(self.uow, card_id)
        return await self.get_revision(card_id, revision_id)

    async def activate_revision(self, card_id: uuid.UUID, revision_id: uuid.UUID) -> Revision:
        _, revision, status = await self.revision(card_id, revision_id)
        self._require_editable(revision, status)
        revision.effective_from = utcnow()
        await self._flush_revision(revision)
        self.live.rate_card_changed(self.uow, card_id)
        return await self.get_revision(card_id, revision_id)

    async def delete_revision(self, card_id: uuid.UUID, revision_id: uuid.UUID) -> None:
        _, revision, status = await self.revision(card_id, revision_id)
        self._require_editable(revision, status)
        await self.revisions.delete(revision)
        if status is RevisionStatus.SCHEDULED:
            self.live.rate_card_changed(self.uow, card_id)

    @staticmethod
    def _check_future(moment: datetime | None) -> None:
        if moment is not None and moment <= utcnow():
            raise invalid(
                "effective_from",
                "must be in the future; to put a revision in effect now, use its activate action",
            )

    @staticmethod
    def _require_editable(revision: RateCardRevision, status: RevisionStatus) -> None:
        if status in (RevisionStatus.ACTIVE, RevisionStatus.SUPERSEDED):
            raise Conflict(
                f"Revision {revision.id} took effect at {revision.effective_from:%Y-%m-%d %H:%M:%S}"
                " UTC: it is kept as calls were rated with it. Create a new revision (copy_from "
                "this one) instead.",
                status=status.value,
            )

    async def _flush_revision(self, revision: RateCardRevision, *, add: bool = False) -> None:
        try:
            if add:
                await self.revisions.add(revision)
            else:
                await self.revisions.flush()
        except DuplicateKey:
            raise Conflict(
                "Another revision of this card takes effect at the same instant: choose "
                "another effective_from."
            ) from None

    # -- rates -------------------------------------------------------------------------------

    async def list_rates(
        self,
        card_id: uuid.UUID,
        revision_id: uuid.UUID,
        *,
        cursor: str | None,
        limit: int,
        prefix_starts: str | None,
    ) -> tuple[builtins.list[Rate], str | None]:
        await self.revision(card_id, revision_id)
        after = _decode_cursor(cursor) if cursor else None
        rows = await self.rates.page(
            revision_id, after=after, limit=limit, prefix_starts=prefix_starts
        )
        if len(rows) <= limit:
            return rows, None
        return rows[:limit], _encode_cursor(rows[limit - 1].prefix)

    async def get_rate(self, card_id: uuid.UUID, revision_id: uuid.UUID, prefix: str) -> Rate:
        await self.revision(card_id, revision_id)
        rate = await self.rates.get(revision_id, prefix)
        if rate is None:
            raise NotFound(f"Revision {revision_id} has no rate for prefix {prefix}")
        return rate

    async def put_rate(
        self, card_id: uuid.UUID, revision_id: uuid.UUID, prefix: str, data: RateWrite
    ) -> tuple[Rate, bool]:
        """The rate, and whether it was created."""
        card, revision, status = await self.revision(card_id, revision_id)
        self._require_editable(revision, status)
        values = {
            "destination": data.destination,
            "rate": data.rate,
            "connection_fee": data.connection_fee,
            "initial_increment": (
                card.default_initial if data.initial_increment is None else data.initial_increment
            ),
            "subsequent_increment": (
                card.default_subsequent
                if data.subsequent_increment is None
                else data.subsequent_increment
            ),
            "blocked": data.blocked,
        }
        rate = await self.rates.get(revision_id, prefix)
        created = rate is None
        if rate is None:
            rate = Rate(revision_id=revision_id, prefix=prefix, **values)
            self.uow.session.add(rate)
        else:
            apply_changes(rate, values)
        await self.uow.session.flush()
        await self._recount(revision, status)
        return rate, created

    async def delete_rate(self, card_id: uuid.UUID, revision_id: uuid.UUID, prefix: str) -> None:
        _, revision, status = await self.revision(card_id, revision_id)
        self._require_editable(revision, status)
        rate = await self.rates.get(revision_id, prefix)
        if rate is None:
            raise NotFound(f"Revision {revision_id} has no rate for prefix {prefix}")
        await self.rates.delete_one(rate)
        await self._recount(revision, status)

    async def _recount(self, revision: RateCardRevision, status: RevisionStatus) -> None:
        revision.rate_count = await self.rates.count(revision.id)
        await self.revisions.flush()
        if status is RevisionStatus.SCHEDULED:
            self.live.rate_card_changed(self.uow, revision.rate_card_id)

    async def import_rates(
        self,
        card_id: uuid.UUID,
        revision_id: uuid.UUID,
        upload: IO[bytes],
        *,
        size: int,
        format: ImportFormat,
        mode: ImportMode,
        import_id: uuid.UUID,
        delimiter: str = ",",
        header: bool = True,
        columns: str | None = None,
        card_name: str | None = None,
    ) -> ImportResult:
        """Validate every row, then keep all of them or none (the request's transaction)."""
        started = time.monotonic()
        card, revision, status = await self.revision(card_id, revision_id)
        self._require_editable(revision, status)
        if self.tracker.running(import_id):
            raise Conflict(f"Import {import_id} is already running")
        progress = self.tracker.begin(import_id, revision_id, size)
        try:
            count = await self._import(
                card,
                revision,
                upload,
                progress,
                format,
                mode,
                delimiter,
                header,
                columns,
                card_name,
            )
        except ValidationFailed as exc:
            progress.finish(ImportState.FAILED, [dict(e) for e in exc.errors])
            raise
        except BaseException:
            progress.finish(ImportState.FAILED)
            raise
        revision.rate_count = await self.rates.count(revision.id)
        await self.revisions.flush()
        actor = audit.current_actor(self.uow.session)
        if actor is not None:
            audit.record(
                self.uow.session,
                actor,
                "rate_card_revision.imported",
                object_type="rate_card_revision",
                object_id=revision.id,
                diff={"rows": count, "mode": mode.value, "format": format.value},
            )
        if status is RevisionStatus.SCHEDULED:
            self.live.rate_card_changed(self.uow, card_id)
        # The import counts as done once its transaction commits (the endpoint's response).
        finish = progress.finish

        async def succeeded() -> None:
            finish(ImportState.SUCCEEDED)

        self.uow.after_commit(succeeded)
        return ImportResult(
            import_id=import_id,
            revision_id=revision_id,
            format=format,
            mode=mode,
            rows=count,
            rate_count=revision.rate_count,
            seconds=round(time.monotonic() - started, 3),
        )

    async def _import(
        self,
        card: RateCard,
        revision: RateCardRevision,
        upload: IO[bytes],
        progress: Any,
        format: ImportFormat,
        mode: ImportMode,
        delimiter: str,
        header: bool,
        columns: str | None,
        card_name: str | None,
    ) -> int:
        defaults = RateDefaults(card.default_initial, card.default_subsequent)
        try:
            if format is ImportFormat.CSV:
                rows = csv_rows(
                    upload, delimiter=delimiter, header=header, mapping=parse_mapping(columns)
                )
            else:
                defaults, rows = open_rate_card_rows(
                    upload, currency=card.currency, card=card_name, defaults=defaults
                )
                progress.bytes_read = progress.bytes_total
            if mode is ImportMode.REPLACE:
                await self.rates.clear(revision.id)
            write = self.rates.insert_many if mode is ImportMode.REPLACE else self.rates.upsert_many
            seen: dict[str, int] = {}
            errors: list[RowError] = []
            batch: list[dict[str, Any]] = []
            count = 0
            for line, values in rows:
                progress.rows_read += 1
                if progress.rows_read % BATCH == 0:
                    if format is ImportFormat.CSV:
                        progress.bytes_read = upload.tell()
                    await asyncio.sleep(0)  # let progress polls and other requests in
                    if progress.rows_read % (BATCH * 10) == 0:
                        _log.info(
                            "rate import progress",
                            import_id=str(progress.import_id),
                            rows=progress.rows_read,
                            bytes=progress.bytes_read,
                            of_bytes=progress.bytes_total,
                        )
                problem = values.get("__error__")
                if problem is not None:
                    errors.append(RowError(line, "row", problem))
                else:
                    try:
                        valid = validate_row(values, defaults)
                    except ValueError as exc:
                        errors.append(row_error(line, exc))
                    else:
                        first = seen.setdefault(valid[0], line)
                        if first != line:
                            errors.append(
                                RowError(
                                    line,
                                    "prefix",
                                    f"prefix {valid[0]} appears twice (first on line {first})",
                                )
                            )
                        elif not errors:
                            batch.append(
                                {
                                    "revision_id": revision.id,
                                    **dict(zip(RATE_COLUMNS, valid, strict=True)),
                                }
                            )
                if len(errors) >= MAX_ERRORS:
                    break
                if len(batch) >= BATCH:
                    await write(batch)
                    count += len(batch)
                    batch = []
        except ImportFormatError as exc:
            raise invalid(exc.field, str(exc)) from None
        if errors:
            more = "at least " if len(errors) >= MAX_ERRORS else ""
            first_error = errors[0]
            raise ValidationFailed(
                f"{more}{len(errors)} invalid rows: nothing was imported "
                f"(line {first_error.line}: {first_error.message})",
                errors=[self._field_error(e) for e in errors],
            )
        await write(batch)
        return count + len(batch)

    @staticmethod
    def _field_error(error: RowError) -> FieldError:
        field = FieldError(["body", error.line, error.field], f"line {error.line}: {error.message}")
        field["line"] = error.line
        return field


async def export_rows(database: Database, revision_id: uuid.UUID) -> AsyncIterator[bytes]:
    """The revision's rates as CSV (header first), streamed (:func:`libs.accounts.rates_csv`,
    which customer_api's export shares)."""
    async for chunk in rates_csv(database, revision_id):
        yield chunk
