"""How the admin shows and reads values: money in roubles (stored as integer kopecks),
moments to the minute with their time zone, a code's terms in words. One place for each,
used by the list columns, the pages and the forms alike."""

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from jinja2 import Environment
from markupsafe import Markup

from loyalty.domain import rules
from loyalty.domain.enums import DiscountType

# Discount types whose `value` is money (kopecks); the others are a percent or trial days.
MONEY_TYPES = {DiscountType.amount, DiscountType.fixed_price}


def roubles(kopecks: int | None, currency: str = "RUB") -> str:
    """47920 → '479.20 ₽'."""
    if kopecks is None:
        return ""
    sign = "-" if kopecks < 0 else ""
    whole, cents = divmod(abs(int(kopecks)), 100)
    symbol = "₽" if currency == "RUB" else currency
    return f"{sign}{whole:,}.{cents:02d} {symbol}".replace(",", " ")


def parse_roubles(text: Any) -> int:
    """'479.20' (or '479,20', '479') → 47920 kopecks; ValueError in plain words otherwise."""
    cleaned = str(text).strip().replace(" ", "").replace(",", ".").removesuffix("₽")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"'{text}' is not an amount in roubles, e.g. 199.90") from None
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError("an amount has at most two decimals (kopecks)")
    return int(amount * 100)


def moment(value: datetime | None) -> str:
    """A moment to the minute, in UTC, saying so: '2026-11-23 06:30 UTC'."""
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M UTC")


def moment_cell(value: datetime | None) -> Markup:
    """A moment in a list's cell: on one line if it fits, else the day above the time (so a
    list of many columns fits the screen)."""
    if value is None:
        return Markup("")
    day, _, time = moment(value).partition(" ")
    return Markup(
        '<span class="moment"><span class="text-nowrap">{}</span> '
        '<span class="text-nowrap">{}</span></span>'
    ).format(day, time)


def stream_moment(entry_id: str | None) -> str:
    """When a Redis stream entry was added (its id starts with the milliseconds since the
    epoch): '1796420180663-0' → '2026-12-04 21:36 UTC'."""
    millis = str(entry_id or "").partition("-")[0]
    if not millis.isdigit():
        return ""
    return moment(datetime.fromtimestamp(int(millis) / 1000, UTC))


def discount_words(discount_type: str, value: int) -> str:
    match discount_type:
        case DiscountType.percent:
            return f"{value}% off"
        case DiscountType.amount:
            return f"{roubles(value)} off"
        case DiscountType.fixed_price:
            return f"pays {roubles(value)}"
        case DiscountType.trial:
            return f"{value} free trial days"
    return f"{discount_type} {value}"


def value_for_form(discount_type: str, value: int) -> str:
    """The stored value as the operator types it: roubles for money types."""
    if discount_type in MONEY_TYPES:
        return f"{Decimal(value) / 100:.2f}"
    return str(value)


def value_from_form(discount_type: Any, typed: Any) -> int:
    """What the operator typed as the stored value: kopecks for money types."""
    if discount_type in MONEY_TYPES:
        return parse_roubles(typed)
    try:
        return int(str(typed).strip())
    except ValueError:
        raise ValueError(f"'{typed}' is not a whole number") from None


def terms(code: Any, tariff_names: dict[int, str] | None = None, batch: bool = False) -> list[str]:
    """A code's terms in words, one sentence each; for a generated batch (`batch`, given one
    of its codes), what each of its codes offers, without one code's uses or state."""
    names = tariff_names or {}
    window = f"valid from {moment(code.valid_from)}"
    window += f" until {moment(code.valid_until)}" if code.valid_until else ", no end date"
    if batch:
        uses = (
            f"each code can be used {code.max_uses} time(s)"
            if code.max_uses is not None
            else "each code without an overall limit"
        )
    elif code.max_uses is not None:
        left = rules.uses_left(code.max_uses, code.uses)
        uses = f"used {code.uses} of {code.max_uses} times ({left} left)"
    else:
        uses = f"used {code.uses} times, no overall limit"
    per_user = (
        f"at most {code.per_user_limit} use(s) per user"
        if code.per_user_limit
        else "no limit per user"
    )
    tariffs = (
        "for tariffs " + ", ".join(names.get(t, f"#{t}") for t in code.tariff_ids)
        if code.tariff_ids
        else "for every tariff"
    )
    audience = (
        "for everyone" if code.audience == "everyone" else "only for assigned users and groups"
    )
    said = [discount_words(code.discount_type, code.value), window, uses, per_user, tariffs]
    if batch:
        return said
    return [*said, audience, "active" if code.is_active else "disabled"]


def install(env: Environment) -> None:
    env.filters["roubles"] = roubles
    env.filters["moment"] = moment
    env.filters["stream_moment"] = stream_moment
    env.globals["discount_words"] = discount_words
