"""Operator endpoints (role operator or admin): tariffs, codes, assignments, groups.

Every operator route does the same thing: it hands the path's id (if any) and the JSON body
to one handler, run as the operator (`operator.run(handler, id, body)`). `route` writes that
once; the table below gives each route its method, path, handler, body, answer, status code
and description. A route is named after its handler, as its operationId and summary show.
"""

import inspect
import re
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from command_api.deps import Call, Handler, OperatorCall
from loyalty import handlers
from loyalty.schemas import (
    PG_INT_MAX,
    ApplyToUsersOut,
    ApplyToUsersRequest,
    AssignmentOut,
    AssignmentRequest,
    BatchOut,
    GenerateRequest,
    GroupCreate,
    GroupOut,
    MembersOut,
    MembersRequest,
    PromocodeCreate,
    PromocodeOut,
    PromocodeUpdate,
    TariffCreate,
    TariffOut,
    TariffUpdate,
)

router = APIRouter(prefix="/api/v1/loyalty", tags=["operator"])

Id = Annotated[int, Path(ge=1, le=PG_INT_MAX)]
PATH_ID = re.compile(r"{(\w+)}")


def route(
    method: str,
    path: str,
    handler: Handler[BaseModel],
    *,
    body: type[BaseModel],
    answer: type[BaseModel],
    description: str,
    status_code: int = 200,
) -> None:
    """Adds `method path` to the router: `handler(id, body)` when the path names an id such
    as `{tariff_id}` (a positive int4), else `handler(body)`, run as the operator."""
    id_names = PATH_ID.findall(path)

    async def endpoint(operator: Call, **inputs: Any) -> BaseModel:
        return await operator.run(handler, *(inputs[name] for name in id_names), inputs["body"])

    # FastAPI reads a route's inputs from its signature: here the path's id under its own
    # name, the body (`body`'s model) and the operator.
    keyword = inspect.Parameter.KEYWORD_ONLY
    endpoint.__signature__ = inspect.Signature(
        [
            *(inspect.Parameter(name, keyword, annotation=Id) for name in id_names),
            inspect.Parameter("body", keyword, annotation=body),
            inspect.Parameter("operator", keyword, annotation=OperatorCall),
        ]
    )
    router.add_api_route(
        path,
        endpoint,
        methods=[method],
        name=handler.__name__,
        response_model=answer,
        status_code=status_code,
        description=description,
    )


route(
    "POST",
    "/tariffs",
    handlers.create_tariff,
    body=TariffCreate,
    answer=TariffOut,
    description="Creates a tariff (price in kopecks).",
    status_code=201,
)
route(
    "PATCH",
    "/tariffs/{tariff_id}",
    handlers.update_tariff,
    body=TariffUpdate,
    answer=TariffOut,
    description="Changes a tariff's name, price or `is_active`.",
)

route(
    "POST",
    "/promocodes",
    handlers.create_promocode,
    body=PromocodeCreate,
    answer=PromocodeOut,
    description="Creates a promo code; the code is stored upper-case and must be unique.",
    status_code=201,
)
route(
    "PATCH",
    "/promocodes/{promocode_id}",
    handlers.update_promocode,
    body=PromocodeUpdate,
    answer=PromocodeOut,
    description=(
        "Changes the fields sent; `is_active: false` disables the code (codes are never\n"
        "deleted, so their purchases and history stay)."
    ),
)
route(
    "POST",
    "/promocodes/generate",
    handlers.generate_promocodes,
    body=GenerateRequest,
    answer=BatchOut,
    description=(
        "Generates `count` random codes with the same terms (single-use unless `max_uses` says\n"
        "otherwise): no look-alike characters, a check character, `prefix`, `pattern` (`X` per\n"
        "character, e.g. `XXXX-XXXX`) or `length`."
    ),
    status_code=201,
)
route(
    "POST",
    "/promocodes/{promocode_id}/assignments",
    handlers.assign_promocode,
    body=AssignmentRequest,
    answer=AssignmentOut,
    description="Gives the code to users and groups; answers the ids newly added.",
)
route(
    "DELETE",
    "/promocodes/{promocode_id}/assignments",
    handlers.unassign_promocode,
    body=AssignmentRequest,
    answer=AssignmentOut,
    description="Takes the code back from users and groups; answers the ids removed.",
)
route(
    "POST",
    "/promocodes/{promocode_id}/apply_to_users",
    handlers.apply_to_users,
    body=ApplyToUsersRequest,
    answer=ApplyToUsersOut,
    description=(
        "Each user gets a paid purchase at the code's price until the code runs out; the\n"
        "answer lists who got it and why the others did not. `dry_run` writes nothing."
    ),
)

route(
    "POST",
    "/groups",
    handlers.create_group,
    body=GroupCreate,
    answer=GroupOut,
    description="Creates a user group (segment).",
    status_code=201,
)
route(
    "POST",
    "/groups/{group_id}/members",
    handlers.add_group_members,
    body=MembersRequest,
    answer=MembersOut,
    description="Adds users to the group; answers the ids newly added.",
)
route(
    "DELETE",
    "/groups/{group_id}/members",
    handlers.remove_group_members,
    body=MembersRequest,
    answer=MembersOut,
    description="Removes users from the group; answers the ids removed.",
)
