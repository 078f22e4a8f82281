"""What routes share: the caller with the handlers' context, and the Idempotency-Key wrapper.

A route takes its input and one of `BuyerCall`, `IdempotentBuyerCall` or `OperatorCall`, and
hands the input on: `await operator.run(handlers.create_tariff, body)`.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from core.addresses import client_address
from core.errors import AppError
from core.security import CurrentOperator, CurrentPrincipal, Principal
from loyalty.handlers import Context, default_context
from loyalty.purchasing import idempotency


# Every dependency here is `async def`: FastAPI runs a plain `def` one in a worker thread, a
# hop per dependency per request that the hot path cannot afford.
async def context(request: Request) -> Context:
    return default_context().for_client(client_address(request))


ContextDep = Annotated[Context, Depends(context)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Replays the first answer for 24 hours when sent again with the same body",
    ),
]

Out = TypeVar("Out", bound=BaseModel)
Handler = Callable[..., Awaitable[Out]]


@dataclass(frozen=True)
class Call:
    """Who calls (a buyer, or an operator whose role is checked) and the handlers' context."""

    principal: Principal
    ctx: Context

    async def run(self, handler: Handler[Out], *args: object) -> Out:
        """`handler(*args, actor_id=..., ctx=...)`."""
        return await handler(*args, actor_id=self.principal.user_id, ctx=self.ctx)


@dataclass(frozen=True)
class IdempotentCall(Call):
    """A buyer's call that may carry an `Idempotency-Key`."""

    key: str | None

    async def run_once(
        self, handler: Handler[BaseModel], body: BaseModel, *, endpoint: str, status_code: int = 200
    ) -> JSONResponse:
        """Runs `handler(body, actor_id=..., ctx=...)` once per (user, endpoint, key), the
        key claimed in its context (`ctx.claim`): a replay answers the stored status and body.
        The handler records its answer in its own transaction; errors it did not record are
        recorded here, except a 429 and a crash, which free the key for a retry."""
        ctx, user_id = self.ctx, self.principal.user_id

        async def run(claim: idempotency.Claim | None) -> JSONResponse:
            result = await handler(body, actor_id=user_id, ctx=ctx.claiming(claim))
            return JSONResponse(result.model_dump(mode="json"), status_code=status_code)

        if self.key is None:
            return await run(None)
        outcome = await idempotency.begin(
            ctx, user_id=user_id, endpoint=endpoint, key=self.key, body=body.model_dump(mode="json")
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


async def buyer_call(principal: CurrentPrincipal, ctx: ContextDep) -> Call:
    return Call(principal, ctx)


async def idempotent_buyer_call(
    principal: CurrentPrincipal, ctx: ContextDep, key: IdempotencyKey = None
) -> IdempotentCall:
    return IdempotentCall(principal, ctx, key)


async def operator_call(operator: CurrentOperator, ctx: ContextDep) -> Call:
    return Call(operator, ctx)


BuyerCall = Annotated[Call, Depends(buyer_call)]
IdempotentBuyerCall = Annotated[IdempotentCall, Depends(idempotent_buyer_call)]
OperatorCall = Annotated[Call, Depends(operator_call)]
