from core.app import create_app
from core.config import get_settings
from core.db import get_engine
from core.health import postgres_check, redis_check
from core.redis import get_redis
from query_api.routes import router

settings = get_settings()
app = create_app(
    "query_api",
    title="Loyalty query API",
    description="Every read of the loyalty domain, served from Redis read models.",
    checks={
        "redis": redis_check(get_redis(settings.redis_url)),
        "postgres": postgres_check(get_engine(settings.loyalty_database_url)),
    },
)
app.include_router(router)
