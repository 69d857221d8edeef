"""The lookup API as FastAPI routes: the documented reference of every lookup, and batches.

Single lookups are normally answered by the lean path in front of FastAPI
(:mod:`~services.lookup_api.fast`); these routes declare the same paths, parameters and
answers for the OpenAPI document, and answer themselves when the lean path is off.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from libs.liveconfig.models import LookupKeyConfig
from libs.web.problems import error_responses
from services.lookup_api import service
from services.lookup_api.access import Gate
from services.lookup_api.schemas import (
    BatchRequest,
    BatchResponse,
    Cnam,
    Dnc,
    Include,
    KeyUsageView,
    Lrn,
    NumberInfo,
    RateAnswer,
    RouteAnswer,
)
from services.lookup_api.service import Caller
from services.lookup_api.state import LookupState

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["lookups"])

_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="apiKey", description="An API key (tdm_key_…)."
)
_bearer = HTTPBearer(
    auto_error=False, scheme_name="bearer", description="An API key as a bearer token."
)


def _state(request: Request) -> LookupState:
    return request.app.state.lookup  # type: ignore[no-any-return]


def _gate(request: Request) -> Gate:
    return request.app.state.gate  # type: ignore[no-any-return]


async def presented_key(
    api_key: Annotated[str | None, Depends(_api_key)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    return api_key or (bearer.credentials if bearer is not None else None)


Presented = Annotated[str | None, Depends(presented_key)]


async def admitted(request: Request, key: Presented) -> LookupKeyConfig:
    """The request's API key, admitted for one lookup (401/403/429 otherwise)."""
    client = request.client
    return _gate(request).admit(key, client.host if client else None)


Admitted = Annotated[LookupKeyConfig, Depends(admitted)]
NumberPath = Annotated[
    str,
    Path(
        max_length=64,
        description="The number: international (+44…) or national with `country`.",
        examples=["+442079460018"],
    ),
]
DialledPath = Annotated[
    str,
    Path(
        max_length=64,
        description="The number as dialled (digits, optional +).",
        examples=["442079460018"],
    ),
]
Country = Annotated[
    str | None,
    Query(max_length=2, description="Default country (ISO 3166-1) for national numbers."),
]
CustomerId = Annotated[
    str | None, Query(max_length=64, description="Whose routes (a customer key: its own).")
]
Cli = Annotated[str, Query(max_length=64, description="The caller's number (CLI routes).")]
TechPrefix = Annotated[str, Query(max_length=32, description="The tech prefix the call carries.")]
LOOKUP_ERRORS = error_responses(400, 401, 403, 404, 429)


@router.get(
    "/numbers/{number}",
    operation_id="numbers_get",
    response_model=NumberInfo,
    response_model_exclude_unset=True,
    responses=LOOKUP_ERRORS,
)
async def get_number(
    request: Request,
    _: Admitted,
    number: NumberPath,
    country: Country = None,
    include: Annotated[
        str | None, Query(description="Datasets to add: `lrn,cnam,dnc` (any of them).")
    ] = None,
) -> Any:
    """Number intelligence: E.164, validity, country, type, original carrier, region."""
    parts: list[Include] = [p for p in (include or "").split(",") if p]  # type: ignore[misc]
    return service.number(_state(request).snapshot, number, country=country, include=parts)


@router.get("/lrn/{number}", operation_id="lrn_get", response_model=Lrn, responses=LOOKUP_ERRORS)
async def get_lrn(
    request: Request, _: Admitted, number: NumberPath, country: Country = None
) -> Any:
    """Number portability: the LRN and serving operator, and which dataset answered."""
    return service.lrn(_state(request).snapshot, number, country=country)


@router.get("/cnam/{number}", operation_id="cnam_get", response_model=Cnam, responses=LOOKUP_ERRORS)
async def get_cnam(
    request: Request, _: Admitted, number: NumberPath, country: Country = None
) -> Any:
    """The caller name (CNAM) of a number."""
    return service.cnam(_state(request).snapshot, number, country=country)


@router.get("/dnc/{number}", operation_id="dnc_get", response_model=Dnc, responses=LOOKUP_ERRORS)
async def get_dnc(
    request: Request, _: Admitted, number: NumberPath, country: Country = None
) -> Any:
    """Which do-not-call lists hold the number or a prefix of it."""
    return service.dnc(_state(request).snapshot, number, country=country)


@router.get(
    "/rates/{number}", operation_id="rates_get", response_model=RateAnswer, responses=LOOKUP_ERRORS
)
async def get_rate(
    request: Request,
    key: Admitted,
    number: DialledPath,
    rate_card_id: Annotated[
        str | None, Query(max_length=64, description="Price on this card (operator keys).")
    ] = None,
    customer_id: CustomerId = None,
    cli: Cli = "",
    tech_prefix: TechPrefix = "",
) -> Any:
    """Destination and rate: longest-prefix match on a rate card or a customer's sell card."""
    return service.rate(
        _state(request).snapshot,
        number,
        caller=Caller(key.customer_id),
        rate_card_id=rate_card_id,
        customer_id=customer_id,
        cli=cli,
        tech_prefix=tech_prefix,
    )


@router.get(
    "/routes/{number}",
    operation_id="routes_get",
    response_model=RouteAnswer,
    responses=LOOKUP_ERRORS,
)
async def get_route(
    request: Request,
    key: Admitted,
    number: DialledPath,
    customer_id: CustomerId = None,
    cli: Cli = "",
    tech_prefix: TechPrefix = "",
    seed: Annotated[
        int, Query(description="Seed of the weighted order and gateway choice (reproducible).")
    ] = 0,
) -> Any:
    """The carriers a call would try, in sip_core's order, with buy rates and margins."""
    return service.route(
        _state(request).snapshot,
        number,
        caller=Caller(key.customer_id),
        customer_id=customer_id,
        cli=cli,
        tech_prefix=tech_prefix,
        seed=seed,
    )


@router.post(
    "/batch",
    operation_id="batch_lookup",
    response_model=BatchResponse,
    responses=error_responses(400, 401, 403, 429),
)
async def batch_lookup(request: Request, key: Presented, body: BatchRequest) -> Any:
    """Up to 1,000 lookups of one kind; each item has its result or its own error.

    Counts one request per number against the key's rate limit and daily quota.
    """
    client = request.client
    config = _gate(request).admit(key, client.host if client else None, cost=len(body.numbers))
    options = body.model_dump(exclude={"lookup", "numbers"})
    options["caller"] = Caller(config.customer_id)
    items = service.batch(_state(request).snapshot, body.lookup, body.numbers, **options)
    return {"lookup": body.lookup, "items": items}


@router.get(
    "/usage",
    operation_id="usage_get",
    response_model=KeyUsageView,
    responses=error_responses(401),
)
async def get_usage(request: Request, key: Presented) -> Any:
    """Your key's limits and today's usage (does not count against them)."""
    gate = _gate(request)
    config = gate.authenticate(key)
    counters = gate.usage(config.id)
    used = refused = 0
    if counters is not None:
        used = counters.requests_today + sum(counters.others.values())
        refused = counters.refused_today
    return {
        "api_key_id": str(config.id),
        "requests_per_second": config.requests_per_second,
        "daily_quota": config.daily_quota,
        "used_today": used,
        "refused_today": refused,
    }
