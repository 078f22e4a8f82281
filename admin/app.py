"""The operators' screens (SQLAdmin) at /admin, signed in through the auth service."""

from pathlib import Path

from sqladmin import Admin

from admin.auth import OperatorAuth
from admin.operations import OperationsView
from admin.views import VIEWS
from core.app import create_app
from core.config import get_settings
from core.db import get_engine

settings = get_settings()
engine = get_engine(settings.loyalty_database_url)
app = create_app("admin", settings.loyalty_database_url, title="Loyalty admin")
admin = Admin(
    app,
    engine,
    title="Loyalty admin",
    base_url="/admin",
    templates_dir=str(Path(__file__).parent / "templates"),
    authentication_backend=OperatorAuth(
        secret_key=settings.session_secret,
        https_only=not settings.is_development,
        same_site="strict",
    ),
)
for view in VIEWS:
    admin.add_view(view)
admin.add_base_view(OperationsView)
