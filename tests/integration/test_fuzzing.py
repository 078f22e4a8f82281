"""Schemathesis against each API's own OpenAPI document, in-process: generated requests,
valid and not (NUL bytes and other hostile text included), must never get a server error,
and every answer must match the document (error codes included)."""

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

import auth.app
import command_api.app
import query_api.app
from tests.support.factories import bearer

EXAMPLES = 20
CHECKS = [not_a_server_error, response_schema_conformance]
OPERATOR = bearer(uuid.uuid4(), "operator")
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

auth_api = schemathesis.openapi.from_asgi("/openapi.json", auth.app.app)
command = schemathesis.openapi.from_asgi("/openapi.json", command_api.app.app)
query = schemathesis.openapi.from_asgi("/openapi.json", query_api.app.app)


@auth_api.parametrize()
@FUZZ
def test_auth(case):
    case.call_and_validate(headers=OPERATOR, checks=CHECKS)


@command.parametrize()
@FUZZ
def test_command_api(case):
    case.call_and_validate(headers=OPERATOR, checks=CHECKS)


@query.parametrize()
@FUZZ
def test_query_api(case):
    case.call_and_validate(headers=OPERATOR, checks=CHECKS)


def test_every_operation_is_fuzzed():
    operations = [op for api in (auth_api, command, query) for op in api.get_all_operations()]
    assert len(operations) >= 25


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
