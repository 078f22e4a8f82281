"""List filters SQLAdmin lacks: by date (today, 7 or 30 days), a code's validity now, and
a code's batch (hand-made, generated, or one batch by id)."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, or_
from starlette.requests import Request

from admin.repository import start_of_today
from loyalty.models import Promocode

ALL = ("__all", "All")


class _Filter:
    has_operator = False
    template = "sqladmin/filters/lookup_filter.html"
    values: list[tuple[str, str]] = []

    async def lookups(
        self, request: Request, model: Any, run_query: Callable[[Select], Any]
    ) -> list[tuple[str, str]]:
        return [ALL, *self.values]

    def condition(self, value: str) -> Any:
        raise NotImplementedError

    async def get_filtered_query(self, query: Select, value: Any, model: Any) -> Select:
        if not value or value == ALL[0]:
            return query
        condition = self.condition(str(value))
        return query if condition is None else query.where(condition)


class SinceFilter(_Filter):
    """Rows whose `column` is today (UTC) or within the last 7 or 30 days."""

    values = [("today", "Today"), ("7d", "Last 7 days"), ("30d", "Last 30 days")]

    def __init__(self, column: Any, title: str = "When") -> None:
        self.column = column
        self.title = title
        self.parameter_name = "since"

    def condition(self, value: str) -> Any:
        days = {"today": 0, "7d": 6, "30d": 29}.get(value)
        if days is None:
            return None
        return self.column >= start_of_today() - timedelta(days=days)


class ValidityFilter(_Filter):
    """Where a code's window stands now (whatever its other limits)."""

    title = "Validity"
    parameter_name = "validity"
    values = [("now", "Valid now"), ("not_started", "Not started"), ("expired", "Expired")]

    def condition(self, value: str) -> Any:
        now = datetime.now(UTC)
        started = Promocode.valid_from <= now
        not_over = or_(Promocode.valid_until.is_(None), Promocode.valid_until > now)
        return {
            "now": and_(started, not_over),
            "not_started": Promocode.valid_from > now,
            "expired": and_(Promocode.valid_until.is_not(None), Promocode.valid_until <= now),
        }.get(value)


class BatchFilter(_Filter):
    """Hand-made codes, generated ones, or the codes of one batch (`?batch=<id>`)."""

    title = "Batch"
    parameter_name = "batch"
    values = [("none", "Hand-made"), ("any", "Generated")]

    def condition(self, value: str) -> Any:
        if value == "none":
            return Promocode.batch_id.is_(None)
        if value == "any":
            return Promocode.batch_id.is_not(None)
        try:
            return Promocode.batch_id == uuid.UUID(value)
        except ValueError:
            return None
