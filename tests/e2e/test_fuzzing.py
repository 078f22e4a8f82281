"""Schemathesis against each API's own OpenAPI document, over HTTP to the running processes:
generated requests, valid and not (NUL bytes and other hostile text included), must never get
a server error, and every answer must match the document (error codes included)."""

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.support.factories import bearer

CHECKS = [not_a_server_error, response_schema_conformance]
OPERATOR = bearer(uuid.uuid4(), "operator")
FUZZ = settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))


def document(platform, service: str):
    return schemathesis.openapi.from_url(f"{platform.urls[service]}/openapi.json")


@pytest.fixture
def auth_api(running_platform):
    return document(running_platform, "auth")


@pytest.fixture
def command_api(running_platform):
    return document(running_platform, "command_api")


@pytest.fixture
def query_api(running_platform):
    return document(running_platform, "query_api")


auth_schema = schemathesis.pytest.from_fixture("auth_api")
command_schema = schemathesis.pytest.from_fixture("command_api")
query_schema = schemathesis.pytest.from_fixture("query_api")


@auth_schema.parametrize()
@FUZZ
def test_auth(case):
    case.call_and_validate(headers=OPERATOR, checks=CHECKS)


@command_schema.parametrize()
@FUZZ
def test_command_api(case):
    case.call_and_validate(headers=OPERATOR, checks=CHECKS)


@query_schema.parametrize()
@FUZZ
def test_query_api(case):
    case.call_and_validate(headers=OPERATOR, checks=CHECKS)
