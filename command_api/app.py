"""Every write of the loyalty domain: quotes, purchases, the operators' API."""

from command_api.routes import buyer_router, operator_router
from core.app import create_app
from core.config import get_settings

app = create_app(
    "command_api",
    get_settings().loyalty_database_url,
    buyer_router,
    operator_router,
    title="Loyalty command API",
    description=__doc__,
)
