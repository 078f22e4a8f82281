"""Operator endpoints (role operator or admin): tariffs, codes, assignments, groups."""

from typing import Annotated

from fastapi import APIRouter, Path

from command_api.deps import ContextDep
from core.security import CurrentOperator
from loyalty import handlers
from loyalty.schemas import (
    PG_INT_MAX,
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
    TariffCreate,
    TariffOut,
    TariffUpdate,
)

router = APIRouter(prefix="/api/v1/loyalty", tags=["operator"])

Id = Annotated[int, Path(ge=1, le=PG_INT_MAX)]


@router.post("/tariffs", status_code=201, response_model=TariffOut)
async def create_tariff(body: TariffCreate, operator: CurrentOperator, ctx: ContextDep):
    """Creates a tariff (price in kopecks)."""
    return await handlers.create_tariff(body, actor_id=operator.user_id, ctx=ctx)


@router.patch("/tariffs/{tariff_id}", response_model=TariffOut)
async def update_tariff(
    tariff_id: Id, body: TariffUpdate, operator: CurrentOperator, ctx: ContextDep
):
    """Changes a tariff's name, price or `is_active`."""
    return await handlers.update_tariff(tariff_id, body, actor_id=operator.user_id, ctx=ctx)


@router.post("/promocodes", status_code=201, response_model=PromocodeOut)
async def create_promocode(body: PromocodeCreate, operator: CurrentOperator, ctx: ContextDep):
    """Creates a promo code; the code is stored upper-case and must be unique."""
    return await handlers.create_promocode(body, actor_id=operator.user_id, ctx=ctx)


@router.patch("/promocodes/{promocode_id}", response_model=PromocodeOut)
async def update_promocode(
    promocode_id: Id, body: PromocodeUpdate, operator: CurrentOperator, ctx: ContextDep
):
    """Changes the fields sent; `is_active: false` disables the code (codes are never
    deleted, so their purchases and history stay)."""
    return await handlers.update_promocode(promocode_id, body, actor_id=operator.user_id, ctx=ctx)


@router.post("/promocodes/generate", status_code=201, response_model=BatchOut)
async def generate_promocodes(body: GenerateRequest, operator: CurrentOperator, ctx: ContextDep):
    """Generates `count` random codes with the same terms (single-use unless `max_uses` says
    otherwise): no look-alike characters, a check character, `prefix`, `pattern` (`X` per
    character, e.g. `XXXX-XXXX`) or `length`."""
    return await handlers.generate_promocodes(body, actor_id=operator.user_id, ctx=ctx)


@router.post("/promocodes/{promocode_id}/assignments", response_model=AssignmentOut)
async def assign_promocode(
    promocode_id: Id, body: AssignmentRequest, operator: CurrentOperator, ctx: ContextDep
):
    """Gives the code to users and groups; answers the ids newly added."""
    return await handlers.assign_promocode(promocode_id, body, actor_id=operator.user_id, ctx=ctx)


@router.delete("/promocodes/{promocode_id}/assignments", response_model=AssignmentOut)
async def unassign_promocode(
    promocode_id: Id, body: AssignmentRequest, operator: CurrentOperator, ctx: ContextDep
):
    """Takes the code back from users and groups; answers the ids removed."""
    return await handlers.unassign_promocode(promocode_id, body, actor_id=operator.user_id, ctx=ctx)


@router.post("/promocodes/{promocode_id}/apply_to_users", response_model=ApplyToUsersOut)
async def apply_to_users(
    promocode_id: Id, body: ApplyToUsersRequest, operator: CurrentOperator, ctx: ContextDep
):
    """Each user gets a paid purchase at the code's price until the code runs out; the
    answer lists who got it and why the others did not. `dry_run` writes nothing."""
    return await handlers.apply_to_users(promocode_id, body, actor_id=operator.user_id, ctx=ctx)


@router.post("/groups", status_code=201, response_model=GroupOut)
async def create_group(body: GroupCreate, operator: CurrentOperator, ctx: ContextDep):
    """Creates a user group (segment)."""
    return await handlers.create_group(body, actor_id=operator.user_id, ctx=ctx)


@router.post("/groups/{group_id}/members", response_model=MembersOut)
async def add_group_members(
    group_id: Id, body: MembersRequest, operator: CurrentOperator, ctx: ContextDep
):
    """Adds users to the group; answers the ids newly added."""
    return await handlers.add_group_members(group_id, body, actor_id=operator.user_id, ctx=ctx)


@router.delete("/groups/{group_id}/members", response_model=MembersOut)
async def remove_group_members(
    group_id: Id, body: MembersRequest, operator: CurrentOperator, ctx: ContextDep
):
    """Removes users from the group; answers the ids removed."""
    return await handlers.remove_group_members(group_id, body, actor_id=operator.user_id, ctx=ctx)
