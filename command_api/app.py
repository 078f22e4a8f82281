from command_api.routes import buyer_router, operator_router
from core.app import create_app
from core.config import get_settings
from core.health import service_checks

settings = get_settings()
app = create_app(
    "command_api",
    title="Loyalty command API",
    description="Every write of the loyalty domain: quotes, purchases, the operators' API.",
    checks=service_checks(settings.loyalty_database_url),
)
app.include_router(buyer_router)
app.include_router(operator_router)
