"""Dependencies of query_api routes."""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends

from core.config import get_settings
from core.redis import get_redis
from loyalty.read.postgres import read_only_engine
from query_api.queries import ReadSide


@lru_cache
def get_read_side() -> ReadSide:
    settings = get_settings()
    return ReadSide(get_redis(settings.redis_url), read_only_engine(settings.loyalty_database_url))


async def read_side() -> ReadSide:
    """`async def`: FastAPI would run a plain `def` dependency in a worker thread."""
    return get_read_side()


ReadSideDep = Annotated[ReadSide, Depends(read_side)]
