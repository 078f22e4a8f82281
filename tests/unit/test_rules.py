"""The rules as pure functions: prices to the kopeck and the one reason a code fails."""

from datetime import UTC, datetime, timedelta

import pytest

from loyalty.domain import errors, rules
from loyalty.models import Promocode, Tariff

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("discount_type", "value", "base", "discount", "final"),
    [
        # percent: half up to the kopeck
        ("percent", 10, 39_900, 3_990, 35_910),
        ("percent", 15, 999, 150, 849),  # 149.85 -> 150
        ("percent", 50, 1, 1, 0),  # 0.5 -> 1 (half up, not banker's)
        ("percent", 50, 3, 2, 1),  # 1.5 -> 2
        ("percent", 25, 2, 1, 1),  # 0.5 -> 1
        ("percent", 33, 100, 33, 67),
        ("percent", 1, 49, 0, 49),  # 0.49 -> 0
        ("percent", 100, 39_900, 39_900, 0),
        ("percent", 10, 0, 0, 0),
        # amount: never below zero
        ("amount", 10_000, 39_900, 10_000, 29_900),
        ("amount", 50_000, 39_900, 39_900, 0),
        ("amount", 39_900, 39_900, 39_900, 0),
        # fixed price: never above the tariff's price
        ("fixed_price", 19_900, 39_900, 20_000, 19_900),
        ("fixed_price", 50_000, 39_900, 0, 39_900),
        ("fixed_price", 0, 39_900, 39_900, 0),
        # trial: free
        ("trial", 30, 39_900, 39_900, 0),
    ],
)
def test_price(discount_type, value, base, discount, final):
    quote = rules.price(discount_type, value, base)
    assert (quote.base_price, quote.discount, quote.final_price) == (base, discount, final)
    assert quote.final_price == quote.base_price - quote.discount


def test_trial_carries_its_days():
    assert rules.price("trial", 14, 39_900).trial_days == 14
    assert rules.price("percent", 14, 39_900).trial_days is None


@pytest.mark.parametrize("discount_type", ["percent", "amount", "fixed_price", "trial"])
@pytest.mark.parametrize("base", [0, 1, 99, 39_900, 10**12])
@pytest.mark.parametrize("value", [0, 1, 50, 100, 10**13])
def test_final_price_is_never_negative_nor_above_the_base(discount_type, base, value):
    if discount_type == "percent":
        value = min(max(value, 1), 100)
    quote = rules.price(discount_type, value, base)
    assert 0 <= quote.final_price <= base
    assert 0 <= quote.discount <= base


def replace(row, **changes):
    return row.model_copy(update=changes)


TARIFF = Tariff(id=7, name="Monthly", price=39_900, is_active=True)
CODE = Promocode(
    code="SPRING",
    id=1,
    discount_type="percent",
    value=10,
    valid_from=NOW - timedelta(days=1),
    valid_until=NOW + timedelta(days=1),
    max_uses=10,
    uses=3,
    per_user_limit=1,
    tariff_ids=(),
    audience="everyone",
    is_active=True,
)
OK = {
    "tariff": TARIFF,
    "promocode": CODE,
    "assigned_to_user": False,
    "user_status": "active",
    "user_uses": 0,
}


def judge(state: dict, mistyped: bool = False) -> type[errors.Rejection] | None:
    return rules.rejection(rules.UseFacts(**state), NOW, mistyped=mistyped)


def check(mistyped: bool = False, **changes) -> type[errors.Rejection] | None:
    return judge({**OK, **changes}, mistyped)


def test_a_valid_code_has_no_reason():
    assert check() is None


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"tariff": None}, errors.TariffNotFound),
        ({"tariff": replace(TARIFF, is_active=False)}, errors.TariffNotFound),
        ({"promocode": None}, errors.PromocodeNotFound),
        ({"promocode": replace(CODE, audience="assigned")}, errors.PromocodeNotAssigned),
        ({"promocode": replace(CODE, is_active=False)}, errors.PromocodeDisabled),
        (
            {"promocode": replace(CODE, valid_from=NOW + timedelta(seconds=1))},
            errors.PromocodeNotStarted,
        ),
        ({"promocode": replace(CODE, valid_until=NOW)}, errors.PromocodeExpired),
        ({"promocode": replace(CODE, tariff_ids=(1, 2))}, errors.TariffNotEligible),
        ({"user_status": "blocked"}, errors.UserNotEligible),
        ({"user_status": "deleted"}, errors.UserNotEligible),
        ({"user_status": None}, errors.UserNotEligible),
        ({"user_uses": 1}, errors.UserLimitReached),
        ({"promocode": replace(CODE, uses=10)}, errors.PromocodeExhausted),
    ],
)
def test_each_reason(changes, reason):
    assert check(**changes) == reason


def test_assigned_code_reaches_an_assigned_user():
    assert check(promocode=replace(CODE, audience="assigned"), assigned_to_user=True) is None


def test_unlimited_code_and_unlimited_per_user():
    code = replace(CODE, max_uses=None, uses=10**6, per_user_limit=None)
    assert check(promocode=code, user_uses=10**6) is None


def test_code_in_its_tariff_list():
    assert check(promocode=replace(CODE, tariff_ids=(3, 7))) is None


# Every failing condition at once, then fixed one by one in the documented order: the
# reason reported is always the first still failing.
ALL_BROKEN = {
    "tariff": replace(TARIFF, is_active=False),
    "promocode": replace(
        CODE,
        audience="assigned",
        is_active=False,
        valid_from=NOW + timedelta(days=1),
        valid_until=NOW + timedelta(days=2),
        tariff_ids=(99,),
        uses=10,
    ),
    "assigned_to_user": False,
    "user_status": "blocked",
    "user_uses": 1,
}
FIXES = [
    (errors.TariffNotFound, {"tariff": TARIFF}),
    (errors.PromocodeNotAssigned, {"assigned_to_user": True}),
    (errors.PromocodeDisabled, {"is_active": True}),
    (errors.PromocodeNotStarted, {"valid_from": NOW - timedelta(days=3)}),
    (errors.PromocodeExpired, "expired"),
    (errors.TariffNotEligible, {"tariff_ids": (7,)}),
    (errors.UserNotEligible, {"user_status": "active"}),
    (errors.UserLimitReached, {"user_uses": 0}),
    (errors.PromocodeExhausted, {"uses": 9}),
]


def test_reasons_come_in_the_documented_order():
    state = dict(ALL_BROKEN)
    seen = []
    # not_started and expired cannot both hold: move the window to the past in between.
    for expected, fix in FIXES:
        assert judge(state) == expected
        seen.append(expected)
        if fix == "expired":
            state["promocode"] = replace(state["promocode"], valid_until=NOW + timedelta(days=1))
            continue
        if expected is errors.PromocodeNotStarted:
            state["promocode"] = replace(
                state["promocode"], valid_from=NOW - timedelta(days=3), valid_until=NOW
            )
            continue
        code_fields = {k: v for k, v in fix.items() if hasattr(CODE, k) and k != "id"}
        other = {k: v for k, v in fix.items() if k not in code_fields}
        if code_fields:
            state["promocode"] = replace(state["promocode"], **code_fields)
        state.update(other)
    assert judge(state) is None
    missing_code = (errors.PromocodeNotFound, errors.PromocodeMistyped)
    assert seen == [r for r in errors.REJECTION_ORDER if r not in missing_code]


def test_missing_code_comes_right_after_a_missing_tariff():
    assert check(tariff=None, promocode=None) == errors.TariffNotFound
    assert check(promocode=None, user_status="blocked") == errors.PromocodeNotFound


def test_a_code_assigned_to_others_looks_like_a_missing_one():
    assert errors.PromocodeNotAssigned.shown_as() is errors.PromocodeNotFound
    assert errors.PromocodeExpired.shown_as() is errors.PromocodeExpired


def test_a_missing_code_that_fails_its_check_character_is_mistyped():
    assert check(promocode=None, mistyped=True) == errors.PromocodeMistyped
    assert check(tariff=None, promocode=None, mistyped=True) == errors.TariffNotFound


@pytest.mark.parametrize(
    ("typed", "stored"), [(" welcome10 ", "WELCOME10"), ("Year-For-1990\n", "YEAR-FOR-1990")]
)
def test_typed_codes_are_normalised(typed, stored):
    assert rules.normalise_code(typed) == stored


@pytest.mark.parametrize(
    ("discount_type", "value", "ok"),
    [
        ("percent", 0, False),
        ("percent", 1, True),
        ("percent", 100, True),
        ("percent", 101, False),
        ("amount", 0, False),
        ("amount", 1, True),
        ("fixed_price", 0, True),
        ("trial", 0, False),
        ("trial", 30, True),
    ],
)
def test_value_ranges(discount_type, value, ok):
    assert (rules.value_problem(discount_type, value) is None) == ok


def test_uses_left():
    assert rules.uses_left(None, 5) is None
    assert rules.uses_left(10, 3) == 7
    assert rules.uses_left(1, 1) == 0
