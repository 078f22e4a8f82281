"""Event types and payloads of `loyalty.events`.

Tariff, promo-code and group events carry a full snapshot of the row, so a consumer can
apply them in any order of replays without reading Postgres.
"""

from typing import Any

from loyalty.models import Promocode, Purchase, Tariff

TARIFF_CREATED = "tariff.created"
TARIFF_UPDATED = "tariff.updated"
PROMOCODE_CREATED = "promocode.created"
PROMOCODE_UPDATED = "promocode.updated"
PROMOCODE_ASSIGNED = "promocode.assigned"
PROMOCODE_REJECTED = "promocode.rejected"
BATCH_GENERATED = "promocode.batch_generated"
PROMOCODE_UNASSIGNED = "promocode.unassigned"
GROUP_CREATED = "group.created"
GROUP_MEMBERS_ADDED = "group.members_added"
GROUP_MEMBERS_REMOVED = "group.members_removed"
PURCHASE_RESERVED = "purchase.reserved"
PURCHASE_PAID = "purchase.paid"
PURCHASE_CANCELLED = "purchase.cancelled"


def tariff_payload(t: Tariff) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "price": t.price,
        "currency": t.currency,
        "is_active": t.is_active,
    }


def promocode_payload(p: Promocode) -> dict[str, Any]:
    return {
        "id": p.id,
        "code": p.code,
        "discount_type": p.discount_type,
        "value": p.value,
        "valid_from": p.valid_from,
        "valid_until": p.valid_until,
        "max_uses": p.max_uses,
        "uses": p.uses,
        "version": p.version,
        "per_user_limit": p.per_user_limit,
        "tariff_ids": list(p.tariff_ids),
        "audience": p.audience,
        "is_active": p.is_active,
        "batch_id": p.batch_id,
        "description": p.description,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


def purchase_payload(
    p: Purchase,
    *,
    promocode_uses: int | None = None,
    user_uses: int | None = None,
    promocode_version: int | None = None,
) -> dict[str, Any]:
    """`promocode_uses` and `user_uses` are the absolute counters right after the change and
    `promocode_version` the code's version then: a read model applies them only when the
    version is newer than the one it holds, so replays and reordering change nothing."""
    return {
        "id": p.id,
        "user_id": p.user_id,
        "tariff_id": p.tariff_id,
        "promocode_id": p.promocode_id,
        "code": p.code,
        "status": p.status,
        "base_price": p.base_price,
        "discount": p.discount,
        "final_price": p.final_price,
        "currency": p.currency,
        "discount_type": p.discount_type,
        "trial_days": p.trial_days,
        "source": p.source,
        "created_at": p.created_at,
        "expires_at": p.expires_at,
        "paid_at": p.paid_at,
        "cancelled_at": p.cancelled_at,
        "cancel_reason": p.cancel_reason,
        "promocode_uses": promocode_uses,
        "user_uses": user_uses,
        "promocode_version": promocode_version,
    }
