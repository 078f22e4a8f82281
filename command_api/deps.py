"""What routes share: the handlers' context and the Idempotency-Key wrapper."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from core.errors import AppError
from core.security import Principal
from loyalty import idempotency
from loyalty.handlers import Context, default_context

ContextDep = Annotated[Context, Depends(default_context)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Replays the first answer for 24 hours when sent again with the same body",
    ),
]

Handler = Callable[[idempotency.Claim | None], Awaitable[BaseModel]]


async def run_idempotent(
    ctx: Context,
    principal: Principal,
    *,
    endpoint: str,
    key: str | None,
    body: BaseModel,
    status_code: int,
    handler: Handler,
) -> JSONResponse:
    """Runs `handler` once per (user, endpoint, key): a replay answers the stored status and
    body. The handler records its answer in its own transaction; errors it did not record
    are recorded here, except a 429 and a crash, which free the key for a retry."""
    if key is None:
        result = await handler(None)
        return JSONResponse(result.model_dump(mode="json"), status_code=status_code)
    outcome = await idempotency.begin(
        ctx.sessionmaker,
        user_id=principal.user_id,
        endpoint=endpoint,
        key=key,
        body=body.model_dump(mode="json"),
        ttl_seconds=ctx.settings.idempotency_ttl_seconds,
    )
    if isinstance(outcome, idempotency.Replay):
        return JSONResponse(outcome.body, status_code=outcome.status_code)
    try:
        result = await handler(outcome)
    except AppError as error:
        if error.status_code < 500 and error.status_code != 429:
            await idempotency.record_error(ctx.sessionmaker, outcome, error)
        else:
            await idempotency.release(ctx.sessionmaker, outcome)
        raise
    except BaseException:
        await idempotency.release(ctx.sessionmaker, outcome)
        raise
    return JSONResponse(result.model_dump(mode="json"), status_code=status_code)
