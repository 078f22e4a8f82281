from auth.routes import router
from core.app import create_app
from core.config import get_settings
from core.health import service_checks

settings = get_settings()
app = create_app(
    "auth",
    title="Auth service",
    description="Accounts, passwords and tokens; the only place with personal data.",
    checks=service_checks(settings.auth_database_url),
)
app.include_router(router)
