"""A form's problems are placed under the field they concern (no I/O)."""

from types import SimpleNamespace

import pytest
from pydantic import BaseModel, Field, ValidationError

from admin.problems import SEE_BELOW, FormProblems, in_field, place_problems
from loyalty.domain.errors import PromocodeCodeTaken, TariffNotFound


class Body(BaseModel):
    count: int = Field(ge=1)
    prefix: str = Field(max_length=3)


def test_schema_errors_go_under_their_fields_and_the_top_says_to_look_below():
    with pytest.raises(ValidationError) as caught:
        Body(count=0, prefix="SPRING")
    problems = FormProblems.from_validation(caught.value)
    assert set(problems.problems) == {"count", "prefix"}
    assert str(problems) == SEE_BELOW


def test_a_domain_error_goes_under_the_field_it_concerns_or_above_the_form():
    assert FormProblems.caught(PromocodeCodeTaken()).problems == {
        "code": ["A promo code with this code exists"]
    }
    assert list(FormProblems.caught(ValueError("choose a code")).problems) == [""]
    assert str(FormProblems.caught(ValueError("choose a code"))) == "choose a code"
    assert "tariff_ids" in FormProblems.caught(TariffNotFound()).problems


def test_a_plain_value_error_inside_in_field_belongs_to_that_field():
    with pytest.raises(FormProblems) as caught, in_field("price"):
        raise ValueError("'12x' is not an amount in roubles")
    assert caught.value.problems == {"price": ["'12x' is not an amount in roubles"]}


def test_placed_problems_become_field_errors_and_the_rest_is_returned():
    value = SimpleNamespace(errors=[])
    form = SimpleNamespace(_fields={"value": value})
    request = SimpleNamespace(
        state=SimpleNamespace(form_problems={"value": ["too big"], "tariff_ids": ["unknown"]})
    )
    assert place_problems(form, request) == "tariff ids: unknown"
    assert value.errors == ["too big"]
