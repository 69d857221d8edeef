"""Your sell rates: :class:`libs.accounts.rates.SellRates` for your account."""

from __future__ import annotations

import uuid

from libs.accounts.rates import CardOffer, RateFilter, SellRates
from libs.db import UnitOfWork
from libs.db.models import Rate, RateCardRevision
from services.customer_api.rates.schemas import RateCard, Revision


def card_view(offer: CardOffer) -> RateCard:
    card = offer.card
    return RateCard(
        id=card.id,
        name=card.name,
        currency=card.currency,
        precision=card.precision,
        rounding=card.rounding,
        default_initial=card.default_initial,
        default_subsequent=card.default_subsequent,
        active_revision=Revision.model_validate(offer.active) if offer.active else None,
        scheduled_revision=Revision.model_validate(offer.scheduled) if offer.scheduled else None,
    )


class RateService:
    def __init__(self, uow: UnitOfWork, customer_id: uuid.UUID) -> None:
        self.rates = SellRates(uow.session, customer_id)

    async def cards(self) -> list[RateCard]:
        return [card_view(offer) for offer in await self.rates.cards()]

    async def card(self, card_id: uuid.UUID) -> RateCard:
        return card_view(await self.rates.card(card_id))

    async def revision(self, card_id: uuid.UUID, revision_id: uuid.UUID | None) -> RateCardRevision:
        return await self.rates.revision(card_id, revision_id)

    async def page(
        self,
        card_id: uuid.UUID,
        revision_id: uuid.UUID | None,
        where: RateFilter,
        *,
        cursor: str | None,
        limit: int,
    ) -> tuple[RateCardRevision, list[Rate], str | None]:
        revision = await self.rates.revision(card_id, revision_id)
        rows, next_cursor = await self.rates.rates(revision.id, where, cursor=cursor, limit=limit)
        return revision, rows, next_cursor
