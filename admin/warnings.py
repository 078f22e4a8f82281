"""A code that can never give a discount is most likely a typo: the console says so before
creating it (the domain accepts it; an operator may still want it, e.g. to test)."""

from datetime import UTC, datetime
from typing import Any

from loyalty.domain import rules


def never_discounts(terms: Any, tariff_prices: dict[int, int], now: datetime | None = None) -> str:
    """Why a code with these terms (a `PromocodeCreate`) can never lower a price, or ''.
    Prices come from the domain's own pricing rule, tariff by tariff."""
    now = now or datetime.now(UTC)
    if terms.valid_until is not None and terms.valid_until <= now:
        return "its validity window is already over"
    prices = {
        t: p for t, p in tariff_prices.items() if not terms.tariff_ids or t in terms.tariff_ids
    }
    if prices and all(
        rules.price(terms.discount_type, terms.value, price).discount == 0
        for price in prices.values()
    ):
        return "it gives nothing off any tariff it allows (e.g. a fixed price above their prices)"
    return ""
