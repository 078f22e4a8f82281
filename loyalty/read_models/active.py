"""Which promo codes a user sees right now: a pure function of the candidates and `now`.

Time is evaluated here, at read time: a code appears at `valid_from` and disappears at
`valid_until` without waiting for any event.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from loyalty.models import UserStatus

HIDDEN_STATUSES = frozenset({UserStatus.blocked, UserStatus.deleted})


@dataclass(frozen=True)
class Candidate:
    """A code that reaches the user (assigned, through a group, or public) and their uses."""

    snapshot: dict[str, Any]  # promocode_payload without counters, datetimes as ISO strings
    uses: int
    user_uses: int


def _moment(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def uses_left(limit: int | None, used: int) -> int | None:
    """None for no limit; never negative."""
    return None if limit is None else max(limit - used, 0)


def active_promocodes(
    status: str | None, candidates: list[Candidate], now: datetime
) -> list[dict[str, Any]]:
    """The codes a user of this status may use now, soonest-ending first.

    Minus disabled, not yet started, expired, exhausted and used up by this user; nothing
    at all for a blocked or deleted user. An unknown status (the registration event is still
    on its way) counts as active: the token that reached us was signed by auth.
    """
    if status in HIDDEN_STATUSES:
        return []
    visible = []
    for candidate in candidates:
        code = candidate.snapshot
        if not code["is_active"]:
            continue
        valid_from, valid_until = _moment(code["valid_from"]), _moment(code["valid_until"])
        if valid_from > now or (valid_until is not None and valid_until <= now):
            continue
        left_total = uses_left(code["max_uses"], candidate.uses)
        left_for_you = uses_left(code["per_user_limit"], candidate.user_uses)
        if left_total == 0 or left_for_you == 0:
            continue
        # What this user can still use is bounded by what is left for everyone.
        if left_for_you is None or (left_total is not None and left_total < left_for_you):
            left_for_you = left_total
        visible.append(
            {
                "code": code["code"],
                "discount_type": code["discount_type"],
                "value": code["value"],
                "valid_from": valid_from,
                "valid_until": valid_until,
                "tariff_ids": list(code["tariff_ids"]),
                "uses_left_for_you": left_for_you,
                "uses_left_total": left_total,
            }
        )
    visible.sort(key=lambda c: (c["valid_until"] is None, c["valid_until"] or now, c["code"]))
    return visible
