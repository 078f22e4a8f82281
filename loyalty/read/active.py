"""Which promo codes a user sees right now: a pure function of the candidates and `now`.

The listing is ordered by the end of validity (soonest first, never-ending codes last), then
by code text: `rm:public` holds the public codes in exactly this order, so a page reads a
prefix of it (`readers.ReadModels.active_page`) whatever the number of codes.

Time is evaluated here, at read time: a code appears at `valid_from` and disappears at
`valid_until` without waiting for any event. A code is listed exactly when the write side's
rules would accept a use of it for some tariff (`rules.code_rejection`).

A code's snapshot is the same for every user it reaches, so its view is built once per process
(`code_view`, keyed by the snapshot's JSON and the uses counter), with the JSON of what a
buyer is shown of it: a listing entry is that text and the user's two counters, and a page is
answered as the entries joined, nothing parsed, validated or serialised again per request.
"""

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from loyalty.domain import rules
from loyalty.schemas import ActivePromocode, PromocodeTerms

# What the listing reads of a code: its id, its text and its terms but the description. The
# projector stores exactly these (`projection.listing_snapshot`).
LISTING_FIELDS = (
    "id",
    "code",
    *(name for name in PromocodeTerms.model_fields if name != "description"),
)
# What a buyer is shown of a code as stored; the entry then adds what is left for them.
SHOWN_FIELDS = tuple(name for name in ActivePromocode.model_fields if name in LISTING_FIELDS)


class CodeView:
    """A code as the listing rule reads it (a `Promocode` as `rules` sees it): the fields of
    its listing snapshot (`valid_from` and `valid_until` as datetimes), its uses counter, and
    `shown`, the JSON object of `SHOWN_FIELDS` without its closing brace. Never changed once
    built: views are shared by every request (`code_view`)."""

    __slots__ = (*LISTING_FIELDS, "uses", "shown", "order")

    def __init__(self, fields: dict[str, Any], uses: int, shown: str) -> None:
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "uses", uses)
        object.__setattr__(self, "shown", shown)
        until = fields["valid_until"]
        # The listing's order: ending soonest first, never-ending last, then by code text
        # (the order of `rm:public`).
        order = (until is None, until and until.timestamp(), fields["code"])
        object.__setattr__(self, "order", order)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a CodeView is shared between requests: {name} cannot change")

    @classmethod
    def of(cls, snapshot: dict[str, Any], uses: int = 0) -> "CodeView":
        """From a code's snapshot (`promocode_payload`, JSON-ready) and its uses counter."""
        fields = {name: snapshot[name] for name in LISTING_FIELDS}
        shown = json.dumps({name: snapshot[name] for name in SHOWN_FIELDS}, separators=(",", ":"))
        until = snapshot["valid_until"]
        fields["valid_from"] = datetime.fromisoformat(snapshot["valid_from"])
        fields["valid_until"] = None if until is None else datetime.fromisoformat(until)
        return cls(fields, uses, shown[:-1])

    def with_uses(self, uses: int) -> "CodeView":
        fields = {name: getattr(self, name) for name in LISTING_FIELDS}
        return CodeView(fields, uses, self.shown)


@lru_cache(maxsize=50_000)
def _parsed(snapshot_json: str) -> CodeView:
    return CodeView.of(json.loads(snapshot_json))


@lru_cache(maxsize=50_000)
def code_view(snapshot_json: str, uses: int = 0) -> CodeView:
    """The code as of its snapshot and uses counter, built once per process for each pair
    (building a view per candidate per request was a sixth of a listing's time)."""
    return _parsed(snapshot_json).with_uses(uses)


class Candidate(NamedTuple):
    """A code that reaches the user (assigned, through a group, or public), with its uses
    counter, and the user's uses of it. A tuple: a page builds one per code it reads."""

    view: CodeView
    user_uses: int


Seen = tuple[CodeView, int]  # a code the user may use now, and the user's uses of it


def visible(status: str | None, candidates: list[Candidate], now: datetime) -> list[Seen]:
    """The candidates a user of this status may use now (`rules.code_rejection`), each with
    the user's uses, unordered."""
    if not rules.is_eligible(status):
        return []
    return [
        (code, user_uses)
        for code, user_uses in candidates
        if rules.code_rejection(
            code, assigned_to_user=True, user_status=status, user_uses=user_uses, now=now
        )
        is None
    ]


def _listing_order(seen: Seen) -> tuple:
    return seen[0].order


def in_listing_order(seen: list[Seen], ordered: bool = False) -> list[Seen]:
    """Each code once (a code may reach a user in several ways), in the listing's order;
    `ordered`: `seen` is in that order already (read from `rm:public` alone)."""
    unique = {code.id: (code, user_uses) for code, user_uses in seen}
    return list(unique.values()) if ordered else sorted(unique.values(), key=_listing_order)


def _number(value: int | None) -> str:
    return "null" if value is None else str(value)


@lru_cache(maxsize=20_000)
def entry_json(code: CodeView, user_uses: int) -> str:
    """One listing entry (`ActivePromocode`): what the buyer is shown, then what is left;
    the same for every user with as many uses of this view (kept per pair)."""
    for_you = _number(rules.uses_left_for_user(code, user_uses))
    total = _number(rules.uses_left(code.max_uses, code.uses))
    return f'{code.shown},"uses_left_for_you":{for_you},"uses_left_total":{total}}}'


@dataclass(frozen=True)
class ActivePage:
    """One page of a user's listing, in the listing's order."""

    entries: list[Seen]
    has_more: bool

    @classmethod
    def of(cls, seen: list[Seen], limit: int, offset: int, ordered: bool = False) -> "ActivePage":
        """The page at `offset` of what the user may use (repeats allowed; in any order unless
        `ordered`, see `in_listing_order`)."""
        listing = in_listing_order(seen, ordered)
        return cls(listing[offset : offset + limit], len(listing) > offset + limit)

    def json(self) -> str:
        """The page as the API answers it: a JSON array of `ActivePromocode`."""
        return "[" + ",".join([entry_json(code, uses) for code, uses in self.entries]) + "]"

    @property
    def items(self) -> list[dict[str, Any]]:
        return json.loads(self.json())


def active_promocodes(
    status: str | None, candidates: list[Candidate], now: datetime
) -> list[dict[str, Any]]:
    """Every code a user of this status may use now, in the listing's order (JSON-ready)."""
    seen = visible(status, candidates, now)
    return ActivePage.of(seen, limit=len(seen), offset=0).items
