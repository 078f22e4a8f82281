"""What routes share: the handlers' context and the Idempotency-Key wrapper."""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from core.errors import AppError
from core.security import Principal
from loyalty.handlers import Context, default_context
from loyalty.purchasing import idempotency

ContextDep = Annotated[Context, Depends(default_context)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Replays the first answer for 24 hours when sent again with the same body",
    ),
]

Handler = Callable[..., Awaitable[BaseModel]]


async def run_idempotent(
    ctx: Context,
    principal: Principal,
    handler: Handler,
    body: BaseModel,
    *,
    endpoint: str,
    key: str | None,
    status_code: int = 200,
) -> JSONResponse:
    """Runs `handler(body, actor_id=..., claim=..., ctx=...)` once per (user, endpoint, key):
    a replay answers the stored status and body. The handler records its answer in its own
    transaction; errors it did not record are recorded here, except a 429 and a crash, which
    free the key for a retry."""

    async def run(claim: idempotency.Claim | None) -> JSONResponse:
        result = await handler(body, actor_id=principal.user_id, claim=claim, ctx=ctx)
        return JSONResponse(result.model_dump(mode="json"), status_code=status_code)

    if key is None:
        return await run(None)
    outcome = await idempotency.begin(
        ctx,
        user_id=principal.user_id,
        endpoint=endpoint,
        key=key,
        body=body.model_dump(mode="json"),
    )
    if isinstance(outcome, idempotency.Replay):
        return JSONResponse(outcome.body, status_code=outcome.status_code)
    try:
        return await run(outcome)
    except AppError as error:
        if error.status_code < 500 and error.status_code != 429:
            await idempotency.record_error(ctx, outcome, error)
        else:
            await idempotency.release(ctx, outcome)
        raise
    except BaseException:
        await idempotency.release(ctx, outcome)
        raise
