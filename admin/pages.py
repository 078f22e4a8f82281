"""The console's own pages: dashboard, users (search by id or email, bulk targeting), a
user's page, a code's page, a group's page and the event pipeline.

Views stay thin: read with `admin.repository`, write with `loyalty.handlers` (the same
rules and events as command_api), answer with a template. A change is always a POST (the
CSRF middleware has checked its token before the view runs) followed by a redirect to a
page that shows its outcome.
"""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqladmin import BaseView, expose
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from admin import formatting, people, pipeline
from admin import repository as repo
from admin.auth import current_operator
from admin.notices import notify
from core.config import get_settings
from core.errors import ERROR_CODES, AppError
from core.redis import get_redis
from loyalty import handlers
from loyalty.domain import rules
from loyalty.domain.enums import UserStatus
from loyalty.read.postgres import AttemptFilter, attempts
from loyalty.schemas import AssignmentRequest, MembersRequest

# Where the buyer is told less than the operator may know (API.md: a code assigned to others
# answers `promocode_not_found`), the operator reads what really happened.
OPERATOR_WORDS = {
    "promocode_not_assigned": "The code is only for assigned users and groups, and this user "
    "is not one of them (the buyer was told: no such promo code)",
}


def reason_words(code: str) -> str:
    """A rejection reason's code in plain words (the message its error class carries)."""
    if code in OPERATOR_WORDS:
        return OPERATOR_WORDS[code]
    error = ERROR_CODES.get(code)
    return error.message if error else code.replace("_", " ")


def user_ids_of(form: FormData) -> list[uuid.UUID]:
    """The users ticked in a picker (`user_ids` checkboxes or one `user_id`)."""
    ids = []
    for raw in [*form.getlist("user_ids"), *form.getlist("user_id")]:
        try:
            ids.append(uuid.UUID(str(raw).strip()))
        except ValueError:
            raise ValueError(f"'{raw}' is not a user id") from None
    return ids


def int_of(form: FormData, name: str, what: str) -> int:
    raw = str(form.get(name) or "").strip()
    if not raw.isdigit():
        raise ValueError(f"choose {what}")
    return int(raw)


def back_to(request: Request, form: FormData, default: str) -> str:
    """Where to go after a change: the page it came from (admin pages only)."""
    back = str(form.get("back") or "")
    base = str(request.url_for("admin:index")).rstrip("/")
    return back if back.startswith(f"{base}/") or back.startswith("/admin/") else default


async def do_change(
    request: Request, change: Callable[[FormData], Awaitable[str]], default: str
) -> Response:
    """Runs one change and sends the browser back with its outcome in plain words."""
    form = await request.form()
    try:
        notify(request, await change(form))
    except (AppError, ValueError) as exc:
        notify(request, str(exc), ok=False)
    return RedirectResponse(back_to(request, form, default), status_code=303)


async def pipeline_health() -> dict[str, Any]:
    """The outbox backlog and each stream's figures (the dashboard and the pipeline page)."""
    async with repo.connection() as conn:
        backlog = await repo.outbox_backlog(conn)
    return {"backlog": backlog, "streams": await repo.streams(get_redis(get_settings().redis_url))}


async def render(
    templates: Jinja2Templates, request: Request, template: str, **context: Any
) -> Response:
    context.setdefault("reason_words", reason_words)
    return await templates.TemplateResponse(request, template, context)


async def dashboard(templates: Jinja2Templates, request: Request) -> Response:
    """The landing page: today's uses and failures, top codes, failures by reason, and the
    pipeline's health."""
    async with repo.connection() as conn:
        today = await repo.today(conn)
    health = await pipeline_health()
    return await render(
        templates, request, "dashboard.html", title="Dashboard", today=today, **health
    )


def console_route(path: str, identity: str) -> Callable:
    """The route of a ConsolePage at `path`: GET shows it (`show`), a POST runs one change
    (`change`) and comes back to it with the outcome (`do_change`)."""

    @expose(path, methods=["GET", "POST"], identity=identity)
    async def serve(self: "ConsolePage", request: Request) -> Response:
        params = request.path_params
        here = str(request.url_for(f"admin:view-{identity}", **params))
        if request.method == "POST":
            return await do_change(request, lambda form: self.change(request, form, **params), here)
        return await self.show(request, here, **params)

    return serve


class ConsolePage(BaseView):
    """A page whose route is `console_route`'s: `show` answers GET, `change` a POST (the
    page's path parameters given to both)."""

    async def show(self, request: Request, here: str, **path: Any) -> Response:
        raise NotImplementedError

    async def change(self, request: Request, form: FormData, **path: Any) -> str:
        raise NotImplementedError

    async def page(self, request: Request, template: str, **context: Any) -> Response:
        return await render(self.templates, request, template, **context)

    async def not_found(self, request: Request, what: str) -> Response:
        return await self.templates.TemplateResponse(
            request, "not_found.html", {"what": what, "title": f"No such {what}"}, status_code=404
        )


class PageView(ConsolePage):
    """A page reached from links, not from the menu."""

    def is_visible(self, request: Request) -> bool:
        return False


class UsersView(ConsolePage):
    name = "Users"
    icon = "fa-solid fa-user"

    users = console_route("/users", "users")

    async def show(self, request: Request, here: str) -> Response:
        """Find users by id or email; assign a code to the ticked ones, add them to a group,
        or go on to apply a code for them."""
        query = request.query_params.get("q", "")
        status = request.query_params.get("status", "")
        async with repo.connection() as conn:
            codes = await repo.code_choices(conn)
            groups = await repo.group_choices(conn)
            tariffs = await repo.tariff_choices(conn)
        return await self.page(
            request,
            "users.html",
            title="Users",
            query=query,
            status=status,
            statuses=[s.value for s in UserStatus],
            users=await people.user_search(request, query, status),
            codes=codes,
            groups=groups,
            tariffs=tariffs,
            back=str(request.url),
        )

    async def change(self, request: Request, form: FormData) -> str:
        ids = user_ids_of(form)
        if not ids:
            raise ValueError("tick at least one user")
        actor_id = current_operator(request).user_id
        if form.get("op") == "add_to_group":
            group_id = int_of(form, "group_id", "a group")
            out = await handlers.add_group_members(
                group_id, MembersRequest(user_ids=ids), actor_id=actor_id
            )
            return f"{len(out.user_ids)} user(s) added to the group ({len(ids)} ticked)"
        promocode_id = int_of(form, "promocode_id", "a code")
        out = await handlers.assign_promocode(
            promocode_id, AssignmentRequest(user_ids=ids), actor_id=actor_id
        )
        return f"Code assigned to {len(out.user_ids)} user(s) ({len(ids)} ticked)"


class UserPage(PageView):
    name = "User"

    @expose("/users/{user_id}", methods=["GET"], identity="user-page")
    async def user_page(self, request: Request) -> Response:
        """A user's groups, codes, purchases and failed attempts."""
        try:
            user_id = uuid.UUID(request.path_params["user_id"])
        except ValueError:
            return await self.not_found(request, "user")
        async with repo.connection() as conn:
            user = await repo.user(conn, user_id)
            if user is None:
                return await self.not_found(request, "user")
            context = {
                "groups": await repo.groups_of(conn, user_id),
                "codes": await repo.codes_of(conn, user_id),
                "purchases": await repo.purchases(conn, user_id=user_id),
                "attempts": await attempts(conn, AttemptFilter(user_id=user_id)),
                "tariff_names": await repo.tariff_names(conn),
                "code_choices": await repo.code_choices(conn),
                "group_choices": await repo.group_choices(conn),
            }
        email = (await people.emails(request, [user_id])).get(user_id, "")
        return await self.page(
            request,
            "user.html",
            title=email or str(user_id),
            user=user,
            email=email,
            back=str(request.url),
            **context,
        )


class CodePage(PageView):
    name = "Promo code"

    code_page = console_route("/codes/{promocode_id:int}", "code-page")

    async def show(self, request: Request, here: str, promocode_id: int) -> Response:
        """A code's terms in words, uses, purchases, assignments, failures by reason and per
        day; assign it to users and groups, or remove an assignment."""
        query = request.query_params.get("q", "")
        async with repo.connection() as conn:
            code = await repo.code(conn, promocode_id)
            if code is None:
                return await self.not_found(request, "promo code")
            names = await repo.tariff_names(conn)
            days = await repo.per_day(conn, promocode_id, code["code"])
            context = {
                "assignments": await repo.assignments(conn, promocode_id),
                "purchases": await repo.purchases(conn, promocode_id=promocode_id),
                "failures": await repo.failures_by_reason(
                    conn, promocode_id=promocode_id, code_text=code["code"]
                ),
                "group_choices": await repo.group_choices(conn),
                "tariffs": await repo.tariff_choices(conn),
            }
        assigned_users = [a["user_id"] for a in context["assignments"] if a["user_id"]]
        assigned_users += [p["user_id"] for p in context["purchases"]]
        return await self.page(
            request,
            "code.html",
            title=f"Promo code {code['code']}",
            code=code,
            terms=formatting.terms(_Obj(code), names),
            uses_left=rules.uses_left(code["max_uses"], code["uses"]),
            days=days,
            day_max=max([1, *(max(d.uses, d.failures) for d in days)]),
            emails=await people.emails(request, assigned_users),
            query=query,
            found=await people.user_search(request, query) if query else [],
            back=here,
            **context,
        )

    async def change(self, request: Request, form: FormData, promocode_id: int) -> str:
        actor_id = current_operator(request).user_id
        op = form.get("op")
        if op == "unassign":
            body = AssignmentRequest(
                user_ids=user_ids_of(form),
                group_ids=[int(g) for g in form.getlist("group_id") if str(g).isdigit()],
            )
            out = await handlers.unassign_promocode(promocode_id, body, actor_id=actor_id)
            return f"Removed {len(out.user_ids) + len(out.group_ids)} assignment(s)"
        if op == "assign_group":
            group_id = int_of(form, "group_id", "a group")
            out = await handlers.assign_promocode(
                promocode_id, AssignmentRequest(group_ids=[group_id]), actor_id=actor_id
            )
            return "Assigned to the group" if out.group_ids else "The group already had it"
        ids = user_ids_of(form)
        if not ids:
            raise ValueError("tick at least one user")
        out = await handlers.assign_promocode(
            promocode_id, AssignmentRequest(user_ids=ids), actor_id=actor_id
        )
        return f"Assigned to {len(out.user_ids)} user(s) ({len(ids)} ticked)"


class GroupPage(PageView):
    name = "Group"

    group_page = console_route("/groups/{group_id:int}", "group-page")

    async def show(self, request: Request, here: str, group_id: int) -> Response:
        """A group's members (remove with a tick, add from a user search)."""
        query = request.query_params.get("q", "")
        async with repo.connection() as conn:
            group = await repo.group(conn, group_id)
            if group is None:
                return await self.not_found(request, "group")
            members = await repo.members(conn, group_id)
            count = await repo.member_count(conn, group_id)
        return await self.page(
            request,
            "group.html",
            title=f"Group {group['name']}",
            group=group,
            members=members,
            count=count,
            emails=await people.emails(request, [m["user_id"] for m in members]),
            query=query,
            found=await people.user_search(request, query) if query else [],
            back=here,
        )

    async def change(self, request: Request, form: FormData, group_id: int) -> str:
        ids = user_ids_of(form)
        if not ids:
            raise ValueError("tick at least one user")
        actor_id = current_operator(request).user_id
        body = MembersRequest(user_ids=ids)
        if form.get("op") == "remove":
            out = await handlers.remove_group_members(group_id, body, actor_id=actor_id)
            return f"{len(out.user_ids)} member(s) removed"
        out = await handlers.add_group_members(group_id, body, actor_id=actor_id)
        return f"{len(out.user_ids)} member(s) added ({len(ids)} ticked)"


class PipelineView(ConsolePage):
    name = "Event pipeline"
    icon = "fa-solid fa-diagram-project"

    pipeline_page = console_route("/pipeline", "pipeline")

    async def show(self, request: Request, here: str) -> Response:
        """Outbox backlog, stream lengths, consumer groups (lag, pending), dead letters; a
        dead letter can be put back on its stream (`change`)."""
        letters = await repo.dead_letters(get_redis(get_settings().redis_url))
        return await self.page(
            request,
            "pipeline.html",
            title="Event pipeline",
            dead_letters=letters,
            **await pipeline_health(),
        )

    async def change(self, request: Request, form: FormData) -> str:
        """Replays a dead letter."""
        stream, entry_id = str(form.get("stream")), str(form.get("entry_id"))
        redis = get_redis(get_settings().redis_url)
        new_id = await pipeline.replay_dead_letter(redis, stream, entry_id)
        return f"Dead letter {entry_id} put back on {stream} as {new_id}"


class BatchPage(PageView):
    name = "Generated batch"

    @expose("/batches/{batch_id}", methods=["GET"], identity="batch-page")
    async def batch_page(self, request: Request) -> Response:
        """A generated batch: its terms, how many of its codes were used, its codes a page at
        a time (most used first) and its CSV."""
        try:
            batch_id = uuid.UUID(request.path_params["batch_id"])
        except ValueError:
            return await self.not_found(request, "batch")
        page = max(1, int_or(request.query_params.get("page"), 1))
        async with repo.connection() as conn:
            batch = await repo.batch(conn, batch_id)
            if batch is None:
                return await self.not_found(request, "batch")
            usage = await repo.batch_usage(conn, batch_id)
            codes = await repo.batch_codes(
                conn, batch_id, offset=(page - 1) * BATCH_PAGE, limit=BATCH_PAGE
            )
            names = await repo.tariff_names(conn)
        first = codes[0] if codes else None
        return await self.page(
            request,
            "batch.html",
            title=f"Generated batch of {usage.codes} codes",
            batch=batch,
            usage=usage,
            codes=codes,
            terms=formatting.terms(_Obj(first), names, batch=True) if first else [],
            page=page,
            pages=max(1, -(-usage.codes // BATCH_PAGE)),
        )


BATCH_PAGE = 50


def int_or(raw: str | None, default: int) -> int:
    return int(raw) if raw and raw.isdigit() else default


class _Obj:
    """A row's mapping read by attribute (what `formatting.terms` reads)."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.__dict__.update(row)


BASE_VIEWS = [UsersView, PipelineView, UserPage, CodePage, GroupPage, BatchPage]
