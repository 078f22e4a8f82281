"""What every API accepts at its edge, so nothing a caller sends can reach the database or a
rule in a shape that breaks it: text without control characters, and moments as aware UTC
within a range every layer can hold (a naive time is taken as UTC)."""

import unicodedata
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
ALLOWED_CONTROLS = frozenset("\t\n\r")


def plain_text(value: str) -> str:
    """Refuses NUL and the other control characters (tab and line breaks excepted)."""
    for ch in value:
        if unicodedata.category(ch) == "Cc" and ch not in ALLOWED_CONTROLS:
            raise ValueError(f"control character U+{ord(ch):04X} is not allowed")
    return value


def utc_moment(value: datetime) -> datetime:
    # The year is checked before any conversion: moving year 1 or 9999 across an offset
    # overflows.
    if not EARLIEST.year <= value.year < LATEST.year:
        raise ValueError(f"a time between {EARLIEST.year} and {LATEST.year - 1} is expected")
    moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"a time between {EARLIEST.year} and {LATEST.year - 1} is expected")
    return moment


Text = Annotated[str, AfterValidator(plain_text)]
UtcMoment = Annotated[datetime, AfterValidator(utc_moment)]
