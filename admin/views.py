"""SQLAdmin screens. Reads come straight from the tables; every write goes through the same
handlers as command_api (`loyalty.handlers`), so the admin obeys the same rules and emits the
same events. Codes and tariffs are never deleted (a code is disabled); group members and
assignments are removed.

Money is shown and typed in roubles, moments to the minute in UTC, saying so, and typed in
UTC (`admin.formatting`); a problem reaches the form as a plain message under the field it
concerns (`admin.problems`), the form keeping what was typed.
"""

import functools
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import datetime
from typing import Any, TypeVar, get_args

from markupsafe import Markup, escape
from pydantic import BaseModel, ValidationError
from sqladmin import ModelView, action
from sqladmin.ajax import QueryAjaxModelLoader
from sqladmin.fields import AjaxSelectMultipleField
from sqladmin.filters import AllUniqueStringValuesFilter, BooleanFilter, StaticValuesFilter
from sqladmin.formatters import BASE_FORMATTERS
from sqladmin.helpers import object_identifier_values
from sqlalchemy import Select, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from wtforms import BooleanField, Form, SelectField, SelectMultipleField, StringField
from wtforms.validators import InputRequired, Optional, StopValidation

from admin import formatting, people
from admin import repository as repo
from admin.auth import current_operator
from admin.filters import BatchFilter, SinceFilter, ValidityFilter
from admin.notices import notify
from admin.problems import FormProblems, in_field, remember
from admin.warnings import never_discounts
from core.errors import AppError
from loyalty import handlers
from loyalty.domain import rules
from loyalty.domain.enums import Audience, DiscountType
from loyalty.models import (
    GroupMember,
    Promocode,
    PromocodeAssignment,
    PromocodeAttempt,
    PromocodeBatch,
    Purchase,
    Tariff,
    User,
    UserGroup,
)
from loyalty.schemas import (
    AssignmentRequest,
    GroupCreate,
    MembersRequest,
    PromocodeCreate,
    PromocodeTerms,
    PromocodeUpdate,
    TariffCreate,
    TariffUpdate,
)

T = TypeVar("T", bound=BaseModel)


def validated(schema: type[T], data: dict[str, Any]) -> T:
    """The form's values as the handler's input: only the schema's fields; a blank field is
    None where the schema allows it (e.g. no end date) and the schema's default otherwise.
    Problems come out as FormProblems, each under its field."""
    values = {}
    for name, value in data.items():
        field = schema.model_fields.get(name)
        if field is None:
            continue
        if value == "" or value is None:
            if type(None) not in get_args(field.annotation):
                continue
            value = None
        values[name] = value
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        raise FormProblems.from_validation(exc) from None


def actor(request: Request) -> uuid.UUID:
    return current_operator(request).user_id


# -- list cells ---------------------------------------------------------------------------


# The names behind the ids of the list page being shown (ConsoleView.list reads them).
listed_names: ContextVar[repo.ListedNames] = ContextVar("listed_names")


def _name(kind: str, key: Any) -> str | None:
    names = listed_names.get(None)
    return getattr(names, kind).get(key) if names and key is not None else None


def user_cell(model: Any, attribute: str) -> Markup:
    value = getattr(model, attribute)
    if value is None:
        return Markup("")
    return Markup('<a href="/admin/users/{}">{}</a>').format(value, value)


def code_cell(model: Any, attribute: str) -> Markup:
    code_id = model.id if isinstance(model, Promocode) else model.promocode_id
    text = getattr(model, attribute)
    if code_id is None:
        return escape(text or "")
    if attribute == "promocode_id":
        text = _name("codes", code_id)
    return Markup('<a href="/admin/codes/{}">{}</a>').format(code_id, text or f"#{code_id}")


def group_cell(model: Any, attribute: str) -> Markup:
    group_id = model.id if isinstance(model, UserGroup) else getattr(model, "group_id", None)
    if group_id is None:
        return Markup("")
    text = getattr(model, attribute)
    if attribute == "group_id":
        text = _name("groups", group_id) or f"#{group_id}"
    return Markup('<a href="/admin/groups/{}">{}</a>').format(group_id, text)


def tariff_cell(model: Any, attribute: str) -> str:
    tariff_id = getattr(model, attribute)
    if tariff_id is None:
        return ""
    return _name("tariffs", tariff_id) or f"#{tariff_id}"


def money_cell(model: Any, attribute: str) -> str:
    return formatting.roubles(getattr(model, attribute), getattr(model, "currency", "RUB"))


TYPE_FORMATTERS = {**BASE_FORMATTERS, datetime: formatting.moment}
LIST_TYPE_FORMATTERS = {**BASE_FORMATTERS, datetime: formatting.moment_cell}

# A column is shown by what it holds, on every screen alike: a user id links to the user's
# page, a code to the code's page, a group to the group's page, money in roubles.
CELLS_BY_NAME = {
    "user_id": user_cell,
    "promocode_id": code_cell,
    "code": code_cell,
    "group_id": group_cell,
    "tariff_id": tariff_cell,
    "price": money_cell,
    "base_price": money_cell,
    "discount": money_cell,
    "final_price": money_cell,
}


class ConsoleView(ModelView):
    """What every screen shares: cells by what they hold (CELLS_BY_NAME), moments to the
    minute with their zone, Export of what the search and filters show, and problems under
    the form's fields."""

    column_type_formatters = LIST_TYPE_FORMATTERS
    column_type_formatters_detail = TYPE_FORMATTERS
    page_size = 50
    save_as_continue = False
    create_template = "console_create.html"
    edit_template = "console_edit.html"

    def __init__(self) -> None:
        super().__init__()
        cells = {name: CELLS_BY_NAME[name] for name in self._prop_names if name in CELLS_BY_NAME}
        self._list_formatters = {**cells, **self._list_formatters}
        self._detail_formatters = {**cells, **self._detail_formatters}

    async def filtered_query(self, request: Request) -> Select:
        """The list's query with its search, filters and sort (what the screen shows)."""
        stmt = self.list_query(request)
        for filter_ in self.get_filters():
            value = request.query_params.get(filter_.parameter_name)
            if value and not getattr(filter_, "has_operator", False):
                stmt = await filter_.get_filtered_query(stmt, value, self.model)
        stmt = self.sort_query(stmt, request)
        if search := request.query_params.get("search"):
            stmt = self.search_query(stmt=stmt, term=search)
        return stmt

    async def get_model_objects(self, request: Request, limit: int | None = 0) -> list[Any]:
        """Export: exactly the rows the search and filters select."""
        stmt = await self.filtered_query(request)
        return await self._run_query(stmt.limit(limit or None))

    # Last in the class body: from here on its name hides the builtin `list`.
    async def list(self, request: Request) -> Any:
        """One page of the list, with the names of the groups, tariffs and codes it shows."""
        page = await super().list(request)

        def ids(attribute: str) -> set[int]:
            return {v for row in page.rows if (v := getattr(row, attribute, None)) is not None}

        if {"group_id", "tariff_id", "promocode_id"} & set(self._prop_names):
            async with repo.connection() as conn:
                names = await repo.names_of(
                    conn, ids("group_id"), ids("tariff_id"), ids("promocode_id")
                )
            listed_names.set(names)
        return page


class RecordView(ConsoleView):
    """A record of what happened (purchases, failed attempts, generated batches): read-only
    and exportable, when it happened first and newest first, filtered by day ("When")."""

    can_create = False
    can_edit = False
    can_delete = False
    can_export = True
    column_default_sort = ("created_at", True)

    def get_list_columns(self) -> list[str]:
        return ["created_at", *(c for c in super().get_list_columns() if c != "created_at")]

    def get_filters(self) -> list[Any]:
        return [*super().get_filters(), SinceFilter(self.model.created_at)]


def form_errors(func: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """A domain or input error of `insert_model`/`update_model` as plain messages under the
    fields they concern (`admin.problems`); SQLAdmin shows the form again as typed."""

    @functools.wraps(func)
    async def wrapper(self: ModelView, request: Request, *args: Any) -> Any:
        try:
            return await func(self, request, *args)
        except (AppError, ValueError) as exc:
            problems = FormProblems.caught(exc)
        remember(request, problems)
        raise problems

    return wrapper


# -- tariffs ------------------------------------------------------------------------------


class TariffAdmin(ConsoleView, model=Tariff):
    name = "Tariff"
    icon = "fa-solid fa-tags"
    column_list = [Tariff.id, Tariff.name, Tariff.price, Tariff.currency, Tariff.is_active]
    column_labels = {Tariff.price: "price, ₽"}
    column_searchable_list = [Tariff.name]
    column_default_sort = (Tariff.id, True)
    form_columns = [Tariff.name, Tariff.price, Tariff.currency, Tariff.is_active]
    form_overrides = {"price": StringField}
    form_args = {
        "price": {
            "label": "Price, roubles",
            "description": "e.g. 479.20",
            "validators": [InputRequired()],
        }
    }
    can_delete = False

    async def get_object_for_edit(self, request: Request) -> Any:
        tariff = await super().get_object_for_edit(request)
        if tariff is not None and isinstance(tariff.price, int):
            tariff.price = f"{tariff.price / 100:.2f}"  # shown in roubles; written by the handler
        return tariff

    @form_errors
    async def insert_model(self, request: Request, data: dict) -> Any:
        with in_field("price"):
            data = {**data, "price": formatting.parse_roubles(data.get("price"))}
        out = await handlers.create_tariff(validated(TariffCreate, data), actor_id=actor(request))
        return Tariff(id=out.id)

    @form_errors
    async def update_model(self, request: Request, pk: str, data: dict) -> Any:
        with in_field("price"):
            data = {**data, "price": formatting.parse_roubles(data.get("price"))}
        out = await handlers.update_tariff(
            int(pk), validated(TariffUpdate, data), actor_id=actor(request)
        )
        return Tariff(id=out.id)


# -- promo codes --------------------------------------------------------------------------


def terms_cell(model: Any, attribute: str) -> str:
    return formatting.discount_words(model.discount_type, model.value)


def confirmed(message: str, label: str) -> Callable:
    """An SQLAdmin action as two steps: GET shows what it will do and a POST form (with the
    CSRF token); only the POST changes anything. A GET, e.g. an <img> planted elsewhere,
    changes nothing."""

    def decorate(func: Callable[[Any, Request, list[str]], Awaitable[Response]]) -> Callable:
        @functools.wraps(func)
        async def wrapper(self: ModelView, request: Request) -> Response:
            if request.method != "POST":
                pks = [p for p in request.query_params.get("pks", "").split(",") if p]
                items = await self.describe(pks)
                return await self.templates.TemplateResponse(
                    request,
                    "confirm.html",
                    {
                        "title": f"{label}: please confirm",
                        "message": message,
                        "label": label,
                        "pks": pks,
                        "items": items,
                        "action_url": request.url.remove_query_params("pks"),
                        "back": request.url_for("admin:list", identity=self.identity),
                    },
                )
            form = await request.form()
            pks = [p for p in str(form.get("pks", "")).split(",") if p]
            return await func(self, request, pks)

        return wrapper

    return decorate


def joint_problems(terms: dict) -> None:
    """The terms' rules that join two fields (the schema checks them for the whole body, so
    without a field), said under the field an operator changes to mend them."""
    problems = {}
    known_type = terms.get("discount_type") in set(DiscountType)
    if known_type and (problem := rules.value_problem(terms["discount_type"], terms["value"])):
        problems["value"] = [problem]
    window = terms.get("valid_from"), terms.get("valid_until")
    if all(window) and rules.window_problem(*window):
        problems["valid_until"] = ["must be after Valid from"]
    if problems:
        raise FormProblems(problems)


# A code's terms are listed once (PromocodeTerms). The list shows those that fit a cell: the
# type within the terms' words, the use limit within the uses (a generated code's batch is on
# its page, and the Batch filter picks them).
NOT_LISTED = ("discount_type", "max_uses", "tariff_ids", "description")
LISTED_TERMS = [t for t in PromocodeTerms.model_fields if t not in NOT_LISTED]


def uses_cell(model: Any, attribute: str) -> str:
    return f"{model.uses} of {model.max_uses}" if model.max_uses is not None else str(model.uses)


class PromocodeAdmin(ConsoleView, model=Promocode):
    name = "Promo code"
    icon = "fa-solid fa-ticket"
    column_list = ["code", *LISTED_TERMS, "uses"]
    column_searchable_list = [Promocode.code]
    column_sortable_list = [Promocode.id, Promocode.code, Promocode.uses, Promocode.valid_until]
    column_default_sort = (Promocode.id, True)
    column_labels = {
        Promocode.value: "terms",
        Promocode.valid_from: "valid from",
        Promocode.valid_until: "valid until",
        Promocode.per_user_limit: "per user",
        Promocode.is_active: "active",
    }
    column_formatters = {
        Promocode.value: terms_cell,
        Promocode.uses: uses_cell,
    }
    column_filters = [
        StaticValuesFilter(Promocode.discount_type, [(t.value, t.value) for t in DiscountType]),
        StaticValuesFilter(Promocode.audience, [(a.value, a.value) for a in Audience]),
        BooleanFilter(Promocode.is_active),
        ValidityFilter(),
        BatchFilter(),
    ]
    form_columns = ["code", *PromocodeTerms.model_fields]
    # A code's text never changes after creation (customers may hold it): not on the edit
    # form; its page says so.
    form_edit_rules = list(PromocodeTerms.model_fields)
    form_overrides = {
        "discount_type": SelectField,
        "audience": SelectField,
        "value": StringField,
        "tariff_ids": SelectMultipleField,
    }
    form_args = {
        "code": {"description": "4 to 64 of A-Z, 0-9 and '-'; cannot be changed later"},
        "discount_type": {"choices": [t.value for t in DiscountType]},
        "value": {
            "label": "Value",
            "description": "percent: 1 to 100; amount and fixed price: roubles, e.g. 199.90; "
            "trial: days",
            "validators": [InputRequired()],
        },
        "audience": {"choices": [a.value for a in Audience]},
        "valid_from": {
            "label": "Valid from (UTC)",
            "validators": [Optional()],
            "description": "a moment in UTC, e.g. 2026-12-31 21:00:00 for midnight in Moscow; "
            "empty: now",
        },
        "valid_until": {
            "label": "Valid until (UTC)",
            "validators": [Optional()],
            "description": "a moment in UTC; empty: no end",
        },
        "max_uses": {"description": "empty: unlimited"},
        "per_user_limit": {"label": "Per user limit", "description": "empty: unlimited"},
        "is_active": {"label": "Active"},
        "tariff_ids": {
            "label": "Tariffs",
            "description": "none chosen: every tariff",
            "choices": [],
            "coerce": int,
            "validators": [Optional()],
        },
        "description": {"validators": [Optional()]},
    }
    can_delete = False  # used codes must stay; disable instead
    edit_template = "promocode_edit.html"

    async def scaffold_form(self, rules: list[str] | None = None) -> type[Form]:
        form = await super().scaffold_form(rules)
        async with self.session_maker() as session:
            tariffs = (await session.execute(select(Tariff.id, Tariff.name))).all()
        form.tariff_ids.kwargs["choices"] = [(t.id, t.name) for t in tariffs]
        form.valid_from.kwargs["validators"] = [Optional()]
        if not rules:  # the create form (the edit form lists its fields)
            form.create_anyway = BooleanField(
                "Create it anyway",
                description="only asked when the code could never give a discount",
            )
        return form

    async def get_object_for_edit(self, request: Request) -> Any:
        code = await super().get_object_for_edit(request)
        if code is not None and isinstance(code.value, int):
            code.value = formatting.value_for_form(code.discount_type, code.value)
        return code

    def _terms(self, data: dict) -> dict:
        data = dict(data)
        with in_field("value"):
            data["value"] = formatting.value_from_form(data.get("discount_type"), data.get("value"))
        data["tariff_ids"] = data.get("tariff_ids") or []
        joint_problems(data)
        return data

    @form_errors
    async def insert_model(self, request: Request, data: dict) -> Any:
        terms = validated(PromocodeCreate, self._terms(data))
        if not data.get("create_anyway"):
            async with self.session_maker() as session:
                prices = dict((await session.execute(select(Tariff.id, Tariff.price))).all())
            if why := never_discounts(terms, prices):
                raise FormProblems.of(
                    "create_anyway",
                    f"This code can never give a discount: {why}. Change it, or tick "
                    "'Create it anyway' to create it all the same.",
                )
        out = await handlers.create_promocode(terms, actor_id=actor(request))
        return Promocode(id=out.id)

    @form_errors
    async def update_model(self, request: Request, pk: str, data: dict) -> Any:
        data = {k: v for k, v in self._terms(data).items() if k != "code"}
        out = await handlers.update_promocode(
            int(pk), validated(PromocodeUpdate, data), actor_id=actor(request)
        )
        return Promocode(id=out.id)

    async def describe(self, pks: list[str]) -> list[str]:
        ids = [int(p) for p in pks if p.isdigit()]
        async with self.session_maker() as session:
            rows = (await session.execute(select(Promocode).where(Promocode.id.in_(ids)))).all()
        return [f"{c.code}: {formatting.discount_words(c.discount_type, c.value)}" for (c,) in rows]

    @action("disable", "Disable", add_in_detail=True)
    @confirmed("Disable these codes? Buyers can no longer use them.", "Disable")
    async def disable(self, request: Request, pks: list[str]) -> RedirectResponse:
        for pk in pks:
            await handlers.update_promocode(
                int(pk), PromocodeUpdate(is_active=False), actor_id=actor(request)
            )
        notify(request, f"{len(pks)} code(s) disabled")
        return RedirectResponse(request.url_for("admin:list", identity=self.identity), 303)


# -- groups and targeting -----------------------------------------------------------------


class GroupAdmin(ConsoleView, model=UserGroup):
    name = "User group"
    icon = "fa-solid fa-users"
    column_list = [UserGroup.id, UserGroup.name, UserGroup.description, UserGroup.created_at]
    column_default_sort = (UserGroup.id, True)  # the newest first, as on every list
    column_formatters = {UserGroup.name: group_cell}
    column_searchable_list = [UserGroup.name]
    form_columns = [UserGroup.name, UserGroup.description]
    form_args = {"description": {"validators": [Optional()]}}
    can_edit = False
    can_delete = False

    @form_errors
    async def insert_model(self, request: Request, data: dict) -> Any:
        out = await handlers.create_group(validated(GroupCreate, data), actor_id=actor(request))
        return UserGroup(id=out.id)


async def _group_choices(session_maker: Any) -> list[tuple[int, str]]:
    async with session_maker() as session:
        rows = (await session.execute(select(UserGroup.id, UserGroup.name).order_by("name"))).all()
    return [(r.id, r.name) for r in rows]


class UserLookup(QueryAjaxModelLoader):
    """The users picker's search as the operator types (SQLAdmin's ajax lookup): any part of
    an email (asked of auth, with the operator's token) or of an id, among all users."""

    def __init__(self, view: ModelView) -> None:
        super().__init__(USER_PICKER, User, view, fields=["id"])

    async def get_list(self, request: Request, term: str) -> list[dict[str, Any]]:
        return await people.user_search(request, term)

    def format(self, found: Any) -> dict[str, Any]:
        """A found user with their email; a value sent back after an error as its id."""
        if isinstance(found, dict):
            email = found["email"] or "(no email at auth)"
            return {"id": str(found["id"]), "text": f"{email}: {found['id']} ({found['status']})"}
        return {"id": str(found), "text": str(found)}


class UsersPicked(AjaxSelectMultipleField):
    """The ids the picker sent; each must be a user id (the handler checks it exists)."""

    def pre_validate(self, form: Form) -> None:
        for value in self.data or []:
            try:
                uuid.UUID(str(value))
            except ValueError:
                raise StopValidation(f"'{value}' is not a user id") from None


def users_picker(view: ModelView, validators: list) -> UsersPicked:
    return UsersPicked(
        view._form_ajax_refs[USER_PICKER],
        "Users",
        description=PICK_USERS,
        validators=validators,
        render_kw={**FULL_WIDTH, "placeholder": "type a part of an email or id"},
    )


class TargetingView(ConsoleView):
    """A create form with a users picker that searches all users as the operator types."""

    can_edit = False

    def __init__(self) -> None:
        super().__init__()
        self._form_ajax_refs[USER_PICKER] = UserLookup(self)


async def _code_choices(session_maker: Any, limit: int = 1000) -> list[tuple[int, str]]:
    async with session_maker() as session:
        rows = (
            await session.execute(
                select(Promocode.id, Promocode.code)
                .where(Promocode.batch_id.is_(None))
                .order_by(Promocode.id.desc())
                .limit(limit)
            )
        ).all()
    return [(r.id, r.code) for r in rows]


USER_PICKER = "user_ids"
# The console's own form fields look like SQLAdmin's (and a picker spans the form).
FULL_WIDTH = {"class": "form-control", "style": "width: 100%"}
PICK_USERS = "type at least 3 letters of an email, or a part of an id; pick one or more"


class GroupMemberAdmin(TargetingView, model=GroupMember):
    name = "Group member"
    icon = "fa-solid fa-user-plus"
    column_list = [GroupMember.group_id, GroupMember.user_id, GroupMember.added_at]
    column_searchable_list = [GroupMember.user_id]

    async def scaffold_form(self, rules: list[str] | None = None) -> type[Form]:
        groups = await _group_choices(self.session_maker)

        class MembersForm(Form):
            group_id = SelectField("Group", choices=groups, coerce=int, render_kw=FULL_WIDTH)
            user_ids = users_picker(self, [InputRequired("pick at least one user")])

        return MembersForm

    @form_errors
    async def insert_model(self, request: Request, data: dict) -> Any:
        group_id = int(data["group_id"])
        body = validated(MembersRequest, {"user_ids": list(data.get("user_ids") or [])})
        await handlers.add_group_members(group_id, body, actor_id=actor(request))
        return GroupMember(group_id=group_id, user_id=body.user_ids[0])

    async def delete_model(self, request: Request, pk: Any) -> None:
        group_id, user_id = object_identifier_values(pk, GroupMember)
        await handlers.remove_group_members(
            group_id, MembersRequest(user_ids=[user_id]), actor_id=actor(request)
        )


class AssignmentAdmin(TargetingView, model=PromocodeAssignment):
    name = "Assignment"
    icon = "fa-solid fa-link"
    column_list = "__all__"
    column_labels = {PromocodeAssignment.promocode_id: "code"}

    async def scaffold_form(self, rules: list[str] | None = None) -> type[Form]:
        codes = await _code_choices(self.session_maker)
        groups = await _group_choices(self.session_maker)

        class AssignForm(Form):
            promocode_id = SelectField("Code", choices=codes, coerce=int, render_kw=FULL_WIDTH)
            group_ids = SelectMultipleField(
                "Groups", choices=groups, coerce=int, validators=[Optional()], render_kw=FULL_WIDTH
            )
            user_ids = users_picker(self, [Optional()])

        return AssignForm

    @form_errors
    async def insert_model(self, request: Request, data: dict) -> Any:
        promocode_id = int(data["promocode_id"])
        body = validated(
            AssignmentRequest,
            {
                "user_ids": list(data.get("user_ids") or []),
                "group_ids": data.get("group_ids") or [],
            },
        )
        if not body.user_ids and not body.group_ids:
            raise ValueError("choose at least one user or group")
        await handlers.assign_promocode(promocode_id, body, actor_id=actor(request))
        return PromocodeAssignment(id=None, promocode_id=promocode_id)

    async def delete_model(self, request: Request, pk: Any) -> None:
        assignment = await self.get_object_for_delete(request, pk)
        await handlers.unassign_promocode(
            assignment.promocode_id,
            AssignmentRequest(
                user_ids=[assignment.user_id] if assignment.user_id else [],
                group_ids=[assignment.group_id] if assignment.group_id else [],
            ),
            actor_id=actor(request),
        )


# -- read-only ----------------------------------------------------------------------------


class PurchaseAdmin(RecordView, model=Purchase):
    name = "Purchase"
    icon = "fa-solid fa-cart-shopping"
    column_list = [
        Purchase.user_id,
        Purchase.tariff_id,
        Purchase.code,
        Purchase.status,
        Purchase.base_price,
        Purchase.discount,
        Purchase.final_price,
        Purchase.source,
        Purchase.cancel_reason,
    ]
    column_labels = {Purchase.final_price: "paid"}
    column_searchable_list = [Purchase.code, Purchase.user_id]
    column_filters = [
        AllUniqueStringValuesFilter(Purchase.status),
        AllUniqueStringValuesFilter(Purchase.source),
    ]


class AttemptAdmin(RecordView, model=PromocodeAttempt):
    name = "Failed attempt"
    icon = "fa-solid fa-circle-exclamation"
    column_exclude_list = [PromocodeAttempt.id, PromocodeAttempt.promocode_id]
    column_searchable_list = [
        PromocodeAttempt.code,
        PromocodeAttempt.reason,
        PromocodeAttempt.user_id,
    ]
    column_filters = [
        AllUniqueStringValuesFilter(PromocodeAttempt.reason),
        AllUniqueStringValuesFilter(PromocodeAttempt.endpoint),
    ]


def batch_cell(model: Any, attribute: str) -> Markup:
    """The batch's size, linking to its page (its codes, their usage and its CSV)."""
    return Markup('<a href="/admin/batches/{}">{} codes</a>').format(model.id, model.count)


class BatchAdmin(RecordView, model=PromocodeBatch):
    name = "Generated batch"
    name_plural = "Generated batches"
    icon = "fa-solid fa-boxes-stacked"
    column_exclude_list = [PromocodeBatch.id, PromocodeBatch.created_by]
    column_labels = {PromocodeBatch.count: "batch"}
    column_formatters = {PromocodeBatch.count: batch_cell}


VIEWS = [
    TariffAdmin,
    PromocodeAdmin,
    GroupAdmin,
    GroupMemberAdmin,
    AssignmentAdmin,
    PurchaseAdmin,
    AttemptAdmin,
    BatchAdmin,
]
