"""Settings only auth reads: the login rate limits (environment, `.env`)."""

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Failed logins allowed per window before 429 `too_many_attempts`.
    login_failures_per_email: int = 5
    login_failures_per_address: int = 20
    login_window_seconds: int = 15 * 60


@lru_cache
def get_auth_settings() -> AuthSettings:
    return AuthSettings()
