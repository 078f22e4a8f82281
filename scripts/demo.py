"""Demo data for `make run`: two tariffs and a few codes, made through the write side's
handlers (so their events reach the read side). Loading it twice changes nothing."""

import uuid
from datetime import UTC, datetime, timedelta

from loyalty import handlers
from loyalty.schemas import PromocodeCreate, TariffCreate

# Who the demo data is created by (no such operator logs in; it only marks the rows).
DEMO_ACTOR = uuid.UUID("00000000-0000-0000-0000-00000000d3e0")

TARIFFS = [("Monthly", 39_900), ("Yearly", 399_000)]
CODES = [
    # code, discount_type, value, max_uses, per_user_limit
    ("WELCOME10", "percent", 10, None, 1),
    ("FREEMONTH", "trial", 30, 1000, 1),
    ("MINUS100", "amount", 10_000, 500, 2),
    ("YEAR-FOR-1990", "fixed_price", 199_000, 100, 1),
]


async def load_demo() -> None:
    ctx = handlers.default_context()
    async with ctx.uow() as uow:
        missing_tariffs = [t for t in TARIFFS if await uow.tariffs.by_name(t[0]) is None]
        missing_codes = [c for c in CODES if await uow.codes.by_code(c[0]) is None]
    for name, price in missing_tariffs:
        await handlers.create_tariff(TariffCreate(name=name, price=price), actor_id=DEMO_ACTOR)
    now = datetime.now(UTC)
    for code, kind, value, max_uses, per_user in missing_codes:
        await handlers.create_promocode(
            PromocodeCreate(
                code=code,
                discount_type=kind,
                value=value,
                max_uses=max_uses,
                per_user_limit=per_user,
                valid_from=now - timedelta(days=1),
                valid_until=now + timedelta(days=365),
            ),
            actor_id=DEMO_ACTOR,
        )
    print("[setup] demo data loaded (tariffs Monthly, Yearly; codes WELCOME10, FREEMONTH, ...)")
