"""SQL of the audience: the users replica, groups and their members, code assignments.

`codes_assigned_to` is the one SQL definition of "this code reaches this user" (directly or
through a group), used by the buyer's snapshot, apply-to-users and the read side's fallback.
"""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

from core.repository import Repository, RowRepository
from loyalty.domain.errors import GroupNameTaken
from loyalty.models import AudienceVersion, GroupMember, PromocodeAssignment, User, UserGroup

users = User.__table__
groups = UserGroup.__table__
members = GroupMember.__table__
assignments = PromocodeAssignment.__table__
audience_versions = AudienceVersion.__table__


def codes_assigned_to(user_id: Any) -> Select:
    """The ids of the codes assigned to the user or to one of their groups."""
    their_groups = select(members.c.group_id).where(members.c.user_id == user_id)
    return select(assignments.c.promocode_id).where(
        (assignments.c.user_id == user_id) | assignments.c.group_id.in_(their_groups)
    )


class UserRepository(Repository):
    async def status(self, user_id: uuid.UUID) -> str | None:
        return (
            await self.session.execute(select(users.c.status).where(users.c.id == user_id))
        ).scalar_one_or_none()

    async def statuses(self, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        rows = await self.session.execute(
            select(users.c.id, users.c.status).where(users.c.id.in_(list(user_ids)))
        )
        return {r.id: r.status for r in rows}

    async def record_status(self, user_id: uuid.UUID, status: str, at: datetime) -> None:
        """Creates or updates the replica; events of one user may arrive out of order after
        a redelivery, so the newest wins."""
        statement = pg_insert(users).values(
            id=user_id, status=status, registered_at=at, updated_at=at
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[users.c.id],
                set_={
                    "status": statement.excluded.status,
                    "updated_at": statement.excluded.updated_at,
                },
                where=users.c.updated_at <= statement.excluded.updated_at,
            )
        )


class GroupRepository(RowRepository[UserGroup]):
    model, unique, taken = UserGroup, "name", GroupNameTaken

    async def existing_ids(self, group_ids: Sequence[int]) -> set[int]:
        return set(await self._scalars(select(groups.c.id).where(groups.c.id.in_(group_ids))))

    async def exists(self, group_id: int) -> bool:
        return bool(await self.existing_ids([group_id]))

    async def add_members(self, group_id: int, user_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
        """The users newly added (members already there are left alone)."""
        if not user_ids:
            return []
        rows = [{"group_id": group_id, "user_id": u, "added_at": func.now()} for u in user_ids]
        return await self._scalars(
            pg_insert(members).values(rows).on_conflict_do_nothing().returning(members.c.user_id)
        )

    async def remove_members(self, group_id: int, user_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
        return await self._scalars(
            delete(members)
            .where(members.c.group_id == group_id, members.c.user_id.in_(list(user_ids)))
            .returning(members.c.user_id)
        )


class AssignmentRepository(Repository):
    async def reaches(self, promocode_id: int, user_id: uuid.UUID) -> bool:
        found = await self.session.execute(
            codes_assigned_to(user_id).where(assignments.c.promocode_id == promocode_id).limit(1)
        )
        return found.first() is not None

    async def change(
        self, promocode_id: int, user_ids: Sequence, group_ids: Sequence, *, remove: bool = False
    ) -> tuple[list[uuid.UUID], list[int]]:
        """Assigns the code to the users and groups (or takes it back, `remove`); the ids this
        changed (those already assigned, or not assigned, are left alone)."""
        write = self._delete if remove else self._insert
        return (
            await write(promocode_id, assignments.c.user_id, user_ids),
            await write(promocode_id, assignments.c.group_id, group_ids),
        )

    async def _insert(self, promocode_id: int, target, ids: Sequence) -> list:
        if not ids:
            return []
        rows = [
            {"promocode_id": promocode_id, target.name: i, "created_at": func.now()} for i in ids
        ]
        return await self._scalars(
            pg_insert(assignments).values(rows).on_conflict_do_nothing().returning(target)
        )

    async def _delete(self, promocode_id: int, target, ids: Sequence) -> list:
        if not ids:
            return []
        return await self._scalars(
            delete(assignments)
            .where(assignments.c.promocode_id == promocode_id, target.in_(list(ids)))
            .returning(target)
        )


class AudienceVersionRepository(Repository):
    """Stamps each changed audience pair with a new version (`AudienceVersion`)."""

    async def stamp(
        self, kind: str, scope_id: int, targets: Sequence[Any], *, present: bool
    ) -> list[int]:
        """The new version of each target's pair, in the order given. Called after the change
        in the same transaction, which holds the pair's row lock until it commits."""
        if not targets:
            return []
        rows = [
            {
                "kind": kind,
                "scope_id": scope_id,
                "target": str(t),
                "version": text("nextval('audience_version_seq')"),
                "present": present,
            }
            for t in targets
        ]
        statement = pg_insert(audience_versions).values(rows)
        found = await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[
                    audience_versions.c.kind,
                    audience_versions.c.scope_id,
                    audience_versions.c.target,
                ],
                set_={"version": statement.excluded.version, "present": present},
            ).returning(audience_versions.c.target, audience_versions.c.version)
        )
        versions = {r.target: r.version for r in found}
        return [versions[str(t)] for t in targets]
