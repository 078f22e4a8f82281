from command_api.routes import buyer_router, operator_router
from core.app import create_app
from core.config import get_settings
from core.db import get_engine
from core.health import postgres_check, redis_check
from core.redis import get_redis

settings = get_settings()
app = create_app(
    "command_api",
    title="Loyalty command API",
    description="Every write of the loyalty domain: quotes, purchases, the operators' API.",
    checks={
        "postgres": postgres_check(get_engine(settings.loyalty_database_url)),
        "redis": redis_check(get_redis(settings.redis_url)),
    },
)
app.include_router(buyer_router)
app.include_router(operator_router)
