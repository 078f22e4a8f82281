"""Settings for every process, read from the environment (and `.env` when present)."""

from functools import lru_cache
from pathlib import Path

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_KEY_DIR = REPO_ROOT / ".dev-keys"
DEV_SESSION_SECRET = "dev-session-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: str = "development"
    auth_database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/auth"
    loyalty_database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:5432/loyalty"
    redis_url: str = "redis://127.0.0.1:6379/0"
    sentry_dsn: str = ""
    # OpenTelemetry traces over OTLP/HTTP to this collector (`core.tracing`); empty: off.
    otel_exporter_otlp_endpoint: str = ""
    log_level: str = "INFO"
    # The proxies whose X-Forwarded-For is believed (`core.addresses`): addresses or CIDR
    # blocks, comma-separated. Empty: nobody, the socket's peer is the client.
    trusted_proxies: str = ""

    # Tokens: auth signs with the private key; every other service holds the public key only.
    jwt_private_key: str = ""
    jwt_public_key: str = ""
    jwt_private_key_file: Path = DEV_KEY_DIR / "jwt_ed25519.pem"
    jwt_public_key_file: Path = DEV_KEY_DIR / "jwt_ed25519.pub.pem"
    jwt_issuer: str = "promo-auth"
    jwt_audience: str = "promo-platform"
    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_seconds: int = 30 * 24 * 3600

    session_secret: str = DEV_SESSION_SECRET
    auth_service_url: str = "http://127.0.0.1:8001"

    # Loyalty domain
    reservation_ttl_seconds: int = 15 * 60
    failed_attempts_per_minute: int = 20
    # Wrong codes (no such code) per client address per minute, whatever the accounts.
    failed_attempts_per_address_per_minute: int = 300
    # The largest request body an API reads (apply-to-users with 10,000 ids is ~400 KB).
    max_body_bytes: int = 1_048_576
    idempotency_ttl_seconds: int = 24 * 3600

    # Auth: the login and registration limits (docs/security.md)
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

    # Streams
    stream_block_ms: int = 2000
    stream_claim_idle_ms: int = 30_000
    stream_max_deliveries: int = 5
    outbox_poll_seconds: float = 1.0
    reaper_interval_seconds: float = 10.0
    # The workers' pipeline figures (docs/faults.md): logged this often; served as Prometheus
    # gauges on this port when it is set (0: off).
    pipeline_report_seconds: float = 60.0
    workers_metrics_port: int = 0
    workers_metrics_host: str = "127.0.0.1"

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: str) -> str:
        from core.addresses import parse_networks

        parse_networks(value)  # a typo refuses to start rather than trusting nobody silently
        return value

    @property
    def is_development(self) -> bool:
        return self.environment in ("development", "test")

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> "Settings":
        if self.is_development:
            return self
        if self.session_secret == DEV_SESSION_SECRET:
            raise ValueError("SESSION_SECRET must be set outside development")
        uses_dev_keys = not self.jwt_public_key and self.jwt_public_key_file.is_relative_to(
            DEV_KEY_DIR
        )
        if uses_dev_keys:
            raise ValueError(
                "JWT keys from .dev-keys are refused outside development: "
                "set JWT_PUBLIC_KEY / JWT_PRIVATE_KEY (or their *_FILE paths)"
            )
        return self

    def public_key_pem(self) -> str:
        return self.jwt_public_key or self.jwt_public_key_file.read_text()

    def private_key_pem(self) -> str:
        return self.jwt_private_key or self.jwt_private_key_file.read_text()


@lru_cache
def get_settings() -> Settings:
    return Settings()
