"""Default secrets are refused outside development."""

import pytest
from pydantic import ValidationError

from core.config import Settings


def test_development_accepts_the_default_secrets():
    assert Settings(environment="development").session_secret


def test_production_refuses_the_default_session_secret():
    with pytest.raises(ValidationError, match="SESSION_SECRET"):
        Settings(environment="production", jwt_public_key="pem")


def test_production_refuses_development_jwt_keys():
    with pytest.raises(ValidationError, match="dev-keys"):
        Settings(environment="production", session_secret="a-real-secret")


def test_production_accepts_real_secrets():
    settings = Settings(
        environment="production", session_secret="a-real-secret", jwt_public_key="pem"
    )
    assert not settings.is_development
