"""The listing rule of get_active_promocodes, a pure function of the candidates and `now`."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from loyalty.read.active import ActivePage, Candidate, CodeView, active_promocodes
from loyalty.schemas import ActivePromocode

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
IDS = itertools.count(1)


def candidate(uses: int = 0, user_uses: int = 0, **fields) -> Candidate:
    snapshot = {
        "id": next(IDS),
        "code": "SPRING",
        "discount_type": "percent",
        "value": 10,
        "valid_from": (NOW - timedelta(days=1)).isoformat(),
        "valid_until": (NOW + timedelta(days=1)).isoformat(),
        "max_uses": None,
        "per_user_limit": 1,
        "tariff_ids": [],
        "is_active": True,
        "audience": "everyone",
        **fields,
    }
    return Candidate(CodeView.of(snapshot, uses), user_uses)


def codes(*candidates: Candidate, status: str | None = "active", now: datetime = NOW) -> list:
    return [c["code"] for c in active_promocodes(status, list(candidates), now)]


def test_a_running_code_is_listed_with_what_is_left():
    [item] = active_promocodes("active", [candidate(uses=3, max_uses=10, per_user_limit=2)], NOW)
    assert (item["uses_left_total"], item["uses_left_for_you"]) == (7, 2)
    assert item["valid_from"] == (NOW - timedelta(days=1)).isoformat()


@pytest.mark.parametrize(
    "hidden",
    [
        candidate(is_active=False),
        candidate(valid_from=(NOW + timedelta(seconds=1)).isoformat()),
        candidate(valid_until=NOW.isoformat()),
        candidate(uses=5, max_uses=5),
        candidate(user_uses=1, per_user_limit=1),
    ],
    ids=["disabled", "not_started", "expired", "exhausted", "used_up_by_user"],
)
def test_codes_the_user_cannot_use_now_are_hidden(hidden):
    assert codes(hidden) == []


def test_the_window_opens_and_closes_with_time_alone():
    starting = candidate(code="LATER", valid_from=(NOW + timedelta(hours=1)).isoformat())
    ending = candidate(code="ENDING", valid_until=(NOW + timedelta(hours=1)).isoformat())
    assert codes(starting, ending) == ["ENDING"]
    assert codes(starting, ending, now=NOW + timedelta(hours=1)) == ["LATER"]


@pytest.mark.parametrize("status", ["blocked", "deleted"])
def test_a_blocked_or_deleted_user_sees_nothing(status):
    assert codes(candidate(), status=status) == []


def test_an_unknown_user_sees_nothing_as_a_use_would_refuse_them():
    assert codes(candidate(), status=None) == []


def test_unlimited_is_null_and_what_you_can_use_is_bounded_by_what_is_left():
    [unlimited] = active_promocodes("active", [candidate(per_user_limit=None)], NOW)
    assert (unlimited["uses_left_for_you"], unlimited["uses_left_total"]) == (None, None)
    [scarce] = active_promocodes("active", [candidate(uses=9, max_uses=10, per_user_limit=5)], NOW)
    assert (scarce["uses_left_for_you"], scarce["uses_left_total"]) == (1, 1)


def test_soonest_ending_first_and_open_ended_last():
    open_ended = candidate(code="FOREVER", valid_until=None)
    soon = candidate(code="SOON", valid_until=(NOW + timedelta(hours=1)).isoformat())
    later = candidate(code="LATER", valid_until=(NOW + timedelta(days=9)).isoformat())
    assert codes(open_ended, later, soon) == ["SOON", "LATER", "FOREVER"]


def test_an_entry_is_the_response_model_as_stored_then_what_is_left():
    code = candidate(code="WINTER", uses=2, max_uses=5, tariff_ids=[3, 7], valid_until=None)
    [entry] = ActivePage.of([(code.view, 1)], limit=1, offset=0).items
    assert list(entry) == list(ActivePromocode.model_fields)
    assert ActivePromocode.model_validate(entry).tariff_ids == [3, 7]
    assert (entry["code"], entry["valid_until"], entry["uses_left_total"]) == ("WINTER", None, 3)
    assert entry["valid_from"] == (NOW - timedelta(days=1)).isoformat()


def test_a_code_view_is_shared_so_it_never_changes():
    view = candidate(uses=1).view
    with pytest.raises(AttributeError):
        view.uses = 2
    assert view.with_uses(2).uses == 2 and view.uses == 1


def test_a_page_is_a_slice_of_the_listing_with_whether_more_follow():
    seen = [(candidate(code=f"C{i}").view, 0) for i in range(5)]
    first = ActivePage.of(seen + seen[:2], limit=3, offset=0)  # a code reached twice: once
    assert [c["code"] for c in first.items] == ["C0", "C1", "C2"] and first.has_more
    last = ActivePage.of(seen, limit=3, offset=3)
    assert [c["code"] for c in last.items] == ["C3", "C4"] and not last.has_more
