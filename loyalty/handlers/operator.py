"""Operator commands: tariffs, promo codes, assignments, groups, the generator, apply-to-users.

The admin panel and command_api both call these; each writes its rows and its events in one
transaction. A used code is never deleted: it is disabled (`is_active: false`).
"""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError

from core.errors import Conflict, NotFound, ValidationFailed
from core.streams import LOYALTY_EVENTS
from loyalty import events, generator, rules
from loyalty.handlers.buyer import Rejected, take_use
from loyalty.handlers.context import Context, default_context, utcnow
from loyalty.handlers.views import (
    group_out,
    promocode_facts,
    promocode_out,
    tariff_facts,
    tariff_out,
)
from loyalty.models import PurchaseStatus
from loyalty.repository import LoyaltyRepository
from loyalty.schemas import (
    AppliedPurchase,
    ApplyToUsersOut,
    ApplyToUsersRequest,
    AssignmentOut,
    AssignmentRequest,
    BatchOut,
    GenerateRequest,
    GroupCreate,
    GroupOut,
    MembersOut,
    MembersRequest,
    PromocodeCreate,
    PromocodeOut,
    PromocodeUpdate,
    RejectedUser,
    TariffCreate,
    TariffOut,
    TariffUpdate,
)

# How often the generator tops up codes that collided with existing ones before giving up.
GENERATOR_ROUNDS = 20


def _unique(items: Sequence) -> list:
    return list(dict.fromkeys(items))


def _tariff_not_found(tariff_id: int) -> NotFound:
    return NotFound("tariff_not_found", "No such tariff", details={"tariff_id": tariff_id})


def _promocode_not_found(promocode_id: int) -> NotFound:
    return NotFound(
        "promocode_not_found", "No such promo code", details={"promocode_id": promocode_id}
    )


async def _require_tariffs(repo: LoyaltyRepository, tariff_ids: Sequence[int]) -> None:
    missing = sorted(set(tariff_ids) - await repo.existing_tariff_ids(tariff_ids))
    if missing:
        raise NotFound("tariff_not_found", "No such tariff", details={"tariff_ids": missing})


async def _require_users(repo: LoyaltyRepository, user_ids: Sequence[uuid.UUID]) -> None:
    known = await repo.user_statuses(user_ids)
    missing = [str(u) for u in user_ids if u not in known]
    if missing:
        raise NotFound(
            "user_not_found",
            "Unknown to the loyalty side (not registered, or not synced yet)",
            details={"user_ids": missing},
        )


async def _require_groups(repo: LoyaltyRepository, group_ids: Sequence[int]) -> None:
    missing = sorted(set(group_ids) - await repo.existing_group_ids(group_ids))
    if missing:
        raise NotFound("group_not_found", "No such group", details={"group_ids": missing})


# ---- tariffs ---------------------------------------------------------------------------------


async def create_tariff(
    data: TariffCreate, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> TariffOut:
    ctx = ctx or default_context()
    async with ctx.uow() as uow:
        tariff = await LoyaltyRepository(uow.session).insert_tariff(data.model_dump())
        if tariff is None:
            raise Conflict("tariff_name_taken", "A tariff with this name exists")
        uow.emit(LOYALTY_EVENTS, events.TARIFF_CREATED, tariff.id, events.tariff_payload(tariff))
        await uow.commit()
    return tariff_out(tariff)


async def update_tariff(
    tariff_id: int, data: TariffUpdate, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> TariffOut:
    """Changes the fields sent (null means: leave it)."""
    ctx = ctx or default_context()
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    async with ctx.uow() as uow:
        repo = LoyaltyRepository(uow.session)
        if not changes:
            tariff = await repo.tariff(tariff_id)
            if tariff is None:
                raise _tariff_not_found(tariff_id)
            return tariff_out(tariff)
        try:
            tariff = await repo.update_tariff(tariff_id, changes)
        except IntegrityError as exc:
            raise Conflict("tariff_name_taken", "A tariff with this name exists") from exc
        if tariff is None:
            raise _tariff_not_found(tariff_id)
        uow.emit(LOYALTY_EVENTS, events.TARIFF_UPDATED, tariff.id, events.tariff_payload(tariff))
        await uow.commit()
    return tariff_out(tariff)


# ---- promo codes -----------------------------------------------------------------------------


def _terms(data: Any) -> dict[str, Any]:
    """The columns a code takes from create/generate input."""
    return {
        "discount_type": data.discount_type.value,
        "value": data.value,
        "valid_from": data.valid_from or utcnow(),
        "valid_until": data.valid_until,
        "max_uses": data.max_uses,
        "per_user_limit": data.per_user_limit,
        "tariff_ids": list(data.tariff_ids),
        "audience": data.audience.value,
        "is_active": data.is_active,
        "description": data.description,
    }


async def create_promocode(
    data: PromocodeCreate, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> PromocodeOut:
    ctx = ctx or default_context()
    values = {"code": data.code, **_terms(data)}
    problem = rules.window_problem(values["valid_from"], values["valid_until"])
    if problem:
        raise ValidationFailed(message=problem, details={"field": "valid_until"})
    async with ctx.uow() as uow:
        repo = LoyaltyRepository(uow.session)
        await _require_tariffs(repo, data.tariff_ids)
        promo = await repo.insert_promocode(values)
        if promo is None:
            raise Conflict("promocode_code_taken", "A promo code with this code exists")
        uow.emit(
            LOYALTY_EVENTS, events.PROMOCODE_CREATED, promo.id, events.promocode_payload(promo)
        )
        await uow.commit()
    return promocode_out(promo)


async def update_promocode(
    promocode_id: int, data: PromocodeUpdate, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> PromocodeOut:
    """Changes the fields sent; `is_active: false` disables the code. The code text, its uses
    and its batch never change here."""
    ctx = ctx or default_context()
    changes = data.model_dump(exclude_unset=True)
    for name in ("discount_type", "audience"):
        if changes.get(name) is not None:
            changes[name] = changes[name].value
    async with ctx.uow() as uow:
        repo = LoyaltyRepository(uow.session)
        current = await repo.promocode(promocode_id)
        if current is None:
            raise _promocode_not_found(promocode_id)
        if not changes:
            return promocode_out(current)
        merged = {**current.model_dump(), **changes}
        problem = rules.value_problem(merged["discount_type"], merged["value"]) or (
            rules.window_problem(merged["valid_from"], merged["valid_until"])
        )
        if problem:
            raise ValidationFailed(message=problem)
        if merged["max_uses"] is not None and merged["max_uses"] < current.uses:
            raise ValidationFailed(
                message=f"max_uses cannot go below the {current.uses} uses already taken",
                details={"uses": current.uses},
            )
        if changes.get("tariff_ids"):
            await _require_tariffs(repo, changes["tariff_ids"])
        try:
            promo = await repo.update_promocode(promocode_id, changes)
        except IntegrityError as exc:  # a use taken meanwhile pushed uses above the new max
            raise ValidationFailed(message="max_uses cannot go below the uses taken") from exc
        uow.emit(
            LOYALTY_EVENTS, events.PROMOCODE_UPDATED, promo.id, events.promocode_payload(promo)
        )
        await uow.commit()
    return promocode_out(promo)


async def generate_promocodes(
    data: GenerateRequest, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> BatchOut:
    """`count` random codes with the same terms, in one transaction; the unique constraint
    decides collisions with existing codes and the shortfall is generated again."""
    ctx = ctx or default_context()
    shape = generator.make_shape(data.prefix, data.pattern, data.length)
    now = utcnow()
    batch_id = uuid.uuid4()
    template = {**_terms(data), "batch_id": batch_id, "created_at": now, "updated_at": now}
    problem = rules.window_problem(template["valid_from"], template["valid_until"])
    if problem:
        raise ValidationFailed(message=problem, details={"field": "valid_until"})
    async with ctx.uow() as uow:
        repo = LoyaltyRepository(uow.session)
        await _require_tariffs(repo, data.tariff_ids)
        await repo.insert_batch(
            {
                "id": batch_id,
                "count": data.count,
                "pattern": shape.pattern,
                "prefix": shape.prefix,
                "length": shape.random_slots + 1,
                "created_by": actor_id,
            }
        )
        missing = data.count
        for _ in range(GENERATOR_ROUNDS):
            missing -= await repo.insert_batch_codes(
                generator.generate_codes(shape, missing), template
            )
            if missing == 0:
                break
        else:
            raise Conflict(
                "code_space_exhausted", "Could not find enough free codes; use longer codes"
            )
        uow.emit(
            LOYALTY_EVENTS,
            events.BATCH_GENERATED,
            batch_id,
            {
                "batch_id": batch_id,
                "count": data.count,
                "prefix": shape.prefix,
                "pattern": shape.pattern,
                "length": shape.random_slots + 1,
                "template": template,
            },
        )
        await uow.commit()
    return BatchOut(batch_id=batch_id, count=data.count)


async def batch_csv(batch_id: uuid.UUID, *, ctx: Context | None = None) -> str:
    """The codes of a batch as CSV (for whoever serves the download)."""
    ctx = ctx or default_context()
    async with ctx.sessionmaker() as session:
        codes = await LoyaltyRepository(session).batch_codes(batch_id)
    if not codes:
        raise NotFound("batch_not_found", "No such batch")
    return generator.batch_csv(codes)


# ---- assignments -----------------------------------------------------------------------------


async def assign_promocode(
    promocode_id: int, data: AssignmentRequest, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> AssignmentOut:
    """Gives a code to users and groups (only the ids newly added are answered and published)."""
    ctx = ctx or default_context()
    user_ids, group_ids = _unique(data.user_ids), _unique(data.group_ids)
    async with ctx.uow() as uow:
        repo = LoyaltyRepository(uow.session)
        if await repo.promocode(promocode_id) is None:
            raise _promocode_not_found(promocode_id)
        await _require_users(repo, user_ids)
        await _require_groups(repo, group_ids)
        added_users, added_groups = await repo.add_assignments(promocode_id, user_ids, group_ids)
        out = AssignmentOut(promocode_id=promocode_id, user_ids=added_users, group_ids=added_groups)
        if added_users or added_groups:
            uow.emit(
                LOYALTY_EVENTS, events.PROMOCODE_ASSIGNED, promocode_id, out.model_dump(mode="json")
            )
        await uow.commit()
    return out


async def unassign_promocode(
    promocode_id: int, data: AssignmentRequest, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> AssignmentOut:
    ctx = ctx or default_context()
    async with ctx.uow() as uow:
        repo = LoyaltyRepository(uow.session)
        if await repo.promocode(promocode_id) is None:
            raise _promocode_not_found(promocode_id)
        removed_users, removed_groups = await repo.remove_assignments(
            promocode_id, _unique(data.user_ids), _unique(data.group_ids)
        )
        out = AssignmentOut(
            promocode_id=promocode_id, user_ids=removed_users, group_ids=removed_groups
        )
        if removed_users or removed_groups:
            uow.emit(
                LOYALTY_EVENTS,
                events.PROMOCODE_UNASSIGNED,
                promocode_id,
                out.model_dump(mode="json"),
            )
        await uow.commit()
    return out


# ---- groups ----------------------------------------------------------------------------------


async def create_group(
    data: GroupCreate, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> GroupOut:
    ctx = ctx or default_context()
    async with ctx.uow() as uow:
        group = await LoyaltyRepository(uow.session).insert_group(data.name, data.description)
        if group is None:
            raise Conflict("group_name_taken", "A group with this name exists")
        uow.emit(
            LOYALTY_EVENTS,
            events.GROUP_CREATED,
            group.id,
            {"id": group.id, "name": group.name, "description": group.description},
        )
        await uow.commit()
    return group_out(group)


async def add_group_members(
    group_id: int, data: MembersRequest, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> MembersOut:
    ctx = ctx or default_context()
    user_ids = _unique(data.user_ids)
    async with ctx.uow() as uow:
        repo = LoyaltyRepository(uow.session)
        if not await repo.group_exists(group_id):
            raise NotFound("group_not_found", "No such group", details={"group_id": group_id})
        await _require_users(repo, user_ids)
        added = await repo.add_members(group_id, user_ids)
        out = MembersOut(group_id=group_id, user_ids=added)
        if added:
            uow.emit(
                LOYALTY_EVENTS, events.GROUP_MEMBERS_ADDED, group_id, out.model_dump(mode="json")
            )
        await uow.commit()
    return out


async def remove_group_members(
    group_id: int, data: MembersRequest, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> MembersOut:
    ctx = ctx or default_context()
    async with ctx.uow() as uow:
        repo = LoyaltyRepository(uow.session)
        if not await repo.group_exists(group_id):
            raise NotFound("group_not_found", "No such group", details={"group_id": group_id})
        removed = await repo.remove_members(group_id, _unique(data.user_ids))
        out = MembersOut(group_id=group_id, user_ids=removed)
        if removed:
            uow.emit(
                LOYALTY_EVENTS,
                events.GROUP_MEMBERS_REMOVED,
                group_id,
                out.model_dump(mode="json"),
            )
        await uow.commit()
    return out


# ---- apply to users --------------------------------------------------------------------------


async def apply_to_users(
    promocode_id: int,
    data: ApplyToUsersRequest,
    *,
    actor_id: uuid.UUID,
    ctx: Context | None = None,
) -> ApplyToUsersOut:
    """Each user, in order, gets a paid purchase at the code's price until the code runs out;
    the others are listed with their real reason (operators may know that codes exist).

    One transaction per user (the same lock order as a buyer's use, so no deadlocks with
    buyers). `dry_run` evaluates the same rules on a snapshot, counting the uses it would take,
    and writes nothing.
    """
    ctx = ctx or default_context()
    now = utcnow()
    async with ctx.sessionmaker() as session:
        repo = LoyaltyRepository(session)
        promo = await repo.promocode(promocode_id)
        if promo is None:
            raise _promocode_not_found(promocode_id)
        tariff = await repo.tariff(data.tariff_id)
        if tariff is None:
            raise _tariff_not_found(data.tariff_id)
    quote = rules.price(promo.discount_type, promo.value, tariff.price)
    applied: list[AppliedPurchase] = []
    rejected: list[RejectedUser] = []
    would_take = 0
    for user_id in _unique(data.user_ids):
        async with ctx.uow() as uow:
            repo = LoyaltyRepository(uow.session)
            current = await repo.promocode(promocode_id) if not data.dry_run else promo
            assigned = current.audience != "assigned" or await repo.is_assigned(
                promocode_id, user_id
            )
            reason = rules.rejection_reason(
                tariff=tariff_facts(tariff),
                promocode=promocode_facts(current, uses=current.uses + would_take),
                assigned_to_user=assigned,
                user_status=await repo.user_status(user_id),
                user_uses=await repo.user_uses(promocode_id, user_id),
                now=now,
            )
            purchase_id = None
            if reason is None and not data.dry_run:
                try:
                    purchase = await take_use(
                        uow,
                        repo,
                        promo=current,
                        tariff=tariff,
                        user_id=user_id,
                        now=now,
                        status=PurchaseStatus.paid,
                        source="operator",
                        expires_at=None,
                    )
                    purchase_id = purchase.id
                    await uow.commit()
                except Rejected as exc:
                    reason = exc.reason
        if reason is not None:
            rejected.append(RejectedUser(user_id=user_id, reason=reason.value))
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
