"""Operator endpoints (role operator or admin): tariffs, codes, assignments, groups."""

from typing import Annotated

from fastapi import APIRouter, Path

from command_api.deps import OperatorCall
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
async def create_tariff(body: TariffCreate, operator: OperatorCall):
    """Creates a tariff (price in kopecks)."""
    return await operator.run(handlers.create_tariff, body)


@router.patch("/tariffs/{tariff_id}", response_model=TariffOut)
async def update_tariff(tariff_id: Id, body: TariffUpdate, operator: OperatorCall):
    """Changes a tariff's name, price or `is_active`."""
    return await operator.run(handlers.update_tariff, tariff_id, body)


@router.post("/promocodes", status_code=201, response_model=PromocodeOut)
async def create_promocode(body: PromocodeCreate, operator: OperatorCall):
    """Creates a promo code; the code is stored upper-case and must be unique."""
    return await operator.run(handlers.create_promocode, body)


@router.patch("/promocodes/{promocode_id}", response_model=PromocodeOut)
async def update_promocode(promocode_id: Id, body: PromocodeUpdate, operator: OperatorCall):
    """Changes the fields sent; `is_active: false` disables the code (codes are never
    deleted, so their purchases and history stay)."""
    return await operator.run(handlers.update_promocode, promocode_id, body)


@router.post("/promocodes/generate", status_code=201, response_model=BatchOut)
async def generate_promocodes(body: GenerateRequest, operator: OperatorCall):
    """Generates `count` random codes with the same terms (single-use unless `max_uses` says
    otherwise): no look-alike characters, a check character, `prefix`, `pattern` (`X` per
    character, e.g. `XXXX-XXXX`) or `length`."""
    return await operator.run(handlers.generate_promocodes, body)


@router.post("/promocodes/{promocode_id}/assignments", response_model=AssignmentOut)
async def assign_promocode(promocode_id: Id, body: AssignmentRequest, operator: OperatorCall):
    """Gives the code to users and groups; answers the ids newly added."""
    return await operator.run(handlers.assign_promocode, promocode_id, body)


@router.delete("/promocodes/{promocode_id}/assignments", response_model=AssignmentOut)
async def unassign_promocode(promocode_id: Id, body: AssignmentRequest, operator: OperatorCall):
    """Takes the code back from users and groups; answers the ids removed."""
    return await operator.run(handlers.unassign_promocode, promocode_id, body)


@router.post("/promocodes/{promocode_id}/apply_to_users", response_model=ApplyToUsersOut)
async def apply_to_users(promocode_id: Id, body: ApplyToUsersRequest, operator: OperatorCall):
    """Each user gets a paid purchase at the code's price until the code runs out; the
    answer lists who got it and why the others did not. `dry_run` writes nothing."""
    return await operator.run(handlers.apply_to_users, promocode_id, body)


@router.post("/groups", status_code=201, response_model=GroupOut)
async def create_group(body: GroupCreate, operator: OperatorCall):
    """Creates a user group (segment)."""
    return await operator.run(handlers.create_group, body)


@router.post("/groups/{group_id}/members", response_model=MembersOut)
async def add_group_members(group_id: Id, body: MembersRequest, operator: OperatorCall):
    """Adds users to the group; answers the ids newly added."""
    return await operator.run(handlers.add_group_members, group_id, body)


@router.delete("/groups/{group_id}/members", response_model=MembersOut)
async def remove_group_members(group_id: Id, body: MembersRequest, operator: OperatorCall):
    """Removes users from the group; answers the ids removed."""
    return await operator.run(handlers.remove_group_members, group_id, body)
