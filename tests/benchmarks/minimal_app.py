"""The ceiling `get_active_promocodes` is measured against: a FastAPI endpoint that checks a
bearer token (signature, claims, revocation) and answers bytes from one Redis GET, nothing
else. Only the read benchmark runs it."""

from fastapi import FastAPI, Request
from fastapi.responses import Response

from core.config import get_settings
from core.redis import get_redis
from core.security import bearer_token, verify_access_token

KEY = "bench:minimal:body"

app = FastAPI()


@app.get("/minimal")
async def minimal(request: Request) -> Response:
    settings = get_settings()
    redis = get_redis(settings.redis_url)
    await verify_access_token(bearer_token(request), settings, redis)
    return Response(await redis.get(KEY) or b"[]", media_type="application/json")
