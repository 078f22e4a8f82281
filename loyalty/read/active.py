"""Which promo codes a user sees right now: a pure function of the candidates and `now`.

Time is evaluated here, at read time: a code appears at `valid_from` and disappears at
`valid_until` without waiting for any event. A code is listed exactly when the write side's
rules would accept a use of it for some tariff (`rules.code_rejection`).
"""

from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from loyalty.domain import rules


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


def code_terms(candidate: Candidate) -> SimpleNamespace:
    """The candidate as the rules read a code: real datetimes and its current uses."""
    snapshot = candidate.snapshot
    return SimpleNamespace(
        **{
            **snapshot,
            "valid_from": _moment(snapshot["valid_from"]),
            "valid_until": _moment(snapshot["valid_until"]),
            "uses": candidate.uses,
        }
    )


def active_promocodes(
    status: str | None, candidates: list[Candidate], now: datetime
) -> list[dict[str, Any]]:
    """The codes a user of this status may use now, soonest-ending first."""
    visible = []
    for candidate in candidates:
        code = code_terms(candidate)
        refused = rules.code_rejection(
            code, assigned_to_user=True, user_status=status, user_uses=candidate.user_uses, now=now
        )
        if refused is not None:
            continue
        visible.append(
            {
                "code": code.code,
                "discount_type": code.discount_type,
                "value": code.value,
                "valid_from": code.valid_from,
                "valid_until": code.valid_until,
                "tariff_ids": list(code.tariff_ids),
                "uses_left_for_you": rules.uses_left_for_user(code, candidate.user_uses),
                "uses_left_total": rules.uses_left(code.max_uses, code.uses),
            }
        )
    visible.sort(key=lambda c: (c["valid_until"] is None, c["valid_until"] or now, c["code"]))
    return visible
