"""Operator commands of the audience (assignments, groups, members) and the user sync.

Only the ids a call really added or removed are answered and published.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime

from core.streams import Envelope
from loyalty.catalog.handlers import require_promocode
from loyalty.context import Context, LoyaltyUnitOfWork, create_row, unit_of_work
from loyalty.domain import errors, events, rules
from loyalty.schemas import (
    AssignmentOut,
    AssignmentRequest,
    GroupCreate,
    GroupOut,
    MembersOut,
    MembersRequest,
)

USER_SYNC = "user_sync"


async def require_users(uow: LoyaltyUnitOfWork, user_ids: Sequence[uuid.UUID]) -> None:
    known = await uow.users.statuses(user_ids)
    missing = [str(u) for u in user_ids if u not in known]
    if missing:
        raise errors.UserNotFound(details={"user_ids": missing})


async def require_groups(uow: LoyaltyUnitOfWork, group_ids: Sequence[int]) -> None:
    missing = sorted(set(group_ids) - await uow.groups.existing_ids(group_ids))
    if missing:
        raise errors.GroupNotFound(details={"group_ids": missing})


# ---- assignments -----------------------------------------------------------------------------


async def assign_promocode(
    promocode_id: int, data: AssignmentRequest, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> AssignmentOut:
    """Gives a code to users and groups."""
    async with unit_of_work(ctx) as uow:
        await require_promocode(uow, promocode_id)
        await require_users(uow, data.user_ids)
        await require_groups(uow, data.group_ids)
        users, groups = await uow.assignments.change(promocode_id, data.user_ids, data.group_ids)
        return await _assignment_changed(
            uow, events.PROMOCODE_ASSIGNED, promocode_id, users, groups
        )


async def unassign_promocode(
    promocode_id: int, data: AssignmentRequest, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> AssignmentOut:
    """Takes a code back from users and groups."""
    async with unit_of_work(ctx) as uow:
        await require_promocode(uow, promocode_id)
        users, groups = await uow.assignments.change(
            promocode_id, data.user_ids, data.group_ids, remove=True
        )
        return await _assignment_changed(
            uow, events.PROMOCODE_UNASSIGNED, promocode_id, users, groups
        )


async def _assignment_changed(
    uow: LoyaltyUnitOfWork,
    event_type: str,
    promocode_id: int,
    user_ids: list[uuid.UUID],
    group_ids: list[int],
) -> AssignmentOut:
    if user_ids or group_ids:
        present = event_type == events.PROMOCODE_ASSIGNED
        stamp = uow.audience_versions.stamp
        payload = events.assignment_payload(
            promocode_id,
            user_ids,
            group_ids,
            await stamp(events.AUDIENCE_USER, promocode_id, user_ids, present=present),
            await stamp(events.AUDIENCE_GROUP, promocode_id, group_ids, present=present),
        )
        await uow.commit_event(event_type, promocode_id, payload)
    return AssignmentOut(promocode_id=promocode_id, user_ids=user_ids, group_ids=group_ids)


# ---- groups ----------------------------------------------------------------------------------


async def create_group(
    data: GroupCreate, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> GroupOut:
    """Creates a user group (a segment to assign codes to); 409 `group_name_taken`."""
    group = await create_row(
        ctx, "groups", data.model_dump(), events.GROUP_CREATED, events.group_payload
    )
    return GroupOut.model_validate(group)


async def add_group_members(
    group_id: int, data: MembersRequest, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> MembersOut:
    async with unit_of_work(ctx) as uow:
        await require_groups(uow, [group_id])
        await require_users(uow, data.user_ids)
        added = await uow.groups.add_members(group_id, data.user_ids)
        return await _members_changed(uow, events.GROUP_MEMBERS_ADDED, group_id, added)


async def remove_group_members(
    group_id: int, data: MembersRequest, *, actor_id: uuid.UUID, ctx: Context | None = None
) -> MembersOut:
    async with unit_of_work(ctx) as uow:
        await require_groups(uow, [group_id])
        removed = await uow.groups.remove_members(group_id, data.user_ids)
        return await _members_changed(uow, events.GROUP_MEMBERS_REMOVED, group_id, removed)


async def _members_changed(
    uow: LoyaltyUnitOfWork, event_type: str, group_id: int, user_ids: list[uuid.UUID]
) -> MembersOut:
    if user_ids:
        present = event_type == events.GROUP_MEMBERS_ADDED
        versions = await uow.audience_versions.stamp(
            events.AUDIENCE_MEMBER, group_id, user_ids, present=present
        )
        payload = events.members_payload(group_id, user_ids, versions)
        await uow.commit_event(event_type, group_id, payload)
    return MembersOut(group_id=group_id, user_ids=user_ids)


# ---- the users replica -----------------------------------------------------------------------


async def sync_user(envelope: Envelope, *, ctx: Context | None = None) -> None:
    """Applies one `auth.users` event to the users replica (id and status only), once."""
    status = rules.user_status_after(envelope.type)
    if status is None:
        return
    async with unit_of_work(ctx) as uow:
        if not await uow.inbox.first_delivery(USER_SYNC, envelope.event_id):
            return
        await uow.users.record_status(
            uuid.UUID(envelope.payload["user_id"]),
            status,
            datetime.fromisoformat(envelope.occurred_at),
        )
        await uow.commit()
