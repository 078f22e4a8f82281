"""SQLAdmin screens. Reads come straight from the tables; every write goes through the same
handlers as command_api (`loyalty.handlers`), so the admin obeys the same rules and emits the
same events. Codes and tariffs are never deleted (a code is disabled); group members and
assignments are removed."""

import uuid
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ValidationError
from sqladmin import ModelView, action
from sqladmin.helpers import object_identifier_values
from starlette.requests import Request
from starlette.responses import RedirectResponse
from wtforms import SelectField
from wtforms.validators import Optional

from admin.auth import current_operator
from loyalty import handlers
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
    PromocodeUpdate,
    TariffCreate,
    TariffUpdate,
)

T = TypeVar("T", bound=BaseModel)


def validated(schema: type[T], data: dict[str, Any]) -> T:
    """The form's values as the handler's input: only the schema's fields; a blank field is
    None where the schema allows it (e.g. no end date) and the schema's default otherwise."""
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
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'form'}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(problems) from None


def actor(request: Request) -> uuid.UUID:
    return current_operator(request).user_id


class ReadOnlyView(ModelView):
    can_create = False
    can_edit = False
    can_delete = False
    can_export = True
    page_size = 50


class TariffAdmin(ModelView, model=Tariff):
    name_plural = "Tariffs"
    icon = "fa-solid fa-tags"
    column_list = [Tariff.id, Tariff.name, Tariff.price, Tariff.currency, Tariff.is_active]
    column_labels = {Tariff.price: "price, kopecks"}
    form_columns = [Tariff.name, Tariff.price, Tariff.currency, Tariff.is_active]
    can_delete = False

    async def insert_model(self, request: Request, data: dict) -> Any:
        out = await handlers.create_tariff(validated(TariffCreate, data), actor_id=actor(request))
        return Tariff(id=out.id)

    async def update_model(self, request: Request, pk: str, data: dict) -> Any:
        out = await handlers.update_tariff(
            int(pk), validated(TariffUpdate, data), actor_id=actor(request)
        )
        return Tariff(id=out.id)


class PromocodeAdmin(ModelView, model=Promocode):
    name_plural = "Promo codes"
    icon = "fa-solid fa-ticket"
    column_list = [
        Promocode.id,
        Promocode.code,
        Promocode.discount_type,
        Promocode.value,
        Promocode.uses,
        Promocode.max_uses,
        Promocode.per_user_limit,
        Promocode.valid_from,
        Promocode.valid_until,
        Promocode.audience,
        Promocode.is_active,
        Promocode.batch_id,
    ]
    column_searchable_list = [Promocode.code]
    column_sortable_list = [Promocode.id, Promocode.code, Promocode.uses, Promocode.valid_until]
    column_default_sort = (Promocode.id, True)
    column_labels = {Promocode.value: "value (%, kopecks or trial days)"}
    form_columns = [
        Promocode.code,
        Promocode.discount_type,
        Promocode.value,
        Promocode.valid_from,
        Promocode.valid_until,
        Promocode.max_uses,
        Promocode.per_user_limit,
        Promocode.tariff_ids,
        Promocode.audience,
        Promocode.is_active,
        Promocode.description,
    ]
    form_overrides = {"discount_type": SelectField, "audience": SelectField}
    form_args = {
        "discount_type": {"choices": [t.value for t in DiscountType]},
        "audience": {"choices": [a.value for a in Audience]},
        "valid_from": {"validators": [Optional()], "description": "empty: now"},
        "description": {"validators": [Optional()]},
    }
    can_delete = False  # used codes must stay; disable instead

    async def insert_model(self, request: Request, data: dict) -> Any:
        out = await handlers.create_promocode(
            validated(PromocodeCreate, data), actor_id=actor(request)
        )
        return Promocode(id=out.id)

    async def update_model(self, request: Request, pk: str, data: dict) -> Any:
        data = {k: v for k, v in data.items() if k != "code"}  # a code's text never changes
        out = await handlers.update_promocode(
            int(pk), validated(PromocodeUpdate, data), actor_id=actor(request)
        )
        return Promocode(id=out.id)

    @action("disable", "Disable", "Disable the selected codes?", add_in_detail=True)
    async def disable(self, request: Request) -> RedirectResponse:
        for pk in filter(None, request.query_params.get("pks", "").split(",")):
            await handlers.update_promocode(
                int(pk), PromocodeUpdate(is_active=False), actor_id=actor(request)
            )
        return RedirectResponse(request.url_for("admin:list", identity=self.identity), 302)


class GroupAdmin(ModelView, model=UserGroup):
    name_plural = "User groups"
    icon = "fa-solid fa-users"
    column_list = [UserGroup.id, UserGroup.name, UserGroup.description, UserGroup.created_at]
    form_columns = [UserGroup.name, UserGroup.description]
    can_edit = False
    can_delete = False

    async def insert_model(self, request: Request, data: dict) -> Any:
        out = await handlers.create_group(validated(GroupCreate, data), actor_id=actor(request))
        return UserGroup(id=out.id)


class GroupMemberAdmin(ModelView, model=GroupMember):
    name_plural = "Group members"
    icon = "fa-solid fa-user-plus"
    column_list = [GroupMember.group_id, GroupMember.user_id, GroupMember.added_at]
    form_columns = [GroupMember.group_id, GroupMember.user_id]
    can_edit = False

    async def insert_model(self, request: Request, data: dict) -> Any:
        group_id = int(data["group_id"])
        await handlers.add_group_members(
            group_id, MembersRequest(user_ids=[data["user_id"]]), actor_id=actor(request)
        )
        return GroupMember(group_id=group_id, user_id=uuid.UUID(str(data["user_id"])))

    async def delete_model(self, request: Request, pk: Any) -> None:
        group_id, user_id = object_identifier_values(pk, GroupMember)
        await handlers.remove_group_members(
            group_id, MembersRequest(user_ids=[user_id]), actor_id=actor(request)
        )


class AssignmentAdmin(ModelView, model=PromocodeAssignment):
    name_plural = "Assignments"
    icon = "fa-solid fa-link"
    column_list = [
        PromocodeAssignment.id,
        PromocodeAssignment.promocode_id,
        PromocodeAssignment.user_id,
        PromocodeAssignment.group_id,
        PromocodeAssignment.created_at,
    ]
    form_columns = [
        PromocodeAssignment.promocode_id,
        PromocodeAssignment.user_id,
        PromocodeAssignment.group_id,
    ]
    can_edit = False

    async def insert_model(self, request: Request, data: dict) -> Any:
        promocode_id = int(data["promocode_id"])
        request_body = validated(
            AssignmentRequest,
            {
                "user_ids": [data["user_id"]] if data.get("user_id") else [],
                "group_ids": [data["group_id"]] if data.get("group_id") else [],
            },
        )
        await handlers.assign_promocode(promocode_id, request_body, actor_id=actor(request))
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


class PurchaseAdmin(ReadOnlyView, model=Purchase):
    name_plural = "Purchases"
    icon = "fa-solid fa-cart-shopping"
    column_list = [
        Purchase.created_at,
        Purchase.id,
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
    column_default_sort = (Purchase.created_at, True)
    column_searchable_list = [Purchase.code]


class AttemptAdmin(ReadOnlyView, model=PromocodeAttempt):
    name = "Failed attempt"
    name_plural = "Failed attempts"
    icon = "fa-solid fa-circle-exclamation"
    column_list = [
        PromocodeAttempt.created_at,
        PromocodeAttempt.user_id,
        PromocodeAttempt.code,
        PromocodeAttempt.promocode_id,
        PromocodeAttempt.tariff_id,
        PromocodeAttempt.reason,
        PromocodeAttempt.endpoint,
    ]
    column_default_sort = (PromocodeAttempt.created_at, True)
    column_searchable_list = [PromocodeAttempt.code, PromocodeAttempt.reason]


class BatchAdmin(ReadOnlyView, model=PromocodeBatch):
    name_plural = "Generated batches"
    icon = "fa-solid fa-boxes-stacked"
    column_list = [
        PromocodeBatch.created_at,
        PromocodeBatch.id,
        PromocodeBatch.count,
        PromocodeBatch.prefix,
        PromocodeBatch.pattern,
        PromocodeBatch.length,
    ]
    column_default_sort = (PromocodeBatch.created_at, True)


class UserAdmin(ReadOnlyView, model=User):
    name_plural = "Users (ids and status)"
    icon = "fa-solid fa-user"
    column_list = [User.id, User.status, User.registered_at, User.updated_at]
    column_searchable_list = [User.status]


VIEWS = [
    TariffAdmin,
    PromocodeAdmin,
    GroupAdmin,
    GroupMemberAdmin,
    AssignmentAdmin,
    PurchaseAdmin,
    AttemptAdmin,
    BatchAdmin,
    UserAdmin,
]
