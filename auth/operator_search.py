"""Operator search of accounts by email: how the admin finds a customer by the email they
give, without the loyalty side ever storing an email.

Its own module (route, input and query) so the core auth routes stay as they are.
"""

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from auth.models import User
from auth.schemas import LookedUpUser
from auth.uow import auth_uow
from core.inputs import Text
from core.security import CurrentOperator

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class EmailSearch(BaseModel):
    email: Text = Field(min_length=3, max_length=320, description="part of an email, any case")
    limit: int = Field(default=20, ge=1, le=100)


def _contains(text: str) -> str:
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@router.post("/users/search", response_model=list[LookedUpUser])
async def search_users(body: EmailSearch, _: CurrentOperator) -> list[LookedUpUser]:
    """Operator: accounts whose email contains `email` (case-insensitive), exact match first,
    then alphabetical; at most `limit`."""
    typed = body.email.strip().lower()
    statement = (
        select(User.id, User.email, User.status)
        .where(User.email.like(_contains(typed), escape="\\"))
        .order_by((User.email != typed), User.email)
        .limit(body.limit)
    )
    async with auth_uow() as uow:
        rows = (await uow.session.execute(statement)).all()
    return [LookedUpUser(id=r.id, email=r.email, status=r.status) for r in rows]
