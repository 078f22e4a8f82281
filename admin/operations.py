"""Operator actions that are not a table: the generator and applying a code for users."""

import uuid
from typing import Any

from sqladmin import BaseView, expose
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from admin.views import actor, validated
from core.config import get_settings
from core.errors import AppError
from loyalty import handlers
from loyalty.domain.enums import DiscountType
from loyalty.read.batch_csv import batch_csv_lines
from loyalty.read.postgres import read_only_engine
from loyalty.schemas import ApplyToUsersOut, ApplyToUsersRequest, BatchOut, GenerateRequest


def _ids(text: str, kind: type) -> list[Any]:
    return [kind(part) for part in text.replace(",", " ").split()]


class OperationsView(BaseView):
    name = "Generator & apply"
    icon = "fa-solid fa-wand-magic-sparkles"

    async def _page(self, request: Request, **context: Any) -> Response:
        context.setdefault("discount_types", [t.value for t in DiscountType])
        return await self.templates.TemplateResponse(request, "operations.html", context)

    # One exposed route: SQLAdmin names a base view after its exposed function, and the
    # menu links to it; the form says which operation it is (`op`).
    @expose("/operations", methods=["GET", "POST"], identity="operations")
    async def operations(self, request: Request) -> Response:
        if request.method == "GET":
            if batch_id := request.query_params.get("batch_csv"):
                return await self.batch_csv(uuid.UUID(batch_id))
            return await self._page(request)
        form = dict(await request.form())
        try:
            if form.get("op") == "generate":
                return await self._page(request, batch=await self.generate(request, form))
            dry_run = form.get("dry_run") == "on"
            applied = await self.apply(request, form, dry_run)
            return await self._page(request, applied=applied, dry_run=dry_run)
        except (AppError, ValueError) as exc:
            return await self._page(request, error=str(exc))

    async def generate(self, request: Request, form: dict[str, Any]) -> BatchOut:
        form["tariff_ids"] = _ids(str(form.get("tariff_ids", "")), int)
        return await handlers.generate_promocodes(
            validated(GenerateRequest, form), actor_id=actor(request)
        )

    async def apply(self, request: Request, form: dict[str, Any], dry_run: bool) -> ApplyToUsersOut:
        body = validated(
            ApplyToUsersRequest,
            {
                "user_ids": _ids(str(form.get("user_ids", "")), uuid.UUID),
                "tariff_id": form.get("tariff_id"),
                "dry_run": dry_run,
            },
        )
        return await handlers.apply_to_users(
            int(str(form.get("promocode_id"))), body, actor_id=actor(request)
        )

    async def batch_csv(self, batch_id: uuid.UUID) -> Response:
        """The same CSV as query_api's download."""
        engine = read_only_engine(get_settings().loyalty_database_url)
        return StreamingResponse(
            batch_csv_lines(engine, batch_id),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="batch-{batch_id}.csv"'},
        )
