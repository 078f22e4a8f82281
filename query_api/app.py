"""Every read of the loyalty domain, served from Redis read models."""

from core.app import create_app
from core.config import get_settings
from query_api.routes import router

app = create_app(
    "query_api",
    get_settings().loyalty_database_url,
    router,
    title="Loyalty query API",
    description=__doc__,
)
