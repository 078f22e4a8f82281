"""An HTTP client that calls an app in-process (no server, no port)."""

import httpx
import pytest
from fastapi import FastAPI


def asgi_client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app")


def client_fixture(app: FastAPI):
    """A `client` fixture for a test module: `client = client_fixture(app)`."""

    @pytest.fixture
    async def client():
        async with asgi_client(app) as c:
            yield c

    return client


def without_request_id(body: dict) -> dict:
    """An error body without `details.request_id`, which differs from answer to answer."""
    error = body["error"]
    details = {k: v for k, v in error["details"].items() if k != "request_id"}
    return {"error": {**error, "details": details}}


async def every_page(client: httpx.AsyncClient, url: str, headers: dict) -> list:
    """A paginated JSON array, following each `Link: <...>; rel="next"` to the end."""
    items: list = []
    while url:
        response = await client.get(url, headers=headers)
        assert response.status_code == 200, response.text
        items += response.json()
        url = response.links.get("next", {}).get("url")
    return items
