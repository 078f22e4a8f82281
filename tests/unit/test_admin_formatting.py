"""How the console shows and reads money, moments and terms (no I/O)."""

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from admin import formatting
from admin.warnings import never_discounts


@pytest.mark.parametrize(
    ("kopecks", "shown"),
    [(47_920, "479.20 ₽"), (5, "0.05 ₽"), (0, "0.00 ₽"), (123_456_789, "1 234 567.89 ₽")],
)
def test_kopecks_are_shown_in_roubles(kopecks, shown):
    assert formatting.roubles(kopecks) == shown


@pytest.mark.parametrize(
    ("typed", "kopecks"),
    [("479.20", 47_920), ("479,2", 47_920), ("479", 47_900), (" 1 000 ", 100_000)],
)
def test_roubles_typed_become_kopecks(typed, kopecks):
    assert formatting.parse_roubles(typed) == kopecks


@pytest.mark.parametrize("typed", ["12.5x", "", "1.234", "abc"])
def test_a_bad_amount_is_refused_in_plain_words(typed):
    with pytest.raises(ValueError, match=r"roubles|two decimals"):
        formatting.parse_roubles(typed)


def test_a_money_value_round_trips_through_the_form_and_others_stay_counts():
    assert formatting.value_for_form("amount", 10_050) == "100.50"
    assert formatting.value_from_form("fixed_price", "100.50") == 10_050
    assert formatting.value_from_form("percent", "15") == 15
    with pytest.raises(ValueError, match="whole number"):
        formatting.value_from_form("trial", "1.5")


def test_a_moment_is_shown_to_the_minute_in_utc():
    moment = datetime(2026, 3, 1, 12, 30, 59, 123_456, tzinfo=timezone(timedelta(hours=3)))
    assert formatting.moment(moment) == "2026-03-01 09:30 UTC"


def test_terms_read_as_sentences():
    code = SimpleNamespace(
        discount_type="fixed_price",
        value=9_900,
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
        valid_until=None,
        max_uses=10,
        uses=4,
        per_user_limit=None,
        tariff_ids=[7],
        audience="assigned",
        is_active=False,
    )
    assert formatting.terms(code, {7: "Premium"}) == [
        "pays 99.00 ₽",
        "valid from 2026-01-01 00:00 UTC, no end date",
        "used 4 of 10 times (6 left)",
        "no limit per user",
        "for tariffs Premium",
        "only for assigned users and groups",
        "disabled",
    ]


def _terms(**overrides):
    values = {
        "discount_type": "fixed_price",
        "value": 20_000,
        "valid_until": None,
        "tariff_ids": [],
    }
    return SimpleNamespace(**{**values, **overrides})


def test_a_code_that_never_discounts_is_named_so():
    prices = {1: 10_000, 2: 30_000}
    assert never_discounts(_terms(), prices) == ""  # tariff 2 gets 100 ₽ off
    assert "nothing off" in never_discounts(_terms(tariff_ids=[1]), prices)
    over = _terms(discount_type="percent", value=10, valid_until=datetime.now(UTC))
    assert "already over" in never_discounts(over, prices)


def test_an_operator_reads_the_real_reason_where_the_buyer_is_told_less():
    from admin.pages import reason_words

    assert reason_words("promocode_expired") == "This promo code has expired"
    assert "only for assigned users" in reason_words("promocode_not_assigned")


def test_a_stream_entry_is_shown_as_the_moment_it_was_added():
    assert formatting.stream_moment("1796420180663-0") == "2026-12-04 21:36 UTC"
    assert formatting.stream_moment("0-0") == "1970-01-01 00:00 UTC"
    assert formatting.stream_moment(None) == ""


def test_a_batchs_terms_say_what_each_code_offers_without_one_codes_uses():
    code = SimpleNamespace(
        discount_type="percent",
        value=15,
        valid_from=datetime(2026, 12, 4, 21, 30, tzinfo=UTC),
        valid_until=None,
        max_uses=1,
        uses=1,
        per_user_limit=1,
        tariff_ids=[],
        audience="everyone",
        is_active=False,
    )
    said = formatting.terms(code, batch=True)
    assert "each code can be used 1 time(s)" in said
    assert not any("used 1 of" in s or s in ("disabled", "active") for s in said)
    assert "valid from 2026-12-04 21:30 UTC, no end date" in said
