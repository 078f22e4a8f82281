"""Accounts, passwords and tokens; the only place with personal data."""

from auth.operator_search import router as operator_search_router
from auth.routes import router
from core.app import create_app
from core.config import get_settings

app = create_app(
    "auth",
    get_settings().auth_database_url,
    router,
    operator_search_router,
    title="Auth service",
    description=__doc__,
)
