"""Request-level dependencies of the auth routes."""

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from core.config import get_settings
from core.security import CurrentPrincipal, Principal, bearer_token, decode_access_token


@dataclass(frozen=True)
class Session:
    """The verified caller and the refresh-token family its access token came with."""

    principal: Principal
    family_id: uuid.UUID | None


async def current_session(request: Request, principal: CurrentPrincipal) -> Session:
    # The token was verified (signature, claims, denylist) by CurrentPrincipal just before.
    claims = decode_access_token(bearer_token(request), get_settings())
    family_id = claims.get("sid")
    return Session(principal, uuid.UUID(family_id) if family_id else None)


CurrentSession = Annotated[Session, Depends(current_session)]
