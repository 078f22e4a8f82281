from core.app import create_app
from core.config import get_settings
from core.health import service_checks
from query_api.routes import router

settings = get_settings()
app = create_app(
    "query_api",
    title="Loyalty query API",
    description="Every read of the loyalty domain, served from Redis read models.",
    checks=service_checks(settings.loyalty_database_url),
)
app.include_router(router)
