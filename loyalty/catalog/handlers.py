"""Operator commands of the catalog: tariffs, promo codes and generated batches.

The admin and command_api both call these; each writes its rows and its events in one
transaction. A code is never deleted: it is disabled (`is_active: false`).
"""

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError

from core.errors import ValidationFailed
from loyalty.catalog import generator
from loyalty.context import Context, LoyaltyUnitOfWork, create_row, unit_of_work
from loyalty.domain import errors, events, rules
from loyalty.models import utcnow
from loyalty.schemas import (
    BatchOut,
    GenerateRequest,
    PromocodeCreate,
    PromocodeOut,
    PromocodeTerms,
    PromocodeUpdate,
    TariffCreate,
    TariffOut,
    TariffUpdate,
)

# How often the generator tops up codes that collided with existing ones before giving up.
GENERATOR_ROUNDS = 20
# Codes generated (in a thread, off the event loop) and inserted per statement: a chunk is a
# fraction of a second of CPU and an INSERT far within the statement timeout, so a
# million-code batch never stalls the buyers' requests served by the same process.
GENERATION_CHUNK = 50_000


async def require_tariffs(uow: LoyaltyUnitOfWork, tariff_ids: Sequence[int]) -> None:
    missing = sorted(set(tariff_ids) - await uow.tariffs.existing_ids(tariff_ids))
    if missing:
        raise errors.TariffNotFound(details={"tariff_ids": missing})


async def require_promocode(uow: LoyaltyUnitOfWork, promocode_id: int):
    promo = await uow.codes.get(promocode_id)
    if promo is None:
        raise errors.PromocodeNotFound(details={"promocode_id": promocode_id})
    return promo


# ---- tariffs ---------------------------------------------------------------------------------


async def create_tariff(
    data: TariffCreate, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> TariffOut:
    """Creates a tariff; 409 `tariff_name_taken` when the name is in use."""
    values = data.model_dump()
    tariff = await create_row(ctx, "tariffs", values, events.TARIFF_CREATED, events.tariff_payload)
    return TariffOut.model_validate(tariff)


async def update_tariff(
    tariff_id: int, data: TariffUpdate, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> TariffOut:
    """Changes the fields sent (null means: leave it)."""
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    async with unit_of_work(ctx) as uow:
        try:
            tariff = await (
                uow.tariffs.change(tariff_id, changes) if changes else uow.tariffs.get(tariff_id)
            )
        except IntegrityError as exc:
            raise errors.TariffNameTaken() from exc
        if tariff is None:
            raise errors.TariffNotFound(details={"tariff_id": tariff_id})
        if changes:
            await uow.commit_event(events.TARIFF_UPDATED, tariff.id, events.tariff_payload(tariff))
    return TariffOut.model_validate(tariff)


# ---- promo codes -----------------------------------------------------------------------------


def _terms(data: PromocodeTerms) -> dict[str, Any]:
    """The columns a code takes from create/generate input; no `valid_from` means now."""
    terms = data.model_dump(include=set(PromocodeTerms.model_fields))
    terms["valid_from"] = terms["valid_from"] or utcnow()
    problem = rules.window_problem(terms["valid_from"], terms["valid_until"])
    if problem:
        raise ValidationFailed(problem, details={"field": "valid_until"})
    return terms


async def create_promocode(
    data: PromocodeCreate, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> PromocodeOut:
    values = {"code": data.code, **_terms(data)}
    async with unit_of_work(ctx) as uow:
        await require_tariffs(uow, data.tariff_ids)
        promo = await uow.codes.add(values)
        await uow.commit_event(events.PROMOCODE_CREATED, promo.id, events.promocode_payload(promo))
    return PromocodeOut.model_validate(promo)


async def update_promocode(
    promocode_id: int, data: PromocodeUpdate, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> PromocodeOut:
    """Changes the fields sent; `is_active: false` disables the code. The code text, its uses
    and its batch never change here."""
    changes = data.model_dump(exclude_unset=True)
    async with unit_of_work(ctx) as uow:
        current = await require_promocode(uow, promocode_id)
        if not changes:
            return PromocodeOut.model_validate(current)
        merged = {**current.model_dump(), **changes}
        problem = rules.value_problem(merged["discount_type"], merged["value"]) or (
            rules.window_problem(merged["valid_from"], merged["valid_until"])
        )
        if problem:
            raise ValidationFailed(problem)
        if merged["max_uses"] is not None and merged["max_uses"] < current.uses:
            raise ValidationFailed(
                f"max_uses cannot go below the {current.uses} uses already taken",
                details={"uses": current.uses},
            )
        if changes.get("tariff_ids"):
            await require_tariffs(uow, changes["tariff_ids"])
        try:
            promo = await uow.codes.change(promocode_id, changes)
        except IntegrityError as exc:  # a use taken meanwhile pushed uses above the new max
            raise ValidationFailed("max_uses cannot go below the uses taken") from exc
        await uow.commit_event(events.PROMOCODE_UPDATED, promo.id, events.promocode_payload(promo))
    return PromocodeOut.model_validate(promo)


async def _add_new_codes(
    uow: LoyaltyUnitOfWork, shape: generator.CodeShape, count: int, template: dict[str, Any]
) -> None:
    """`count` new codes of `shape` with the batch's terms; codes that collide with existing
    ones (the unique constraint decides) are generated again, GENERATOR_ROUNDS times at most."""
    missing = count
    for _ in range(GENERATOR_ROUNDS):
        codes = await asyncio.to_thread(generator.generate_codes, shape, missing)
        missing -= await uow.codes.add_many(codes, template)
        if missing == 0:
            return
    raise errors.CodeSpaceExhausted()


async def generate_promocodes(
    data: GenerateRequest, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> BatchOut:
    """`count` random codes with the same terms, in one transaction; the unique constraint
    decides collisions with existing codes and the shortfall is generated again."""
    shape = generator.make_shape(data.prefix, data.pattern, data.length)
    now = utcnow()
    batch_id = uuid.uuid4()
    template = {**_terms(data), "batch_id": batch_id, "created_at": now, "updated_at": now}
    batch = {
        "id": batch_id,
        "count": data.count,
        "pattern": shape.pattern,
        "prefix": shape.prefix,
        "length": shape.random_slots + 1,
    }
    async with unit_of_work(ctx) as uow:
        await require_tariffs(uow, data.tariff_ids)
        await uow.batches.add({**batch, "created_by": actor_id})
        for start in range(0, data.count, GENERATION_CHUNK):
            await _add_new_codes(uow, shape, min(GENERATION_CHUNK, data.count - start), template)
        payload = events.batch_payload(batch, template)
        await uow.commit_event(events.BATCH_GENERATED, batch_id, payload)
    return BatchOut(batch_id=batch_id, count=data.count)
