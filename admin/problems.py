"""What was wrong with a form, said next to the field it concerns.

A form's handler raises `FormProblems` (a ValueError): each message under the field it
concerns, "" for the form as a whole (e.g. a rule joining two fields). SQLAdmin only shows an
exception's text above the form, so the problems also wait on the request
(`request.state.form_problems`) until the form template places them under their fields
(`place_problems`, a template global); the text above the form then says only what no field
shows.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request

from core.errors import AppError

WHOLE_FORM = ""
SEE_BELOW = "Please correct what is marked below."

# Domain errors that concern one field of the admin's forms.
ERROR_FIELDS = {
    "tariff_name_taken": "name",
    "group_name_taken": "name",
    "promocode_code_taken": "code",
    "tariff_not_found": "tariff_ids",
    "group_not_found": "group_id",
    "promocode_not_found": "promocode_id",
    "user_not_found": "user_ids",
}


class FormProblems(ValueError):
    def __init__(self, problems: dict[str, list[str]]) -> None:
        self.problems = problems
        whole = problems.get(WHOLE_FORM, [])
        super().__init__("; ".join(whole) if whole else SEE_BELOW)

    @classmethod
    def of(cls, field: str, message: str) -> "FormProblems":
        return cls({field: [message]})

    @classmethod
    def from_validation(cls, error: ValidationError) -> "FormProblems":
        problems: dict[str, list[str]] = {}
        for e in error.errors():
            field = str(e["loc"][0]) if e["loc"] else WHOLE_FORM
            problems.setdefault(field, []).append(e["msg"].removeprefix("Value error, "))
        return cls(problems)

    @classmethod
    def from_error(cls, error: AppError) -> "FormProblems":
        return cls.of(ERROR_FIELDS.get(error.code, WHOLE_FORM), error.message)

    @classmethod
    def caught(cls, error: AppError | ValueError) -> "FormProblems":
        """What a form's handler raised, as problems: a domain error under its field, a
        plain ValueError for the whole form."""
        if isinstance(error, FormProblems):
            return error
        if isinstance(error, AppError):
            return cls.from_error(error)
        return cls.of(WHOLE_FORM, str(error))


@contextmanager
def in_field(field: str) -> Iterator[None]:
    """A ValueError raised inside (e.g. 'not an amount in roubles') belongs to `field`."""
    try:
        yield
    except FormProblems:
        raise
    except ValueError as exc:
        raise FormProblems.of(field, str(exc)) from None


def remember(request: Request, problems: FormProblems) -> None:
    request.state.form_problems = problems.problems


def place_problems(form: Any, request: Request) -> str:
    """Puts the request's problems under the form's fields (as their errors) and returns
    those of a field this form lacks, for a message above it."""
    problems: dict[str, list[str]] = getattr(request.state, "form_problems", {})
    elsewhere = []
    for name, messages in problems.items():
        field = form._fields.get(name) if name else None
        if field is not None:
            field.errors = [*field.errors, *messages]
        elif name:
            elsewhere += [f"{name.replace('_', ' ')}: {m}" for m in messages]
    return "; ".join(elsewhere)
