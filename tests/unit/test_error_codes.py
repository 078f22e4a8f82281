"""Every error code is one class, listed in the OpenAPI document and in docs/API.md."""

from pathlib import Path

import pytest

import auth.app
import command_api.app
import query_api.app
from core.errors import ERROR_CODES, AppError

DOCS = (Path(__file__).parents[2] / "docs" / "API.md").read_text()


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_each_code_is_documented(code):
    assert f"`{code}`" in DOCS


@pytest.mark.parametrize("app", [auth.app.app, command_api.app.app, query_api.app.app])
def test_the_openapi_document_lists_the_codes_and_every_operation_refers_to_them(app):
    schema = app.openapi()
    listed = set(schema["components"]["schemas"]["ErrorCode"]["enum"])
    assert {"validation_error", "not_authenticated", "internal_error"} <= listed
    for path in schema["paths"].values():
        for operation in path.values():
            assert "4XX" in operation["responses"]


def test_loyalty_codes_are_in_command_apis_document():
    from loyalty.domain import errors

    loyalty_codes = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and cls.__module__ == errors.__name__ and "code" in cls.__dict__
    }
    listed = set(command_api.app.app.openapi()["components"]["schemas"]["ErrorCode"]["enum"])
    assert loyalty_codes and loyalty_codes <= listed


def test_a_second_class_for_a_code_is_refused():
    with pytest.raises(TypeError):

        class AnotherValidationError(AppError):
            code = "validation_error"
