"""Rows → response models, and rows → the plain facts the rules take."""

from loyalty import rules
from loyalty.models import Promocode, Purchase, Tariff, UserGroup
from loyalty.schemas import GroupOut, PromocodeOut, PurchaseOut, TariffOut


def tariff_facts(t: Tariff | None) -> rules.TariffFacts | None:
    if t is None:
        return None
    return rules.TariffFacts(id=t.id, price=t.price, is_active=t.is_active)


def promocode_facts(p: Promocode | None, *, uses: int | None = None) -> rules.PromocodeFacts | None:
    if p is None:
        return None
    return rules.PromocodeFacts(
        id=p.id,
        discount_type=p.discount_type,
        value=p.value,
        valid_from=p.valid_from,
        valid_until=p.valid_until,
        max_uses=p.max_uses,
        uses=p.uses if uses is None else uses,
        per_user_limit=p.per_user_limit,
        tariff_ids=tuple(p.tariff_ids or ()),
        audience=p.audience,
        is_active=p.is_active,
    )


def tariff_out(t: Tariff) -> TariffOut:
    return TariffOut(
        id=t.id, name=t.name, price=t.price, currency=t.currency, is_active=t.is_active
    )


def promocode_out(p: Promocode) -> PromocodeOut:
    return PromocodeOut(
        id=p.id,
        code=p.code,
        discount_type=p.discount_type,
        value=p.value,
        valid_from=p.valid_from,
        valid_until=p.valid_until,
        max_uses=p.max_uses,
        uses=p.uses,
        uses_left_total=rules.uses_left(p.max_uses, p.uses),
        per_user_limit=p.per_user_limit,
        tariff_ids=list(p.tariff_ids or ()),
        audience=p.audience,
        is_active=p.is_active,
        batch_id=p.batch_id,
        description=p.description,
        version=p.version,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def purchase_out(p: Purchase) -> PurchaseOut:
    return PurchaseOut(
        purchase_id=p.id,
        status=p.status,
        user_id=p.user_id,
        tariff_id=p.tariff_id,
        promocode_id=p.promocode_id,
        promocode=p.code,
        base_price=p.base_price,
        discount=p.discount,
        final_price=p.final_price,
        currency=p.currency,
        discount_type=p.discount_type,
        trial_days=p.trial_days,
        source=p.source,
        created_at=p.created_at,
        expires_at=p.expires_at,
        paid_at=p.paid_at,
        cancelled_at=p.cancelled_at,
        cancel_reason=p.cancel_reason,
    )


def group_out(g: UserGroup) -> GroupOut:
    return GroupOut(id=g.id, name=g.name, description=g.description, created_at=g.created_at)
