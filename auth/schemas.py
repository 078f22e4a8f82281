import uuid
from datetime import datetime

from pydantic import BaseModel, EmailStr, Field

from core.inputs import Text

# Generous bounds on what is hashed; the policy (auth.passwords) says what is acceptable.
PasswordField = Field(min_length=1, max_length=1024)


class Registration(BaseModel):
    email: EmailStr
    password: Text = PasswordField


class RegisteredUser(BaseModel):
    id: uuid.UUID
    email: str


class Credentials(BaseModel):
    email: Text = Field(min_length=1, max_length=320)
    password: Text = PasswordField


class TokenPairOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds the access token lives")


class RefreshRequest(BaseModel):
    refresh_token: Text = Field(min_length=1, max_length=512)


class DeleteRequest(BaseModel):
    password: Text = PasswordField


class Me(BaseModel):
    id: uuid.UUID
    email: str
    role: str
    status: str
    created_at: datetime


class LookupRequest(BaseModel):
    ids: list[uuid.UUID] = Field(max_length=1000)


class LookedUpUser(BaseModel):
    id: uuid.UUID
    email: str
    status: str
