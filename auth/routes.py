from fastapi import APIRouter

from auth import service
from auth.schemas import RegisteredUser, Registration

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/user_registration", status_code=201, response_model=RegisteredUser)
async def user_registration(body: Registration) -> RegisteredUser:
    """Creates an account; the loyalty side learns of it through `user.registered`."""
    user = await service.register(body.email, body.password)
    return RegisteredUser(id=user.id, email=user.email)
