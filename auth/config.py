"""Settings only auth reads: the login and registration limits (environment, `.env`).

The login policy (docs/security.md): a lock per (email, address) pair, a limit per address,
and a short exponential backoff per email, so nobody can lock a stranger out for long.
"""

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class AuthSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Failed logins within the window before 429 `too_many_attempts`: for one email from one
    # address (that address alone is locked out of that account), and from one address
    # whatever the emails (password spraying).
    login_failures_per_email_and_address: int = 5
    login_failures_per_address: int = 20
    login_window_seconds: int = 15 * 60
    # From this many failures of one email within the window, whatever the addresses, each
    # attempt waits 1, 2, 4, ... seconds (at most `login_backoff_max_seconds`) after the
    # latest failure: guessing is slowed, the owner waits seconds, never the window.
    login_backoff_after_failures_per_email: int = 10
    login_backoff_max_seconds: int = 30
    # Registrations (accounts created or emails found taken) per client address per window.
    registrations_per_address: int = 20
    registration_window_seconds: int = 3600


@lru_cache
def get_auth_settings() -> AuthSettings:
    return AuthSettings()
