import uuid

from pydantic import BaseModel, EmailStr, Field


class Registration(BaseModel):
    email: EmailStr
    password: str = Field(min_length=8, max_length=128)


class RegisteredUser(BaseModel):
    id: uuid.UUID
    email: str
