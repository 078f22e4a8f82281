"""Event types of `loyalty.events` and the one place their payloads are built.

Payloads are built from rows, never from API responses, so a response can change without
changing the stream contract. Each carries `schema`, the version of its shape; a consumer
that meets a newer one than it knows can refuse it. Tariff, promo-code and group events
carry the whole row, so a consumer can apply them in any order of replays without Postgres.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loyalty.models import Promocode, PromocodeAttempt, Purchase, Tariff, UserGroup

SCHEMA = 1

TARIFF_CREATED = "tariff.created"
TARIFF_UPDATED = "tariff.updated"
PROMOCODE_CREATED = "promocode.created"
PROMOCODE_UPDATED = "promocode.updated"
PROMOCODE_ASSIGNED = "promocode.assigned"
PROMOCODE_UNASSIGNED = "promocode.unassigned"
PROMOCODE_REJECTED = "promocode.rejected"
BATCH_GENERATED = "promocode.batch_generated"
GROUP_CREATED = "group.created"
GROUP_MEMBERS_ADDED = "group.members_added"
GROUP_MEMBERS_REMOVED = "group.members_removed"
PURCHASE_RESERVED = "purchase.reserved"
PURCHASE_PAID = "purchase.paid"
PURCHASE_CANCELLED = "purchase.cancelled"


@dataclass(frozen=True)
class Counters:
    """A code's absolute counters right after a change, which a purchase event carries: a
    read model applies them only when `promocode_version` is newer than the one it holds,
    so replays and reordering change nothing."""

    promocode_uses: int | None = None
    user_uses: int | None = None
    promocode_version: int | None = None


PURCHASE_COUNTERS = tuple(Counters.__dataclass_fields__)


def _row(row: Any, model: type) -> dict[str, Any]:
    """Every column of the model, read off a row or a model instance."""
    return {name: getattr(row, name) for name in model.__table__.columns.keys()}  # noqa: SIM118


def _payload(**fields: Any) -> dict[str, Any]:
    return {"schema": SCHEMA, **fields}


def tariff_payload(tariff: Any) -> dict[str, Any]:
    return _payload(**_row(tariff, Tariff))


def promocode_payload(promocode: Any) -> dict[str, Any]:
    return _payload(**_row(promocode, Promocode))


def group_payload(group: UserGroup) -> dict[str, Any]:
    return _payload(**_row(group, UserGroup))


def purchase_payload(purchase: Any, counters: Counters | None = None) -> dict[str, Any]:
    counted = counters or Counters()
    return _payload(
        **_row(purchase, Purchase),
        promocode_uses=counted.promocode_uses,
        user_uses=counted.user_uses,
        promocode_version=counted.promocode_version,
    )


def rejection_payload(attempt: PromocodeAttempt) -> dict[str, Any]:
    fields = _row(attempt, PromocodeAttempt)
    return _payload(attempt_id=fields.pop("id"), **fields)


# The kinds of audience pairs (`AudienceVersion.kind`).
AUDIENCE_USER, AUDIENCE_GROUP, AUDIENCE_MEMBER = "u", "g", "m"


def assignment_payload(
    promocode_id: int,
    user_ids: Sequence[Any],
    group_ids: Sequence[int],
    user_versions: Sequence[int],
    group_versions: Sequence[int],
) -> dict[str, Any]:
    """The users and groups a code was given to (or taken from) by one change, each with the
    version of that pair's change (the read side applies it only when newer)."""
    return _payload(
        promocode_id=promocode_id,
        user_ids=list(user_ids),
        group_ids=list(group_ids),
        user_versions=list(user_versions),
        group_versions=list(group_versions),
    )


def members_payload(
    group_id: int, user_ids: Sequence[Any], versions: Sequence[int]
) -> dict[str, Any]:
    return _payload(group_id=group_id, user_ids=list(user_ids), versions=list(versions))


def batch_payload(batch: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    """A batch (its `promocode_batches` row) and the terms of its codes, not the codes (there
    may be a million): consumers read those from Postgres."""
    fields = {name: batch[name] for name in ("count", "prefix", "pattern", "length")}
    return _payload(batch_id=batch["id"], **fields, template=template)
