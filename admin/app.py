"""The operators' screens (SQLAdmin) at /admin, signed in through the auth service."""

from pathlib import Path

from sqladmin import Admin
from sqladmin.authentication import login_required
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from admin import formatting, sessions
from admin.auth import OperatorAuth
from admin.operations import OperationsView
from admin.pages import BASE_VIEWS, dashboard
from admin.problems import place_problems
from admin.views import VIEWS
from core.app import create_app
from core.config import get_settings
from core.db import get_engine


class ConsoleAdmin(Admin):
    """SQLAdmin with a dashboard as its landing page, sign-out as a POST, and every action
    reachable by POST (the CSRF middleware checks the token; a GET only shows what the
    action would do)."""

    @login_required
    async def index(self, request: Request) -> Response:
        return await dashboard(self.templates, request)

    async def sign_out(self, request: Request) -> Response:
        if request.method == "POST":
            return await self.logout(request)
        return await self.templates.TemplateResponse(request, "sign_out.html")

    def secure_routes(self) -> None:
        for index, route in enumerate(self.admin.router.routes):
            name = getattr(route, "name", "")
            if name == "logout":
                self.admin.router.routes[index] = Route(
                    "/logout", self.sign_out, name="logout", methods=["GET", "POST"]
                )
            elif name.startswith("action-") and isinstance(route, Route):
                route.methods = {"GET", "HEAD", "POST"}


settings = get_settings()
engine = get_engine(settings.loyalty_database_url)
app = create_app("admin", settings.loyalty_database_url, title="Loyalty admin")
admin = ConsoleAdmin(
    app,
    engine,
    title="Loyalty admin",
    base_url="/admin",
    templates_dir=str(Path(__file__).parent / "templates"),
    authentication_backend=OperatorAuth(
        secret_key=settings.session_secret, https_only=not settings.is_development
    ),
)
admin.templates.env.globals["csrf_token"] = sessions.csrf_token
admin.templates.env.globals["place_problems"] = place_problems
formatting.install(admin.templates.env)
for view in VIEWS:
    admin.add_view(view)
for view in [OperationsView, *BASE_VIEWS]:
    admin.add_base_view(view)
admin.secure_routes()
