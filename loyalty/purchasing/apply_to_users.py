"""The operator's "apply": paid purchases at a code's price for a list of users."""

import uuid
from dataclasses import replace

from loyalty.context import Context, default_context
from loyalty.domain import errors, rules
from loyalty.models import utcnow
from loyalty.purchasing.handlers import Rejected, log_rejection, take_use
from loyalty.schemas import (
    AppliedPurchase,
    ApplyToUsersOut,
    ApplyToUsersRequest,
    PromocodeRequest,
    RejectedUser,
)

APPLY_TO_USERS = "apply_to_users"


async def apply_to_users(
    promocode_id: int,
    data: ApplyToUsersRequest,
    *,
    actor_id: uuid.UUID,
    ctx: Context | None = None,
) -> ApplyToUsersOut:
    """Each user, in order, gets a paid purchase at the code's price until the code runs out;
    the others are listed with their real reason (operators may know that codes exist) and
    logged in the attempts log like a buyer's rejection (endpoint `apply_to_users`).

    Each user's use is one statement, the buyer's own (`take_use`: the same locks in the same
    order, so no deadlocks with buyers). `dry_run` evaluates the same rules on a snapshot,
    counting the uses it would take, and writes nothing.
    """
    ctx = ctx or default_context()
    now = utcnow()
    async with ctx.uow() as uow:
        promo = await uow.codes.get(promocode_id)
        if promo is None:
            raise errors.PromocodeNotFound(details={"promocode_id": promocode_id})
        tariff = await uow.tariffs.get(data.tariff_id)
        if tariff is None:
            raise errors.TariffNotFound(details={"tariff_id": data.tariff_id})
    quote = rules.price(promo.discount_type, promo.value, tariff.price)
    applied: list[AppliedPurchase] = []
    rejected: list[RejectedUser] = []
    would_take = 0
    async with ctx.uses() as uses:
        for user_id in data.user_ids:
            seen = await uses.snapshot(user_id, promo.code, tariff.id)
            if data.dry_run and seen.promocode is not None:
                counted = seen.promocode.model_copy(
                    update={"uses": seen.promocode.uses + would_take}
                )
                seen = replace(seen, promocode=counted)
            reason = rules.rejection(seen, now)
            purchase_id = None
            if reason is None and not data.dry_run:
                try:
                    purchase = await take_use(uses, seen.promocode, seen.tariff, user_id, now)
                    purchase_id = purchase.purchase_id
                except Rejected as exc:
                    reason = exc.reason
            if reason is not None:
                rejected.append(RejectedUser(user_id=user_id, reason=reason.code))
                if not data.dry_run:
                    async with ctx.uow() as uow:
                        await log_rejection(
                            uow,
                            reason,
                            user_id=user_id,
                            data=PromocodeRequest(promocode=promo.code, tariff_id=tariff.id),
                            promocode_id=promo.id,
                            endpoint=APPLY_TO_USERS,
                        )
                        await uow.commit()
                continue
            would_take += data.dry_run
            applied.append(
                AppliedPurchase(
                    user_id=user_id,
                    purchase_id=purchase_id,
                    base_price=quote.base_price,
                    discount=quote.discount,
                    final_price=quote.final_price,
                    currency=tariff.currency,
                )
            )
    return ApplyToUsersOut(
        promocode_id=promocode_id,
        tariff_id=tariff.id,
        dry_run=data.dry_run,
        applied=applied,
        rejected=rejected,
    )
