"""Routes of query_api: every read of the loyalty domain (API.md, Loyalty API)."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from core.inputs import Text, UtcMoment
from core.security import CurrentOperator, unconfirmed_caller
from loyalty.read.postgres import AttemptFilter, CodeFilter
from loyalty.schemas import ActivePromocode, PurchaseOut
from query_api.deps import ReadSideDep, get_read_side
from query_api.schemas import AttemptOut, PromocodeOut, PromocodePage

PREFIX = "/api/v1/loyalty"
router = APIRouter(prefix=PREFIX)

Limit = Annotated[int, Query(ge=1, le=500)]
DEFAULT_ACTIVE_PAGE, MAX_ACTIVE_PAGE = 50, 200
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


ActiveLimit = Annotated[
    int, Query(ge=1, le=MAX_ACTIVE_PAGE, description=f"at most {MAX_ACTIVE_PAGE}")
]
# A page costs what precedes it: the offset is bounded like the page.
ActiveOffset = Annotated[int, Query(ge=0, le=10_000)]


@router.get("/get_active_promocodes", response_model=list[ActivePromocode], tags=["buyer"])
async def get_active_promocodes(
    request: Request,
    limit: ActiveLimit = DEFAULT_ACTIVE_PAGE,
    offset: ActiveOffset = 0,
) -> Response:
    """The codes the caller can use right now: assigned to them, to one of their groups, or
    to everyone (batch codes excepted); minus disabled, not yet started, expired, exhausted
    and used up: exactly what `use_promocode` would accept. Empty for an account that may not
    use codes (blocked, deleted, or not known to the loyalty side yet). `uses_left_*` null:
    unlimited. Ending soonest first (never-ending last, then by code), a page at a time:
    `limit` (default 50, at most 200) from `offset`; when more follow, the `Link` header
    names the next page (`rel="next"`)."""
    # Neither is a dependency: the cost of resolving one showed in the profile.
    caller = unconfirmed_caller(request)
    reads = get_read_side()
    page = await reads.active_promocodes(caller.principal.user_id, limit, offset, caller)
    headers = {}
    if page.has_more:
        following = request.url.include_query_params(limit=limit, offset=offset + limit)
        headers["Link"] = f'<{following}>; rel="next"'
    # Built from what the projector stored, already JSON: answered without re-validation.
    return Response(page.json(), media_type="application/json", headers=headers)


@router.get("/purchases", response_model=list[PurchaseOut], tags=["buyer"])
async def purchases(request: Request, limit: Limit = 100, offset: Offset = 0) -> list[PurchaseOut]:
    """The caller's purchases, newest first."""
    caller = unconfirmed_caller(request)
    found = await get_read_side().purchases(caller.principal.user_id, limit, offset, caller)
    return [PurchaseOut.model_validate(p) for p in found]


@router.get("/promocodes", response_model=PromocodePage, tags=["operator"])
async def list_promocodes(
    _: CurrentOperator,
    reads: ReadSideDep,
    batch_id: uuid.UUID | None = None,
    is_active: bool | None = None,
    code: Annotated[Text | None, Query(min_length=1, max_length=64)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PromocodePage:
    """Promo codes, newest first, with `uses`, `uses_left_total` and failed attempts counted
    by reason. Filters: `batch_id`, `is_active`, `code` (exact, case-insensitive)."""
    items, has_more = await reads.codes(
        CodeFilter(batch_id=batch_id, is_active=is_active, code=code, limit=limit, offset=offset)
    )
    return PromocodePage(
        items=[PromocodeOut.model_validate(i) for i in items],
        limit=limit,
        offset=offset,
        has_more=has_more,
    )


@router.get("/promocodes/batches/{batch_id}.csv", tags=["operator"])
async def batch_csv(_: CurrentOperator, reads: ReadSideDep, batch_id: uuid.UUID):
    """The codes of a generated batch as CSV (streamed)."""
    lines = await reads.batch_csv(batch_id)
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="batch-{batch_id}.csv"'},
    )


@router.get("/promocodes/{promocode_id}", response_model=PromocodeOut, tags=["operator"])
async def get_promocode(
    _: CurrentOperator, reads: ReadSideDep, promocode_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> dict:
    """One promo code with its uses and failed attempts counted by reason; 404 `not_found`."""
    return await reads.code(promocode_id)


@router.get("/attempts", response_model=list[AttemptOut], tags=["operator"])
async def attempts(
    _: CurrentOperator,
    reads: ReadSideDep,
    promocode: Annotated[Text | None, Query(min_length=1, max_length=200)] = None,
    user_id: uuid.UUID | None = None,
    reason: Annotated[Text | None, Query(max_length=64)] = None,
    since: UtcMoment | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict]:
    """Failed attempts (quotes and uses that were rejected), newest first."""
    return await reads.attempts(
        AttemptFilter(promocode=promocode, user_id=user_id, reason=reason, since=since, limit=limit)
    )
