"""Operator actions that are not a table: the generator and applying a code for users.

Apply is two steps: a dry run that previews who would get a paid purchase at what price
(written nowhere), then the confirmed run, which creates the purchases as paid; its outcome
is one message: applied to all, to some (and why not the others), or to none (and why).
"""

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqladmin import BaseView, expose
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from admin import formatting, people
from admin import repository as repo
from admin.problems import FormProblems, in_field
from admin.views import actor, joint_problems, validated
from core.config import get_settings
from core.errors import AppError
from loyalty import handlers
from loyalty.domain.enums import DiscountType
from loyalty.read.batch_csv import batch_csv_lines
from loyalty.read.postgres import read_only_engine
from loyalty.schemas import ApplyToUsersOut, ApplyToUsersRequest, BatchOut, GenerateRequest


def _user_ids(form: FormData) -> list[str]:
    """Ticked users (`user_ids`) and pasted ones (`user_ids_text`, one per line or comma)."""
    pasted = str(form.get("user_ids_text") or "").replace(",", " ").split()
    return list(dict.fromkeys([*map(str, form.getlist("user_ids")), *pasted]))


@dataclass
class Outcome:
    level: str  # success | warning | danger
    text: str


def outcome(result: ApplyToUsersOut, code: str) -> Outcome:
    asked = len(result.applied) + len(result.rejected)
    reasons = Counter(r.reason for r in result.rejected)
    why = ", ".join(f"{reason} ({n})" for reason, n in reasons.most_common())
    if not result.rejected:
        return Outcome("success", f"{code}: applied to all {asked} user(s); paid purchases made")
    if result.applied:
        return Outcome(
            "warning",
            f"{code}: applied to {len(result.applied)} of {asked} user(s); not applied: {why}",
        )
    return Outcome("danger", f"{code}: applied to nobody: {why}")


class OperationsView(BaseView):
    name = "Generator & apply"
    icon = "fa-solid fa-wand-magic-sparkles"

    async def _page(self, request: Request, **context: Any) -> Response:
        async with repo.connection() as conn:
            context.setdefault("codes", await repo.code_choices(conn))
            context.setdefault("tariffs", await repo.tariff_choices(conn))
        context.setdefault("discount_types", [t.value for t in DiscountType])
        context.setdefault("form", {})
        context.setdefault("problems", {})
        context.setdefault("title", "Generator & apply")
        status = 400 if context.get("error") else 200
        return await self.templates.TemplateResponse(
            request, "operations.html", context, status_code=status
        )

    # One exposed route: SQLAdmin names a base view after its exposed function, and the
    # menu links to it; the form says which operation it is (`op`).
    @expose("/operations", methods=["GET", "POST"], identity="operations")
    async def operations(self, request: Request) -> Response:
        if request.method == "GET":
            if batch_id := request.query_params.get("batch_csv"):
                return await self.batch_csv(uuid.UUID(batch_id))
            return await self._page(request)
        form = await request.form()
        kept = {k: v for k, v in form.items() if k != "csrf_token"}
        try:
            if form.get("op") == "generate":
                return await self._page(request, batch=await self.generate(request, form))
            return await self.apply(request, form)
        except (AppError, ValueError) as exc:
            problems = FormProblems.caught(exc)
        return await self._page(request, error=str(problems), problems=problems.problems, form=kept)

    async def generate(self, request: Request, form: FormData) -> BatchOut:
        data: dict[str, Any] = {k: v for k, v in form.items() if k != "tariff_ids"}
        data["tariff_ids"] = form.getlist("tariff_ids")
        with in_field("value"):
            data["value"] = formatting.value_from_form(data.get("discount_type"), data.get("value"))
        joint_problems(data)
        return await handlers.generate_promocodes(
            validated(GenerateRequest, data), actor_id=actor(request)
        )

    async def apply(self, request: Request, form: FormData) -> Response:
        """Without `confirm`: the dry run (a preview). With it: the real run."""
        promocode_id = str(form.get("promocode_id") or "")
        if not promocode_id.isdigit():
            raise FormProblems.of("promocode_id", "choose a code")
        confirmed = form.get("confirm") == "yes"
        body = validated(
            ApplyToUsersRequest,
            {
                "user_ids": _user_ids(form),
                "tariff_id": form.get("tariff_id"),
                "dry_run": not confirmed,
            },
        )
        result = await handlers.apply_to_users(int(promocode_id), body, actor_id=actor(request))
        async with repo.connection() as conn:
            code = await repo.code(conn, result.promocode_id)
            tariffs = {t["id"]: t for t in await repo.tariff_choices(conn)}
        emails = await people.emails(
            request,
            [*map(lambda a: a.user_id, result.applied), *map(lambda r: r.user_id, result.rejected)],
        )
        return await self._page(
            request,
            applied=result,
            code=code,
            tariff=tariffs[result.tariff_id],
            emails=emails,
            outcome=None if result.dry_run else outcome(result, code["code"]),
            form={k: v for k, v in form.items() if k not in ("csrf_token", "user_ids")},
        )

    async def batch_csv(self, batch_id: uuid.UUID) -> Response:
        """The same CSV as query_api's download."""
        engine = read_only_engine(get_settings().loyalty_database_url)
        return StreamingResponse(
            batch_csv_lines(engine, batch_id),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="batch-{batch_id}.csv"'},
        )
