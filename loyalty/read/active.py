"""Which promo codes a user sees right now: a pure function of the candidates and `now`.

The listing is ordered by the end of validity (soonest first, never-ending codes last), then
by code text: `rm:public` holds the public codes in exactly this order, so a page reads a
prefix of it (`readers.ReadModels.active_page`) whatever the number of codes.

Time is evaluated here, at read time: a code appears at `valid_from` and disappears at
`valid_until` without waiting for any event. A code is listed exactly when the write side's
rules would accept a use of it for some tariff (`rules.code_rejection`).

A code's snapshot is the same for every user it reaches, so it is parsed once per process
(`code_view`, keyed by the snapshot's JSON and the uses counter) and the listing keeps the
snapshot's own ISO times: nothing the projector wrote is parsed or validated again per request.
"""

import json
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from loyalty.domain import rules


@dataclass(frozen=True)
class CodeView:
    """What the listing rule reads of a code (a `Promocode` as the rules see it)."""

    id: int
    code: str
    discount_type: str
    value: int
    valid_from: datetime
    valid_until: datetime | None
    valid_from_text: str
    valid_until_text: str | None
    max_uses: int | None
    per_user_limit: int | None
    tariff_ids: tuple[int, ...]
    audience: str
    is_active: bool
    uses: int = 0

    @classmethod
    def of(cls, snapshot: dict[str, Any], uses: int = 0) -> "CodeView":
        """From a code's snapshot (`promocode_payload`, JSON-ready) and its uses counter."""
        until = snapshot["valid_until"]
        return cls(
            id=snapshot["id"],
            code=snapshot["code"],
            discount_type=snapshot["discount_type"],
            value=snapshot["value"],
            valid_from=datetime.fromisoformat(snapshot["valid_from"]),
            valid_until=None if until is None else datetime.fromisoformat(until),
            valid_from_text=snapshot["valid_from"],
            valid_until_text=until,
            max_uses=snapshot["max_uses"],
            per_user_limit=snapshot["per_user_limit"],
            tariff_ids=tuple(snapshot["tariff_ids"]),
            audience=snapshot["audience"],
            is_active=bool(snapshot["is_active"]),
            uses=uses,
        )


@lru_cache(maxsize=50_000)
def _parsed(snapshot_json: str) -> CodeView:
    return CodeView.of(json.loads(snapshot_json))


@lru_cache(maxsize=50_000)
def code_view(snapshot_json: str, uses: int = 0) -> CodeView:
    """The code as of its snapshot and uses counter, built once per process for each pair
    (building a dataclass per candidate per request was a sixth of a listing's time)."""
    return replace(_parsed(snapshot_json), uses=uses)


@dataclass(frozen=True)
class Candidate:
    """A code that reaches the user (assigned, through a group, or public), with its uses
    counter, and the user's uses of it."""

    view: CodeView
    user_uses: int


def visible(
    status: str | None, candidates: list[Candidate], now: datetime
) -> list[tuple[CodeView, int]]:
    """The candidates a user of this status may use now (`rules.code_rejection`), each with
    the user's uses, unordered."""
    if not rules.is_eligible(status):
        return []
    seen: list[tuple[CodeView, int]] = []
    for candidate in candidates:
        code = candidate.view
        refused = rules.code_rejection(
            code, assigned_to_user=True, user_status=status, user_uses=candidate.user_uses, now=now
        )
        if refused is None:
            seen.append((code, candidate.user_uses))
    return seen


def listing_order(seen: tuple[CodeView, int]) -> tuple:
    """Ending soonest first, never-ending last, then by code text (the order of `rm:public`)."""
    code = seen[0]
    return (code.valid_until is None, code.valid_until and code.valid_until.timestamp(), code.code)


def listed(seen: list[tuple[CodeView, int]]) -> list[dict[str, Any]]:
    """The listing entries (JSON-ready) in the listing's order, each code once."""
    unique = {code.id: (code, user_uses) for code, user_uses in seen}
    return [
        {
            "code": code.code,
            "discount_type": code.discount_type,
            "value": code.value,
            "valid_from": code.valid_from_text,
            "valid_until": code.valid_until_text,
            "tariff_ids": list(code.tariff_ids),
            "uses_left_for_you": rules.uses_left_for_user(code, user_uses),
            "uses_left_total": rules.uses_left(code.max_uses, code.uses),
        }
        for code, user_uses in sorted(unique.values(), key=listing_order)
    ]


def active_promocodes(
    status: str | None, candidates: list[Candidate], now: datetime
) -> list[dict[str, Any]]:
    """Every code a user of this status may use now, in the listing's order (JSON-ready)."""
    return listed(visible(status, candidates, now))
