"""Demo data for `make run`: two tariffs and a few codes. Loading it twice changes nothing."""

from datetime import UTC, datetime, timedelta

from sqlmodel import select

from core.config import get_settings
from core.db import get_sessionmaker
from core.outbox import UnitOfWork
from core.streams import LOYALTY_EVENTS
from loyalty import events
from loyalty.models import Promocode, Tariff, outbox

TARIFFS = [("Monthly", 39_900), ("Yearly", 399_000)]
CODES = [
    # code, discount_type, value, max_uses, per_user_limit
    ("WELCOME10", "percent", 10, None, 1),
    ("FREEMONTH", "trial", 30, 1000, 1),
    ("MINUS100", "amount", 10_000, 500, 2),
    ("YEAR-FOR-1990", "fixed_price", 199_000, 100, 1),
]


async def load_demo() -> None:
    settings = get_settings()
    async with UnitOfWork(get_sessionmaker(settings.loyalty_database_url), outbox) as uow:
        s = uow.session
        for name, price in TARIFFS:
            if (await s.exec(select(Tariff).where(Tariff.name == name))).first() is None:
                tariff = Tariff(name=name, price=price)
                s.add(tariff)
                await s.flush()
                uow.emit(
                    LOYALTY_EVENTS, events.TARIFF_CREATED, tariff.id, events.tariff_payload(tariff)
                )
        now = datetime.now(UTC)
        for code, kind, value, max_uses, per_user in CODES:
            if (await s.exec(select(Promocode).where(Promocode.code == code))).first() is None:
                promo = Promocode(
                    code=code,
                    discount_type=kind,
                    value=value,
                    max_uses=max_uses,
                    per_user_limit=per_user,
                    valid_from=now - timedelta(days=1),
                    valid_until=now + timedelta(days=365),
                )
                s.add(promo)
                await s.flush()
                uow.emit(
                    LOYALTY_EVENTS,
                    events.PROMOCODE_CREATED,
                    promo.id,
                    events.promocode_payload(promo),
                )
        await uow.commit()
    print("[setup] demo data loaded (tariffs Monthly, Yearly; codes WELCOME10, FREEMONTH, ...)")
